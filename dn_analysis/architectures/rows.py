"""One row per experiment of the given runs: what the no-drift model predicts, and what was measured.

``architecture_rows`` is what `dn analyze architectures` writes to architectures.csv and what a
report calls; ``pair_rows`` compares architectures pruned the same way (same init, scope, rates,
round), the direct form of the question "is D_n the same across architectures?".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dn_analysis.architectures.measure import Standardized, measure, pair_distance
from dn_analysis.architectures.predict import Prediction, layer_rates, predict, pruning_scope
from dn_analysis.model.evaluate import N_DRAWS, TARGETS, noise_floor
from dn_analysis.views import VIEWS, theta_lt_view
from results.errors import DnError

SAME = TARGETS["held-out"]  # "as close as two networks": within this many noise floors (the held-out target)

COLUMNS = [
    "experiment", "label", "run", "architecture", "dataset", "protocol", "init", "scope", "rates", "round", "trials",
    "density_predicted", "density_measured", "survivors_predicted",
    "shelves_raw", "edges_raw", "tolerance_raw", "shelves_std", "edges_std", "tolerance_std",
    "modes_predicted_raw", "modes_measured_raw", "modes_measured_raw_trials", "modes_n_defined_raw",
    "modes_predicted_std", "modes_measured_std", "modes_measured_std_trials", "modes_n_defined_std",
    "ks_pred_raw", "ks_pred_raw_trials", "ks_pred_std", "ks_pred_std_trials",
    "ks_dn_raw", "ks_dn_std", "ks_dn_std_trials", "dn_note",
    "noise_floor_raw", "noise_floor_std", "ratio_pred_raw", "ratio_pred_std", "ratio_dn_raw", "ratio_dn_std",
]
PAIR_COLUMNS = ["a", "b", "protocol", "init", "scope", "rates", "round", "ks_predicted_std", "ks_measured_std",
                "noise_floor_std", "ratio_predicted", "ratio_measured", "same_predicted", "same_measured"]


@dataclass
class Entry:
    """One experiment of one run, read once: its settings, round and prediction."""

    exp: Any
    run: Path
    round: int
    prediction: Prediction

    @property
    def config(self) -> Mapping:
        return self.exp.config

    @property
    def label(self) -> str:
        """The experiment and its run folder: two runs may hold the same experiment."""
        return f"{self.exp.name} ({self.run.name})"

    def rates_text(self) -> str:
        rates = self.prediction.rates
        values = set(rates.values())
        return f"{values.pop():g}" if len(values) == 1 else " ".join(f"{n}={r:g}" for n, r in rates.items())


def entries(runs: Sequence[str | Path], round: int | None = None) -> list[Entry]:
    """Every experiment with tickets in `runs`, at `round` (default: each one's last round)."""
    from results import open_run

    out = []
    for run_dir in runs:
        run_dir = Path(run_dir)
        if not run_dir.is_dir():
            raise DnError(f"--runs {run_dir} is not a folder; give a results folder of `dn train`")
        run = open_run(run_dir)
        names = [n for n in run.experiments if run.experiment(n).trials]
        if not names:
            raise DnError(f"{run_dir} has no tickets (no experiment with tickets/trial*.npz); run `dn train` first")
        for name in names:
            exp = run.experiment(name)
            rounds = [r for r in exp.rounds if r > 0]
            r = max(rounds) if round is None and rounds else round
            if r is None or r not in exp.rounds:
                raise DnError(f"{name} in {run_dir} has no round {round} (rounds: "
                              f"{', '.join(map(str, exp.rounds))}); give --round one of them")
            cfg, layers = exp.config, exp.layers
            try:
                rates = layer_rates(cfg, layers)
            except ValueError as err:
                raise DnError(f"{name} in {run_dir}: {err}") from err
            out.append(Entry(exp, run_dir, r, predict(layers, str(cfg["init"]), rates, pruning_scope(cfg), r)))
    return out


def _edges(pred: Prediction, view: str) -> str:
    return "; ".join(s.describe() for s in pred.shelves[view])


def _row(e: Entry, model_settings: Mapping | None, n_draws: int) -> dict[str, Any]:
    p, cfg = e.prediction, e.config
    row: dict[str, Any] = {
        "experiment": e.exp.name, "label": e.label, "run": str(e.run), "architecture": cfg.get("model", ""),
        "dataset": cfg.get("dataset", ""), "protocol": cfg.get("protocol", "text"), "init": cfg["init"],
        "scope": p.scope, "rates": e.rates_text(), "round": e.round, "density_predicted": p.density,
        "survivors_predicted": p.survivors}
    for view in VIEWS:
        key = "std" if view == "standardized" else "raw"
        row.update({f"shelves_{key}": len(p.shelves[view]), f"edges_{key}": _edges(p, view),
                    f"tolerance_{key}": p.tolerance[view], f"modes_predicted_{key}": p.modes[view]})
    row.update(measure(e.exp, e.round, p, model_settings, n_draws))
    return {c: row.get(c, "") for c in COLUMNS}


def architecture_rows(runs: Sequence[str | Path], round: int | None = None,
                      model_settings: Mapping | None = None, fit_model: bool = True,
                      n_draws: int = N_DRAWS) -> list[dict[str, Any]]:
    """One row (COLUMNS) per experiment of `runs` at `round` (default each one's last).

    `model_settings` are DnModel's hyperparameters (default DnModel()'s); `fit_model=False`
    skips DnModel (its cells then say so). Bad input raises DnError in one line.
    """
    settings = (dict(model_settings or {}) if fit_model else None)
    return [_row(e, settings, n_draws) for e in entries(runs, round)]


def _setting(e: Entry) -> str:
    """The rates as the run states them: per kind (conv=0.1,fc=0.2) compares across architectures
    whose layers have other names."""
    return str(e.config.get("prune_rates") or f"{float(e.config['prune_rate']):g}")


def _protocol_key(e: Entry) -> tuple:
    return (str(e.config["init"]), e.prediction.scope, _setting(e), e.round)


def pair_rows(items: Sequence[Entry]) -> list[dict[str, Any]]:
    """Architectures pruned the same way, two by two, in init-std units: predicted and measured KS.

    The predicted KS is sup |F_a - F_b| of the two predictions on a fine grid; the measured one is
    the median KS between a trial of one and a trial of the other; both are read against the
    larger of the two noise floors. "same" is within SAME noise floors.
    """
    out = []
    xs = {}
    for i, a in enumerate(items):
        for b in items[i + 1:]:
            if _protocol_key(a) != _protocol_key(b) or a.config.get("model") == b.config.get("model"):
                continue
            for e in (a, b):
                if id(e) not in xs:
                    xs[id(e)] = [theta_lt_view(e.exp, t, e.round, "standardized") for t in e.exp.trials]
            top = max(max(abs(s.outer) if math.isfinite(s.outer) else s.inner + 8.0 for s in e.prediction.shelves[
                "standardized"]) for e in (a, b))
            grid = np.linspace(-1.001 * top, 1.001 * top, 200_001)
            predicted = float(np.max(np.abs(a.prediction.cdf(grid) - b.prediction.cdf(grid))))
            measured = pair_distance(xs[id(a)], xs[id(b)])
            floors = [noise_floor(Standardized(e.exp), e.round) for e in (a, b) if len(e.exp.trials) >= 2]
            floor = max(floors) if floors else float("nan")
            ratio_p, ratio_m = predicted / floor, measured / floor
            out.append({"a": a.label, "b": b.label, "protocol": a.config.get("protocol", "text"),
                        "init": a.config["init"], "scope": a.prediction.scope, "rates": _setting(a),
                        "round": a.round, "ks_predicted_std": predicted, "ks_measured_std": measured,
                        "noise_floor_std": floor, "ratio_predicted": ratio_p, "ratio_measured": ratio_m,
                        "same_predicted": bool(ratio_p <= SAME), "same_measured": bool(ratio_m <= SAME)})
    return out


def analyze(runs: Sequence[str | Path], round: int | None = None, model_settings: Mapping | None = None,
            fit_model: bool = True, n_draws: int = N_DRAWS) -> tuple[list[dict], list[dict]]:
    """(architecture rows, pair rows) of `runs`, each experiment read once."""
    items = entries(runs, round)
    settings = (dict(model_settings or {}) if fit_model else None)
    return [_row(e, settings, n_draws) for e in items], pair_rows(items)
