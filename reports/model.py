"""DnModel in the report: its distance to held-out θ_LT beside the run's own noise floor.

Read from what `dn analyze model --runs RUN` wrote into ``RUN/analysis/model/`` (model-distances.json);
the report never fits the model itself. The per-trial KS values give a 95% t interval over the
held-out trials, the noise floor is the median KS between two trials of the run.
Beside DnModel the table shows the other predictors of dn_analysis.model.evaluate (the fit trial's
own ticket, DnModel without persistent drift, SoftThresholdDn) and DnModel's ratio over refits on
another trial; the finding claims "within target" only where the refits are within it too.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
from scipy import stats

from reports import fmt
from reports.doc import Table
from reports.runs import ExperimentStatus
from results.store import read_json

MODEL_DIR = Path("analysis") / "model"


def model_dir(exp: ExperimentStatus) -> Path:
    return Path(exp.run.path) / MODEL_DIR


def _distances(path: Path) -> tuple[dict, ...]:
    """model-distances.json, read once per version of the file (the table, figures and finding all use it)."""
    return _read(path, path.stat().st_mtime_ns) if path.exists() else ()


@cache
def _read(path: Path, mtime_ns: int) -> tuple[dict, ...]:
    return tuple(read_json(path))


DN = "DnModel"  # the model column's value for DnModel itself (dn_analysis.model.evaluate.DN)


def model_rows(exp: ExperimentStatus) -> list[dict]:
    """The pooled ("all" layers) rows of this experiment's model-distances.json, with a t interval.

    Rows written before the table had a model column are DnModel's.
    """
    rows = [dict(r) for r in _distances(model_dir(exp) / "model-distances.json")
            if r.get("experiment") == exp.name and r.get("layer") == "all"]
    for r in rows:
        r.setdefault("model", DN)
        r["note"] = r.get("note") or ""
        ks = np.array([float(v) for v in str(r.get("ks_per_trial") or "").split()])
        r["n_test"] = int(ks.size)
        if not ks.size:
            continue
        r["ks_mean"] = float(ks.mean())
        if ks.size > 1:
            half = stats.t.ppf(0.975, ks.size - 1) * ks.std(ddof=1) / np.sqrt(ks.size)
            r["ci_low"], r["ci_high"] = r["ks_mean"] - half, r["ks_mean"] + half
    return rows


def _num(v: float | None, spec: str) -> str:
    return format(v, spec) if fmt.finite(v) else "n/a"


def _refit(r: dict) -> str:
    """'1.48-2.10' over the fit and its refits, or '' where no refit was measured (the trials
    refitted on are in the analysis' model-distances.csv; the table keeps one line per row)."""
    if not r.get("refit_trials"):
        return ""
    return f"{r['ratio_min']:.2f}-{r['ratio_max']:.2f}"


def _within(r: dict) -> str:
    if not r["ok"]:
        return "no"
    return "no (refit)" if r.get("refit_trials") and not r.get("ok_refits", True) else "yes"


def model_table(exps: list[ExperimentStatus], caption: str) -> Table | None:
    rows = []
    for e in exps:
        for r in model_rows(e):
            head = [e.label, r["model"], r["fit"], f"{r['fit_rounds']}", fmt.pct(r["density"])]
            if r["note"]:
                rows.append(head + [r["note"]] + [""] * 8)
                continue
            rows.append(head + [f"{r['ks_median']:.4f}",
                                fmt.interval(r["ks_mean"], r.get("ci_low"), r.get("ci_high"), 1, 4, False),
                                f"{r['noise_floor']:.4f}", f"{r['ratio']:.2f}", _refit(r), f"{r['target']:.0f}",
                                _within(r), _num(r.get("threshold_model_ks"), ".3f")])
    if not rows:
        return None
    return Table(["Experiment", "Model", "Fit", "Rounds seen", "Density", "Median KS", "Mean KS [95%]", "Noise floor",
                  "Ratio (median / floor)", "Ratio over fit and refit", "Target", "Within", "Layer-threshold KS"], rows,
                 caption=caption)


def _span(values: list[float]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo:.1f}x" if f"{lo:.1f}" == f"{hi:.1f}" else f"{lo:.1f}-{hi:.1f}x"


def model_sentence(exps: list[ExperimentStatus], where: str) -> str | None:
    """One finding: how far DnModel's held-out and extrapolated predictions are from θ_LT, beside the
    other predictors of the table, and whether the claim survives DnModel's refit spread."""
    parts, misses, base, notes = [], [], [], []
    refits: list[float] = []
    ks: list[float] = []
    others: dict[str, list[float]] = {}
    for e in exps:
        for r in model_rows(e):
            if r["note"]:
                notes.append(f"{e.label}: {r['note']}")
                continue
            if r["model"] != DN:
                others.setdefault(r["model"], []).append(r["ratio"])
                continue
            parts.append(f"{e.label} {fmt.pct(r['density'])} {r['fit']} {r['ratio']:.1f}x")
            ks.append(r["ks_median"])
            if not r["ok"]:
                misses.append(f"{e.label} {fmt.pct(r['density'])} {r['fit']} ({r['ratio']:.1f}x, target "
                              f"{r['target']:.0f}x)")
            if r.get("refit_trials"):
                refits += [r["ratio_min"], r["ratio_max"]]
                if r["ok"] and not r.get("ok_refits", True):
                    misses.append(f"{e.label} {fmt.pct(r['density'])} {r['fit']} refitted on trial {r['refit_trials']} "
                                  f"({r['ratio_max']:.1f}x, target {r['target']:.0f}x)")
            if fmt.finite(r.get("threshold_model_ks")):
                base.append(r["threshold_model_ks"])
    if not parts and not others and not notes:
        return None
    text = ""
    if parts:
        text = ("DnModel, a per-layer law of how training moves each weight between rewinds iterated through the "
                f"pruning rounds and fit on one trial, predicts the other trials' θ_LT at a median KS of "
                f"{min(ks):.3f} to {max(ks):.3f}, that is {fmt.join(parts)} the run's trial-to-trial KS")
        if refits:
            text += f"; refitted on another trial its ratio ranges over {_span(refits)}"
        if base:
            text += f"; the layer-threshold model (no noise) is at KS {min(base):.3f} to {max(base):.3f}"
        if misses:
            text += f"; outside the target ratio: {fmt.join(misses)}"
        elif refits:
            text += "; every cell is within its target ratio, refits included"
        else:
            text += "; every cell is within its target ratio for this one fit (its refit spread was not measured)"
    if others:
        compared = fmt.join([f"{name} at {_span(v)}" for name, v in others.items()])
        text += ("; " if text else "") + f"against the same noise floor: {compared}"
    if notes:
        text += ("; " if text else "") + fmt.join(sorted(set(notes)))
    return text[0].upper() + text[1:] + f" ({where})."
