"""What reinit draws from under each protocol, set against θ_LT.

The paper's text draws reinit's weights from θ_LT, the surviving initial weights; the authors'
code draws them from the ticket's trained weights at the mask (config `dn_pool: trained`;
`ExperimentResult.pool_weights`). The figure shows both distributions per run and ticket round,
pooled over layers and trials as the pooled reinit draws them; the sentence gives their rms ratio.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reports import fmt
from reports.figures import figure, save
from reports.runs import ExperimentStatus
from results.paired import t_summary


def pools(exp: ExperimentStatus) -> dict[int, tuple[np.ndarray, np.ndarray, list[float]]]:
    """{round: (θ_LT pooled, reinit's pool pooled, per-trial rms of pool / rms of θ_LT)}."""
    cached = exp.__dict__.get("_pools")
    if cached is not None:
        return cached
    res = exp.run.experiment(exp.name)
    trained = exp.config.get("dn_pool") == "trained"
    out = {}
    for r in sorted(exp.config["ticket_rounds"]):
        if r not in res.rounds:
            continue
        lts, drawn, ratios = [], [], []
        for t in res.trials:
            lt = res.theta_lt(t, r)
            if trained:
                mask, weights = res.mask(t, r), res.pool_weights(t, r)
                pool = np.concatenate([weights[layer["param"]][mask[layer["param"]]] for layer in res.layers])
            else:
                pool = lt
            lts.append(lt)
            drawn.append(pool)
            ratios.append(float(np.sqrt(np.mean(pool.astype(float) ** 2) / np.mean(lt ** 2))))
        out[r] = (np.concatenate(lts), np.concatenate(drawn), ratios)
    exp.__dict__["_pools"] = out
    return out


def pool_sentence(exps: list[ExperimentStatus], where: str) -> str | None:
    """What reinit draws from under each protocol, with the rms of the trained pool over θ_LT's per cell."""
    cells, plain = [], []
    for e in exps:
        if not e.has_tickets:
            continue
        if e.config.get("dn_pool") != "trained":
            plain.append(e.label)
            continue
        res = e.run.experiment(e.name)
        for r, (_, _, ratios) in pools(e).items():
            mean, lo, hi, _ = t_summary(np.array(ratios))
            cells.append(f"{e.label} {fmt.pct(res.density(r))} {fmt.interval(mean, lo, hi, 1, 2, False)}x")
    if not cells:
        return None
    text = ("What reinit draws from: under the authors' code, the ticket's trained weights at the mask, whose rms is "
            f"{fmt.join(cells)} that of θ_LT (mean over trials, 95% t interval)")
    if plain:
        text += f"; under the paper's text ({fmt.join(plain)}), θ_LT itself"
    return text + (". So the authors' reinit and remask do not sample D_n, the distribution the paper describes "
                   f"({where}).")


def pools_figure(exps: list[ExperimentStatus], path: Path) -> bool:
    """Rows: ticket rounds; columns: runs. False when no run has tickets."""
    shown = [e for e in exps if e.has_tickets and pools(e)]
    if not shown:
        return False
    rounds = sorted({r for e in shown for r in pools(e)})
    fig, axes = figure(len(rounds), len(shown), 1.3 * len(rounds) + 0.2)
    for j, e in enumerate(shown):
        res = e.run.experiment(e.name)
        for i, r in enumerate(rounds):
            ax = axes[i][j]
            if r not in pools(e):
                ax.axis("off")
                continue
            lt, pool, ratios = pools(e)[r]
            lo, hi = np.quantile(np.concatenate([lt, pool]), [0.0005, 0.9995])
            edges = np.linspace(lo, hi, 81)
            ax.hist(lt, edges, density=True, color="0.75", label="θ_LT")
            same = pool is lt or (pool.size == lt.size and np.array_equal(pool, lt))
            name = "pool = θ_LT" if same else f"pool: trained ({np.mean(ratios):.2g}x rms)"
            ax.hist(pool, edges, density=True, histtype="step", color="tab:red", lw=0.8, ls="--" if same else "-",
                    label=name)
            ax.set_title(f"{e.label}, {fmt.pct(res.density(r))}", fontsize=6.5)
            ax.set_yticks([])
            ax.tick_params(axis="x", labelsize=5.5)
            ax.legend(fontsize=5, loc="upper right", handlelength=1.2, framealpha=0.7)
            if i == len(rounds) - 1:
                ax.set_xlabel("weight value", fontsize=6)
    save(fig, path)
    return True
