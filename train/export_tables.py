"""Tables-only copies of runs whose tickets are too large to commit (`dn export --tables-only`).

A conv net's θ0 alone is tens of MB per trial. Its committed copy keeps the config, the tables
(metrics, summary, paired, pruning_metrics), each experiment's layers.json, and θ_LT summarized
per trial, round and layer (`theta_lt_summary.csv`: count, moments, the edge of the shelf and
quantiles in units of the layer's init std; `theta_lt_hist.csv`: a histogram on a fixed grid of
init stds), so the per-layer shelves can be read and plotted without the tickets. `open_run`
reads its tables; its experiments have no tickets, and the analyses that need them say so.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from results.schema import (
    QUANTILES,
    THETA_LT_HIST,
    THETA_LT_HIST_COLUMNS,
    THETA_LT_SUMMARY,
    THETA_LT_SUMMARY_COLUMNS,
)
from results.store import write_csv, write_json
from train.export import start_copy

HIST_EDGES = np.linspace(-4.0, 4.0, 81)  # init stds: Xavier uniform reaches ±sqrt(3) = ±1.73, normal beyond


def theta_lt_rows(exp) -> tuple[list[dict], list[dict]]:
    """(summary rows, histogram rows) of θ_LT for every trial, stored round and layer of `exp`."""
    summary, hist = [], []
    for t in exp.trials:
        for r in exp.rounds:
            per_layer = exp.theta_lt(t, r, per_layer=True)
            mask = exp.mask(t, r)
            for layer in exp.layers:
                values, std = per_layer[layer["name"]], float(layer["init_std"])
                z = values / std
                size = int(mask[layer["param"]].size)
                row = {"experiment": exp.name, "trial": t, "round": r, "layer": layer["name"], "weights": size,
                       "kept": int(values.size), "density": values.size / size, "init_std": std}
                if values.size:
                    row.update(mean=float(values.mean()), std=float(values.std()),
                               share_positive=float((values > 0).mean()), min_abs_std=float(np.abs(z).min()),
                               max_abs_std=float(np.abs(z).max()),
                               **{f"q{round(100 * q):02d}_std": float(v) for q, v in zip(QUANTILES, np.quantile(z, QUANTILES), strict=True)})
                summary.append(row)
                counts, _ = np.histogram(np.clip(z, HIST_EDGES[0], HIST_EDGES[-1]), HIST_EDGES)
                hist += [{"experiment": exp.name, "trial": t, "round": r, "layer": layer["name"],
                          "bin_low_std": float(lo), "bin_high_std": float(hi), "count": int(c)}
                         for lo, hi, c in zip(HIST_EDGES[:-1], HIST_EDGES[1:], counts, strict=True) if c]
    return summary, hist


def export_tables_only(src: str | Path, dest: str | Path) -> Path:
    """Write the tables-only copy of the finished run `src` into the new folder `dest`."""
    src, dest = Path(src), Path(dest)
    run = start_copy(src, dest, {"source": src.name, "tables_only": True})
    for name in run.experiments:
        exp = run.experiment(name)
        write_json(dest / name / "layers.json", exp.layers)
        summary, hist = theta_lt_rows(exp)
        write_csv(dest / name / THETA_LT_SUMMARY, summary, THETA_LT_SUMMARY_COLUMNS)
        write_csv(dest / name / THETA_LT_HIST, hist, THETA_LT_HIST_COLUMNS)
    return dest
