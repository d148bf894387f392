"""The paper's Figure 1/3 table from long-form metrics: curves averaged over trials first."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from results.divergence import verdicts
from results.labels import condition_name
from results.schema import SUMMARY_COLUMNS

__all__ = ["SUMMARY_COLUMNS", "curves", "summarize"]



def curves(rows: list[dict], key: str) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """{(experiment, condition): (epochs, values[trial, epoch])} for complete trials only."""
    grouped: dict[tuple[str, str], dict[int, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    for row in rows:
        grouped[(row["experiment"], row["condition"])][int(row["trial"])][int(row["epoch"])] = float(row[key])
    out = {}
    for name, trials in grouped.items():
        epochs = sorted(set.intersection(*(set(t) for t in trials.values())))
        values = np.array([[trials[t][e] for e in epochs] for t in sorted(trials)])
        out[name] = (np.array(epochs), values)
    return out


def summarize(rows: list[dict]) -> list[dict]:
    """One row per (experiment, condition): max of the mean accuracy curve, min of the mean loss.

    `rows` are metrics.csv rows with their condition_name (``Run.metrics()`` fills it in).

    `diverged` is "true" when any trial of the condition diverged (a spike it never recovered
    from), `spiked` when any trial spiked and recovered (results.divergence); a condition can be
    both, in different trials. Text, so a table rebuilt from the rows equals the one read back
    from summary.csv.
    """
    acc, loss = curves(rows, "test_acc"), curves(rows, "train_loss")
    meta = {(r["experiment"], r["condition"]): r for r in rows}
    densities: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in rows:
        if int(r["epoch"]) == 1:
            densities[(r["experiment"], r["condition"])].append(float(r["density"]))
    verdict = verdicts(rows)
    diverged = {(exp, cond) for (exp, cond, _), v in verdict.items() if v.diverged}
    spiked = {(exp, cond) for (exp, cond, _), v in verdict.items() if not v.diverged}
    table = []
    for key in acc:
        epochs, a = acc[key]
        _, lo = loss[key]
        mean_a, mean_l = a.mean(axis=0), lo.mean(axis=0)
        ia, il = int(np.argmax(mean_a)), int(np.argmin(mean_l))
        table.append({
            "experiment": key[0],
            "condition": key[1],
            "condition_name": condition_name(meta[key]),
            "round": int(meta[key]["round"]),
            "density": float(np.mean(densities[key])),
            "trials": a.shape[0],
            "max_avg_acc": float(mean_a[ia]),
            "max_avg_acc_epoch": int(epochs[ia]),
            "min_avg_train_loss": float(mean_l[il]),
            "min_avg_train_loss_epoch": int(epochs[il]),
            "acc_at_max_min": float(a[:, ia].min()),
            "acc_at_max_max": float(a[:, ia].max()),
            "loss_at_min_min": float(lo[:, il].min()),
            "loss_at_min_max": float(lo[:, il].max()),
            "diverged": "true" if key in diverged else "false",
            "spiked": "true" if key in spiked else "false",
        })
    return table
