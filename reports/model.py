"""DnModel in the report: its distance to held-out θ_LT beside the run's own noise floor.

Read from what `dn analyze model --runs RUN` wrote into ``RUN/analysis/model/`` (model-distances.json
and the figure); the report never fits the model itself. The per-trial KS values give a 95% t
interval over the held-out trials, the noise floor is the median KS between two trials of the run.
"""

from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path

import numpy as np
from scipy import stats

from reports import fmt
from reports.doc import Image, Table
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


def model_rows(exp: ExperimentStatus) -> list[dict]:
    """The pooled ("all" layers) rows of this experiment's model-distances.json, with a t interval."""
    rows = [dict(r) for r in _distances(model_dir(exp) / "model-distances.json")
            if r.get("experiment") == exp.name and r.get("layer") == "all"]
    for r in rows:
        ks = np.array([float(v) for v in str(r["ks_per_trial"]).split()])
        r["ks_mean"] = float(ks.mean())
        if ks.size > 1:
            half = stats.t.ppf(0.975, ks.size - 1) * ks.std(ddof=1) / np.sqrt(ks.size)
            r["ci_low"], r["ci_high"] = r["ks_mean"] - half, r["ks_mean"] + half
        r["n_test"] = int(ks.size)
    return rows


def model_table(exps: list[ExperimentStatus], caption: str) -> Table | None:
    rows = []
    for e in exps:
        for r in model_rows(e):
            rows.append([e.label, r["fit"], f"{r['fit_rounds']}", fmt.pct(r["density"]), f"{r['ks_median']:.4f}",
                         fmt.interval(r["ks_mean"], r.get("ci_low"), r.get("ci_high"), 1, 4, False),
                         f"{r['noise_floor']:.4f}", f"{r['ratio']:.2f}", f"{r['target']:.0f}",
                         "yes" if r["ok"] else "no", f"{r['threshold_model_ks']:.3f}"])
    if not rows:
        return None
    return Table(["Experiment", "Fit", "Rounds seen", "Density", "Median KS", "Mean KS [95%]", "Noise floor",
                  "Ratio (median / floor)", "Target", "Within", "Layer-threshold KS"], rows, caption=caption)


def model_figures(exps: list[ExperimentStatus], figs: Path) -> list[tuple[str, str]]:
    """Copy each experiment's DnModel figure into the report: [(relative path, experiment label)]."""
    out = []
    for e in exps:
        src = model_dir(e) / f"{e.name}-model.png"
        if src.exists() and model_rows(e):
            figs.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, figs / f"model-{e.key}.png")
            out.append((f"figures/model-{e.key}.png", e.label))
    return out


def model_images(exps: list[ExperimentStatus], figs: Path, number) -> list[Image]:
    return [Image(path, number(f"fig:model:{i}", "figure", f"{label}: θ_LT of held-out trials per layer with "
                                                         "DnModel's density (fit on trial 0)."))
            for i, (path, label) in enumerate(model_figures(exps, figs))]


def model_sentence(exps: list[ExperimentStatus], where: str) -> str | None:
    """One finding: how far DnModel's held-out and extrapolated predictions are from θ_LT."""
    parts, misses, base = [], [], []
    for e in exps:
        for r in model_rows(e):
            text = (f"{e.label} {fmt.pct(r['density'])} {r['fit']}: median KS {r['ks_median']:.3f}, "
                    f"{r['ratio']:.1f}x the trial-to-trial KS {r['noise_floor']:.3f} (mean over {r['n_test']} held-out "
                    f"trials {fmt.interval(r['ks_mean'], r.get('ci_low'), r.get('ci_high'), 1, 3, False)})")
            parts.append(text)
            if not r["ok"]:
                misses.append(f"{e.label} {fmt.pct(r['density'])} {r['fit']} ({r['ratio']:.1f}x, target "
                              f"{r['target']:.0f}x)")
            if fmt.finite(r["threshold_model_ks"]):
                base.append(r["threshold_model_ks"])
    if not parts:
        return None
    text = ("DnModel, a per-layer law of how training moves each weight between rewinds iterated through the "
            f"pruning rounds and fitted on one trial, predicts the other trials' θ_LT with {fmt.join(parts)}")
    if base:
        text += f"; the layer-threshold model (no noise) is at KS {min(base):.3f} to {max(base):.3f}"
    text += (f"; outside the target ratio: {fmt.join(misses)}" if misses else "; every cell is within its target ratio")
    return text + f" ({where})."
