"""Load one or more results folders for the report, and say what is missing or shorter."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dn_analysis.naming import display_path, experiment_keys
from results.errors import DnError
from results.labels import Label, experiment_of, round_density
from results.summary import curves, summarize
from train import open_run


@dataclass
class ExperimentStatus:
    """What one experiment of a run has: the conditions trained, epochs per condition, what is missing."""

    run: object
    name: str
    config: dict
    rows: list[dict]
    summary: list[dict]
    epochs_done: dict[str, int]  # condition -> epochs with every trial present
    trials_done: dict[str, int]
    expected_conditions: list[str]
    has_tickets: bool
    pruning_complete: bool
    key: str = ""            # distinct name across the report's runs (= analysis.json's experiment)
    run_name: str = ""       # the run folder as the report prints it (never an absolute path)
    preset: str = "paper"
    data: dict = field(default_factory=dict)  # config.json data[dataset]: train/test sizes, sha256

    @property
    def protocol(self) -> str:
        return str(self.config.get("protocol", "text"))

    @property
    def label(self) -> str:
        """How the report names the experiment: its key (with the protocol when two runs share the name)."""
        return self.key or self.name

    @property
    def trials(self) -> int:
        return int(self.config["trials"])

    @property
    def model(self) -> str:
        return self.config["model"]

    @property
    def epochs(self) -> int:
        return int(self.config["epochs"])

    @property
    def missing_conditions(self) -> list[str]:
        return [c for c in self.expected_conditions if c not in self.epochs_done]

    @property
    def short_conditions(self) -> dict[str, int]:
        """Conditions with fewer epochs (or trials) than configured: condition -> epochs done."""
        return {c: e for c, e in self.epochs_done.items()
                if e < self.epochs or self.trials_done.get(c, 0) < int(self.config["trials"])}

    @property
    def complete(self) -> bool:
        return self.pruning_complete and not self.missing_conditions and not self.short_conditions


@dataclass
class RunInfo:
    path: Path
    run: object
    config: dict
    experiments: list[ExperimentStatus] = field(default_factory=list)

    @property
    def is_complete(self) -> bool:
        try:
            return bool(self.run.is_complete)
        except (DnError, OSError, ValueError):
            return False


def expected_conditions(exp: dict) -> list[str]:
    """Condition labels the config asks for: the dense ones, then per ticket round in config order."""
    from train.conditions import CONDITIONS

    def per_ticket(c: str) -> bool:
        return CONDITIONS[c].uses_ticket if c in CONDITIONS else c != "full"

    out = [c for c in exp["conditions"] if not per_ticket(c)]
    for r in sorted(exp["ticket_rounds"]):
        density = round_density(exp, r)
        out += [Label(c, r).text(density) for c in exp["conditions"] if per_ticket(c)]
    return out


def _check_folder(path: Path) -> None:
    if path.is_file():
        raise DnError(f"--runs {path} is a file, not a folder; pass a results folder of `dn train`")
    if not path.is_dir():
        raise DnError(f"{path} is not a folder; pass a results folder of `dn train` with --runs")


def load_run(path: str | Path, keys: dict[str, str] | None = None) -> RunInfo:
    path = Path(path)
    _check_folder(path)
    run = open_run(path)
    try:
        rows = run.metrics()  # damaged or deleted: rebuilt from the done/ markers, or named with its fix
    except DnError:
        raise
    except Exception as err:  # rows that do not make a table (not written by dn)
        raise DnError(f"{path / 'metrics.csv'} could not be read: {err}") from err
    info = RunInfo(path=path, run=run, config=run.config)
    for exp in run.config.get("experiments", []):
        name = experiment_of(exp)
        mine = [r for r in rows if r["experiment"] == name]
        acc = curves(mine, "test_acc") if mine else {}
        epochs_done = {cond: int((ep >= 1).sum()) for (_, cond), (ep, _) in acc.items() if len(ep)}
        trials_done = {cond: int(v.shape[0]) for (_, cond), (ep, v) in acc.items() if len(ep)}
        summary = [s for s in summarize(mine) if s["condition"] in epochs_done] if mine else []
        order = expected_conditions(exp)
        summary.sort(key=lambda s: order.index(s["condition"]) if s["condition"] in order else 99)
        exp_dir = path / name
        info.experiments.append(ExperimentStatus(
            run=run, name=name, config=exp, rows=mine, summary=summary, epochs_done=epochs_done,
            trials_done=trials_done, expected_conditions=order,
            has_tickets=(exp_dir / "tickets").exists() and any((exp_dir / "tickets").glob("trial*.npz")),
            pruning_complete=(exp_dir / "done" / "pruning.json").exists(),
            key=(keys or {}).get(name, name), run_name=display_path(path),
            preset=str(run.config.get("preset", "paper")), data=run.config.get("data", {}).get(exp["dataset"], {}),
        ))
    return info


def load_runs(paths: list[Path]) -> list[RunInfo]:
    """Every run; an experiment in several runs (e.g. one per protocol) gets a distinct key."""
    if not paths:
        raise DnError("no results folder given; pass one or more with --runs DIR")
    paths = [Path(p) for p in paths]
    if len({p.resolve() for p in paths}) < len(paths):
        raise DnError("a results folder is given twice with --runs; pass each once")
    entries = []
    for p in paths:
        _check_folder(p)
        config = open_run(p).config
        entries += [(p, experiment_of(e), e) for e in config.get("experiments", [])]
    keys = experiment_keys(entries)
    per_run: dict[Path, dict[str, str]] = {}
    for (p, name, _), key in zip(entries, keys, strict=True):
        per_run.setdefault(p, {})[name] = key
    return [load_run(p, per_run.get(p, {})) for p in paths]


def status_lines(infos: list[RunInfo]) -> list[str]:
    """Plain sentences on what is missing, still training or shorter than the paper."""
    from reports.paper import PAPER_TABLES
    from train.config import PAPER_EXPERIMENTS

    lines = []
    for info in infos:
        for e in info.experiments:
            where = f"{e.label} ({e.run_name})"
            if not e.has_tickets:
                lines.append(f"{where}: not trained yet (no tickets); its table, curves and D_n are missing.")
                continue
            if not e.pruning_complete:
                lines.append(f"{where}: iterative pruning is not finished; D_n uses the masks stored so far.")
            if not e.rows and "imported" in info.config:
                lines.append(f"{where}: imported from {info.config['imported'].get('format', 'another tool')}: no condition "
                             "was trained here, so its table and curves are absent (`dn train --tickets` trains them).")
            elif not e.rows:
                lines.append(f"{where}: no condition has metrics yet (training still going or not started); its table and curves are missing.")
            elif e.missing_conditions:
                lines.append(f"{where}: conditions without metrics: {', '.join(e.missing_conditions)}.")
            for cond, ep in e.short_conditions.items():
                lines.append(f"{where}: {cond} has {ep} of {e.epochs} configured epochs with {e.trials_done[cond]} of {e.config['trials']} trials (training still going or stopped).")
            paper = PAPER_TABLES.get(e.model)
            if paper and e.name in PAPER_EXPERIMENTS and e.epochs < paper[2]:
                lines.append(f"{where}: every condition is configured for {e.epochs} epochs, not the paper's {paper[2]}; "
                             f"all its curves are shorter than the paper's and its maxima/minima are over {e.epochs} epochs only.")
    return lines
