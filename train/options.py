"""Turn a config dataclass into Typer options, so the CLI always matches the hyperparameters.

Each field becomes `--field-name` with the field's help text (a protocol setting's, with its
choices, comes from its declaration in train/settings.py); its default is None, meaning "the
preset's value", so presets and flags compose.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable

import typer

PANEL = "Experiment settings (default: the preset's)"  # a field's metadata "panel" names another group


def _option_type(annotation: object) -> object:
    text = str(annotation)
    if "tuple[int" in text:
        return list[int]
    if "tuple[str" in text:
        return list[str]
    if text.split("|")[0].strip() in ("bool", "<class 'bool'>"):
        return bool
    for kind in (int, float, str):
        if kind.__name__ in text.split("|")[0]:
            return kind
    return str


def dataclass_options(cls: type) -> list[inspect.Parameter]:
    """One keyword-only Typer parameter per dataclass field, defaulting to None."""
    hints = typing.get_type_hints(cls)
    params = []
    for f in dataclasses.fields(cls):
        kind = _option_type(hints[f.name])
        flag = "--" + f.name.replace("_", "-")
        if kind is bool:
            flag = f"{flag}/--no-{flag[2:]}"
        params.append(inspect.Parameter(
            f.name, inspect.Parameter.KEYWORD_ONLY,
            default=typer.Option(None, flag, help=f.metadata.get("help", ""),
                                 rich_help_panel=f.metadata.get("panel", PANEL)),
            annotation=typing.Optional[kind],  # noqa: UP045 (typer needs Optional at runtime)
        ))
    return params


def with_dataclass_options(cls: type, target: Callable) -> Callable:
    """Wrap `target(**kwargs, overrides=dict)` so Typer shows `cls`'s fields as options."""
    field_names = {f.name for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(target)  # resolve string annotations for Typer
    own = [p.replace(annotation=hints.get(p.name, p.annotation))
           for p in inspect.signature(target).parameters.values() if p.name != "overrides"]

    def command(**kwargs):
        overrides = {k: kwargs.pop(k) for k in list(kwargs) if k in field_names}
        for key in ("ticket_rounds", "conditions"):
            if overrides.get(key):
                overrides[key] = tuple(overrides[key])
            elif key in overrides:
                overrides[key] = None
        return target(**kwargs, overrides=overrides)

    command.__signature__ = inspect.Signature(own + dataclass_options(cls))
    command.__doc__ = target.__doc__
    command.__name__ = target.__name__
    return command
