"""Benchmark of the D_n density models on 60,000 D_n-shaped values: ``python -m dn_analysis.bench``.

A real θ_LT has ~60,000 values (FC-1 at 26% density: 0.262 x 266,200 weights), and every
analysis fits several models per trial and round, so each fit must take well under a second
(KDE) or seconds (mixture selection). Targets: KDE fit + 2,048-point evaluation < 0.5 s;
GMM selection over 1..10 components < 10 s. Both wall and CPU seconds are reported: on a
shared machine wall time mostly measures the neighbours.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

TARGETS = {"kde_fit_eval[isj]": 0.5, "gmm_select[1..10]": 10.0}


def _time(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Best wall and CPU seconds over `repeat` runs."""
    walls, cpus = [], []
    for _ in range(max(1, repeat)):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus)


def run(n: int = 60_000, repeat: int = 3, seed: int = 0) -> dict[str, dict[str, float]]:
    """Time each item; returns {item: {"wall_s", "cpu_s"[, "target_s"]}}."""
    from dn_analysis import EmpiricalDn, GMMDn, KDEDn, load_dn
    from dn_analysis.density.bandwidth import select_bandwidth
    from dn_analysis.synthetic import synthetic_dn

    x = synthetic_dn(n, drift=0.5, random_state=seed)
    grid = np.linspace(x.min(), x.max(), 2048)
    GMMDn(n_components=2).fit(x[:1000])  # warm-up: imports scikit-learn, compiles nothing else
    items: dict[str, tuple[Callable[[], Any], int]] = {}
    for rule in ("scott", "silverman", "isj", "sheather-jones", "cv"):
        items[f"bandwidth[{rule}]"] = (lambda r=rule: select_bandwidth(x, r), repeat)
    for rule in ("isj", "scott", "cv"):
        items[f"kde_fit_eval[{rule}]"] = (lambda r=rule: KDEDn(r).fit(x).pdf(grid), repeat)
    kde = KDEDn().fit(x)
    items["kde_cdf[2048]"] = (lambda: kde.cdf(grid), repeat)
    items["kde_rvs[60000]"] = (lambda: kde.rvs(n, random_state=1), repeat)
    items["empirical_fit_rvs[60000]"] = (lambda: EmpiricalDn(x).rvs(n, random_state=1), repeat)
    items["gmm_select[1..10]"] = (lambda: GMMDn(max_components=10).fit(x).pdf(grid), 1)
    items["gmm_symmetric_select[1..10]"] = (
        lambda: GMMDn(max_components=10, symmetric=True).fit(x).pdf(grid),
        1,
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "kde.npz"
        items["kde_save_load[npz]"] = (lambda: load_dn(kde.save(path)).pdf(grid), repeat)
        results: dict[str, dict[str, float]] = {}
        for name, (fn, reps) in items.items():
            wall, cpu = _time(fn, reps)
            results[name] = {"wall_s": round(wall, 4), "cpu_s": round(cpu, 4)}
            if name in TARGETS:
                results[name]["target_s"] = TARGETS[name]
    return results


def main(argv: list[str] | None = None) -> None:
    """Command line: prints one line per item, or JSON with --json."""
    parser = argparse.ArgumentParser(
        prog="python -m dn_analysis.bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--n", type=int, default=60_000, help="number of D_n values (default 60000)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per fast item; best is kept")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    results = run(n=args.n, repeat=args.repeat, seed=args.seed)
    if args.json:
        print(json.dumps({"n": args.n, "results": results}, indent=1))
        return
    print(f"D_n-shaped sample, n = {args.n}")
    print(f"{'item':32s} {'wall s':>8s} {'cpu s':>8s}  target")
    for name, r in results.items():
        target = r.get("target_s")
        mark = (
            ""
            if target is None
            else f"< {target:g} s " + ("ok" if r["wall_s"] < target else "MISSED")
        )
        print(f"{name:32s} {r['wall_s']:8.3f} {r['cpu_s']:8.3f}  {mark}")


if __name__ == "__main__":
    main()
