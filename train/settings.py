"""Protocol settings, each declared once: its allowed values and its value under each protocol.

A protocol setting is a choice on which the paper's text and its authors' code differ
(docs/protocols.md). Its one declaration below is the config field and CLI help (`field_for`),
the validation (`check`), the protocol bundles (`bundle`, `protocol_of`), the report's provenance
and the docs table (`markdown_table`), so none of them keeps a copy that could drift.

    python -m train.settings [docs/protocols.md]   # rewrite the table between the markers
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROTOCOL_NAMES = ("text", "authors")  # the bundles; `custom` is what protocol_of says of anything else
CUSTOM = "custom"
BEGIN, END = "<!-- settings:begin -->", "<!-- settings:end -->"
PANEL = "Protocol settings (default: the protocol's; docs/protocols.md)"  # their group in `dn train --help`
DOCS = Path(__file__).resolve().parents[1] / "docs" / "protocols.md"


@dataclass(frozen=True)
class Setting:
    """One setting: `text` is the paper's text and the config default, `authors` the authors' code.

    `choices` lists the allowed values; None means true/false for a boolean, else any value.
    `help` says what it does (CLI); `doc` says what the text and the code say, and where.
    """

    name: str
    choices: tuple[Any, ...] | None
    text: Any
    authors: Any
    help: str
    doc: str

    def value(self, protocol: str) -> Any:
        if protocol not in PROTOCOL_NAMES:
            raise ValueError(f"unknown protocol {protocol!r}; choose one of: {', '.join(PROTOCOL_NAMES)}")
        return self.text if protocol == "text" else self.authors

    def problem(self, value: Any) -> str | None:
        """Why `value` is not allowed, or None."""
        if self.choices is not None and value not in self.choices:
            return f"{self.name} must be one of {', '.join(map(show, self.choices))}, got {value!r}"
        if self.choices is None and isinstance(self.text, bool) and not isinstance(value, bool):
            return f"{self.name} must be true or false, got {value!r}"
        return None

    def cli_help(self) -> str:
        values = f"text: {show(self.text)}, authors: {show(self.authors)}"
        if self.choices is None:
            return f"{self.help} ({values})"
        return f"{self.help}. One of {', '.join(map(show, self.choices))} ({values})"


SETTINGS: dict[str, Setting] = {}


def show(value: Any) -> str:
    """A value as config.json and the docs write it (booleans lower case)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def declare(name: str, *, choices: tuple[Any, ...] | None, text: Any, authors: Any, help: str, doc: str) -> Setting:
    """Register one setting; both protocols' values must be allowed by it."""
    if name in SETTINGS:
        raise ValueError(f"setting {name!r} is declared twice")
    setting = Setting(name, choices, text, authors, help, doc)
    bad = [p for p in (setting.problem(text), setting.problem(authors)) if p]
    if bad:
        raise ValueError("; ".join(bad))
    SETTINGS[name] = setting
    return setting


def field_for(name: str) -> Any:
    """The ExperimentConfig field of setting `name`: the text value as default, generated help."""
    s = SETTINGS[name]
    return dataclasses.field(default=s.text, metadata={"help": s.cli_help(), "panel": PANEL})


def add_setting_fields(cls: type) -> type:
    """Give `cls` a field for every declared setting it does not spell out, after its own.

    Use under @dataclass. Fields written in the class keep their place (a run's name hashes the
    fields in order); a setting declared later needs no line there.
    """
    have = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set()
    annotations = dict(cls.__dict__.get("__annotations__", {}))
    for s in SETTINGS.values():
        if s.name not in have and s.name not in annotations:
            annotations[s.name] = "object" if s.text is None else type(s.text).__name__
            setattr(cls, s.name, field_for(s.name))
    cls.__annotations__ = annotations
    return cls


def _get(values: Mapping[str, Any], name: str) -> Any:
    return values.get(name, SETTINGS[name].text)  # a key missing from an old config.json: the default


def bundle(protocol: str) -> dict[str, Any]:
    """Every setting's value under `protocol` (text or authors)."""
    return {name: s.value(protocol) for name, s in SETTINGS.items()}


def protocol_of(values: Mapping[str, Any]) -> str:
    """text or authors when every setting has that protocol's value, else custom."""
    for protocol in PROTOCOL_NAMES:
        if all(_get(values, name) == s.value(protocol) for name, s in SETTINGS.items()):
            return protocol
    return CUSTOM


def check(values: Mapping[str, Any]) -> list[str]:
    """One line per setting whose value is not allowed."""
    return [p for name, s in SETTINGS.items() if (p := s.problem(_get(values, name)))]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table() -> str:
    """The docs table: one row per setting, from its declaration."""
    lines = ["| setting | text | authors | choices | what it does | the paper's text, the authors' code (where) |",
             "|---|---|---|---|---|---|"]
    for s in SETTINGS.values():
        allowed = s.choices or ((True, False) if isinstance(s.text, bool) else ())
        choices = ", ".join(f"`{show(c)}`" for c in allowed) or "any"
        lines.append(f"| `{s.name}` | `{show(s.text)}` | `{show(s.authors)}` | {choices} | {_cell(s.help)} "
                     f"| {_cell(s.doc)} |")
    return "\n".join(lines)


def write_docs_table(path: str | Path = DOCS) -> bool:
    """Rewrite the table between the markers in `path`; True when the file changed."""
    path = Path(path)
    text = path.read_text()
    head, begin, rest = text.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise ValueError(f"{path} has no {BEGIN} ... {END} markers")
    new = f"{head}{BEGIN}\n{markdown_table()}\n{END}{tail}"
    if new != text:
        path.write_text(new)
    return new != text


def docs_table(path: str | Path = DOCS) -> str:
    """The table as it stands between the markers in `path`."""
    rest = Path(path).read_text().partition(BEGIN)[2]
    return rest.partition(END)[0].strip("\n")


# Line numbers (U = util_functions.py, E = experiment_run.py) are in the authors' repository
# dmanikt/lottery-ticket-distributions at commit 8e10702.
declare(
    "init", choices=("xavier_uniform", "xavier_normal", "kaiming_normal", "torch_default"),
    text="xavier_uniform", authors="torch_default",
    help="initialization of the weights θ0 (torch_default: U(±1/sqrt(fan_in)) as torch.nn.Linear/Conv2d; "
         "kaiming_normal: N(0, 2/fan_in), open_lth's ResNets)",
    doc="text: Xavier initialization (§4.1); code: torch's default, W ~ U(±1/√fan_in) (kaiming_uniform, a=√5). "
        "E:71-74, archs/mnist/fc1.py:8-14, archs/cifar10/LeNet5.py:8-12")
declare(
    "bias_init", choices=("zeros", "torch_default"), text="zeros", authors="torch_default",
    help="initialization of the biases (torch_default: U(±1/sqrt(fan_in)) as torch.nn.Linear/Conv2d)",
    doc="text: not stated; code: torch's default, b ~ U(±1/√fan_in). "
        "E:71-74, archs/mnist/fc1.py:8-14, archs/cifar10/LeNet5.py:8-12")
declare(
    "prune_scope", choices=("global", "layerwise"), text="global", authors="layerwise",
    help="magnitude pruning over all weights at once, or each weight tensor on its own",
    doc="text: \"remove s% of non-pruned parameters\" (Alg. 1), scope not stated; code: each weight tensor on "
        "its own (output layer included; biases never). U:51-58, U:66-74")
declare(
    "prune_rule", choices=("rank", "percentile"), text="rank", authors="percentile",
    help="rank: drop the round(s·k) smallest; percentile: drop |w| < np.percentile(|w|, 100·s)",
    doc="text: s = 20% per round; code: drop `|w| < np.percentile(|w_alive|, 20)` (linear interpolation; "
        "ties survive: ceil(0.2(k-1)) of k go). U:70-73")
declare(
    "prune_optimizer", choices=("fresh", "shared"), text="fresh", authors="shared",
    help="a fresh optimizer (the paper's Adam, or --optimizer) each pruning round, or one shared across rounds "
         "(pruned weights then drift)",
    doc="text: Adam (§4.1), reset not stated; code: one Adam for all 10 rounds: moments and step carry over, "
        "so weights pruned in round r drift off zero during round r+1 (masked gradient, stale momentum). "
        "E:135, E:143, U:43-47")
declare(
    "rewind_biases", choices=None, text=True, authors=False,
    help="rewind biases with the weights; false: biases carry over rounds and condition runs",
    doc="text: \"reinitialize θ = θ0\" (Alg. 1); code: only weights are rewound; biases carry through the rounds "
        "and then through the condition runs, in the order full, pruned-26, reinit-26, remask-26, pruned-10, "
        "reinit-10, remask-10. U:87-110, U:141, E:149-185")
declare(
    "dn_pool", choices=("theta_lt", "trained"), text="theta_lt", authors="trained",
    help="what reinit-style conditions draw from: θ_LT, or the ticket's trained weights",
    doc="text: D_n sampled \"uniformly at random from θ_LT\" (§2); code: reinit/remask draw from the round's "
        "**trained** weights at the new mask (θ' ⊙ m_n), pooled over layers. U:94-110, U:134-138, E:159")
declare(
    "normalization", choices=("dataset", "mnist", "pixel-centered", "double-centered"), text="dataset",
    authors="mnist",
    help="input normalization: dataset (per-channel train statistics), mnist (MNIST's 0.1307/0.3081 for every "
         "dataset), pixel-centered or double-centered (studies/sign_experiment.py)",
    doc="text: not stated; code: MNIST's mean/std (0.1307, 0.3081) for CIFAR-10 too. E:43, E:50-51")
declare(
    "test_drop_last", choices=None, text=False, authors=True,
    help="evaluate only full test batches but divide by the whole test set",
    doc="text: \"test accuracy\"; code: the test loader drops the last partial batch (9216 of 10000 images at "
        "batch 1024) but divides by 10000: accuracy tops out at 0.9216. E:67-68, U:9-26")
declare(
    "train_loss", choices=("running", "pass"), text="running", authors="pass",
    help="running (mean over the epoch's minibatches) or pass (a separate pass after the epoch)",
    doc="text: \"train loss\"; code: a separate pass over the whole train set after each epoch. "
        "U:9-26, E:105-113")
declare(
    "eval_epoch_zero", choices=None, text=False, authors=True,
    help="evaluate every condition before training (epoch 0)",
    doc="text: —; code: every condition run is also evaluated before training (epoch 0). E:105-108")


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS
    print(f"{target}: {'rewritten' if write_docs_table(target) else 'already up to date'}")
