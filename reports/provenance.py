"""Provenance: what was run, on what data, with which code and machine, and what is missing."""

from __future__ import annotations

import dataclasses
from importlib import metadata

from reports import fmt
from reports.doc import Block, Bullets, Heading, Table
from reports.runs import ExperimentStatus, RunInfo, status_lines
from train import settings
from train.config import ExperimentConfig

LIBS = ("torch", "numpy", "scipy", "matplotlib", "fpdf2", "pypdf", "scikit-learn", "diptest", "typer")
# config fields the report shows elsewhere (the experiment's name; conditions as a count) or that
# only the fitted condition reads
SHOWN_ELSEWHERE = ("model", "dataset", "conditions", "fitted_sampler")


def setting_keys() -> list[str]:
    """The config.json keys listed as settings after the protocol: the run's sizes, every protocol setting.

    Read from ExperimentConfig and train.settings when called, so a new field or setting is listed
    without a copy here.
    """
    sizes = [f.name for f in dataclasses.fields(ExperimentConfig)
             if f.name not in SHOWN_ELSEWHERE and f.name != "protocol" and f.name not in settings.SETTINGS]
    return [*sizes, *settings.SETTINGS]


def versions() -> list[str]:
    out = []
    for lib in LIBS:
        try:
            out.append(f"{lib} {metadata.version(lib)}")
        except metadata.PackageNotFoundError:
            continue
    return out


def _cell(v: object) -> str:
    if isinstance(v, list | tuple):
        return ",".join(str(x) for x in v)
    return "-" if v is None else str(v)


def run_line(info: RunInfo) -> str:
    c = info.config
    engine = c.get("engine", {})
    wall = c.get("wall_time_s", {})
    exps = ", ".join(f"{e.label} ({e.name}: {e.data.get('train', '?')} train / {e.data.get('test', '?')} test "
                     f"images of {e.config['dataset']})" for e in info.experiments)
    minutes = ", ".join(f"{k} {v / 60:.1f} min" for k, v in wall.items()) or "not recorded"
    vers = ", ".join(f"{k} {v}" for k, v in c.get("versions", {}).items() if k != "platform")
    return (f"`{info.experiments[0].run_name if info.experiments else info.path.name}`: {exps}; preset "
            f"{c.get('preset', '?')}, seed {c.get('seed')}; device {engine.get('device', '?')} "
            f"({engine.get('device_name', '?')}, {engine.get('threads', '?')} threads, stack {engine.get('stack_size', '?')}); "
            f"wall time {minutes}; complete: {'yes' if info.is_complete else 'no'}; trained with {vers}.")


def _settings(e: ExperimentStatus) -> dict[str, str]:
    """The experiment's settings as cells; `protocol` as its settings' values say (text, authors or custom)."""
    out = {"protocol": settings.protocol_of(e.config)}
    out.update({k: _cell(e.config[k]) for k in setting_keys() if k in e.config})
    out["conditions"] = str(len(e.config.get("conditions", [])))
    return out


def shared_settings(exps: list[ExperimentStatus]) -> str:
    """The settings every experiment shares, as one line."""
    values = [_settings(e) for e in exps]
    same = [k for k in values[0] if all(v.get(k) == values[0][k] for v in values)]
    return "Settings shared by every experiment (config.json): " + ", ".join(f"{k} {values[0][k]}" for k in same) + "."


def settings_table(exps: list[ExperimentStatus], caption: str) -> Table | None:
    """The settings in which the experiments differ (None when they share all)."""
    values = [_settings(e) for e in exps]
    keys = [k for k in values[0] if any(v.get(k) != values[0][k] for v in values)]
    if not keys:
        return None
    return Table(["Setting"] + [e.label for e in exps], [[k] + [v.get(k, "-") for v in values] for k in keys],
                 caption=caption)


def checksums_table(infos: list[RunInfo], caption: str) -> Table | None:
    rows = {}
    for info in infos:
        for ds, d in info.config.get("data", {}).items():
            for f, h in d.get("sha256", {}).items():
                rows[(ds, f)] = [ds, f, h]
    return Table(["Dataset", "File", "sha256"], list(rows.values()), caption=caption) if rows else None


def provenance(infos: list[RunInfo], exps: list[ExperimentStatus], analysis_note: str, number) -> list[Block]:
    """The Provenance section; `number(key, kind, caption)` numbers its tables."""
    blocks: list[Block] = [Heading("Provenance", 3), Bullets([run_line(i) for i in infos] + [analysis_note])]
    # runs shorter than the paper's are a limitation, said once under Limitations (reports.limits)
    missing = [m for m in status_lines(infos) if "not the paper's" not in m]
    blocks.append(Bullets(["What is missing or shorter: " + m for m in missing] if missing else
                          ["Completeness: every configured experiment and condition has its metrics."]))
    with_cfg = [e for e in exps if e.config]
    if with_cfg:
        blocks.append(Bullets([shared_settings(with_cfg)]))
        if len(with_cfg) > 1 and any(_settings(e) != _settings(with_cfg[0]) for e in with_cfg):
            blocks.append(settings_table(with_cfg, number("settings", "table", "Settings in which the experiments differ.")))
    sums = checksums_table(infos, number("sha", "table", "Data files and their sha256."))
    if sums:
        blocks.append(sums)
    blocks.append(Bullets([f"Libraries at report time: {fmt.join(versions())}."]))
    return blocks
