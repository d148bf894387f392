"""`dn analyze`: compute every analysis of D_n from one or more results folders.

``run_analysis(run_dirs, out, quick)`` gathers the experiments of all folders, takes θ_LT of each
ticket round (pooled over trials, raw and standardized by each layer's init std), runs the
sections (histograms, fit, symmetry, modes, compare) and writes ``analysis.json``,
``analysis.csv``, ``summary.md``, ``samplers/`` and ``figures/`` (docs/analysis-format.md).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import datetime, timezone
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from dn_analysis.inputs import Exp, Settings, comparable, gather, input_means, subsample
from dn_analysis.naming import display_path
from dn_analysis.outputs import (
    ANALYSIS_OWNS,
    CSV_COLUMNS,
    KDE_RULES,
    check_folder,
    check_out,
    clean,
    csv_rows,
    summary_markdown,
)
from dn_analysis.samplers import GMMDn, KDEDn
from dn_analysis.stats import (
    compare_distributions,
    dip_test,
    mode_test,
    shape_verdict,
    symmetry_test,
)
from dn_analysis.stats.modes import count_from_pvalues, mode_pvalues
from dn_analysis.views import VIEWS

SCHEMA = "dn-analysis/1"
SECTIONS = ("histograms", "fit", "symmetry", "signs", "modes", "trials", "compare")
GMM_MAX_COMPONENTS = 10  # BIC searches K = 1..10 (README, docs/analysis-format.md)
SYM_METHODS = ("sign", "flip-ks", "flip-cvm", "skewness")
CMP_METHODS = ("ks", "ad", "energy", "wasserstein")


def _test_row(e: Exp | None, r: int, view: str, test: str, method: str, res: Any, n: int,
              trial: int | None = None, params: dict | None = None, experiment: str | None = None,
              density: float | None = None) -> dict:
    d = res.as_dict() if hasattr(res, "as_dict") else dict(res)
    return {
        "experiment": experiment or e.name, "round": r,
        "density": density if density is not None else (e.density(r) if e else None),
        "view": view, "trial": trial, "test": test, "method": method,
        "statistic": d.get("statistic"), "pvalue": d.get("pvalue"), "n": int(n),
        "summary": d.get("summary", ""), "params": params or {}, "details": d.get("details", {}),
    }


def describe(e: Exp, r: int, view: str) -> dict:
    x = e.pooled(r, view)
    qs = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
    return {
        "experiment": e.name, "round": r, "density": e.density(r), "view": view, "n": int(x.size),
        "n_per_trial": [int(v.size) for v in e.per_trial(r, view)] if view == "raw" else None,
        "mean": float(x.mean()), "std": float(x.std()), "min": float(x.min()), "max": float(x.max()),
        "quantiles": {str(q): float(v) for q, v in zip(qs, np.quantile(x, qs), strict=True)},
        "frac_positive": float(np.mean(x > 0)),
    }


# ----------------------------------------------------------------------------- sections

class Analysis:
    def __init__(self, exps: list[Exp], out: Path, settings: Settings) -> None:
        self.exps, self.out, self.s = exps, out, settings
        self._fits: dict = {}

    def fit_pair(self, e: Exp, r: int, view: str) -> tuple[KDEDn, GMMDn]:
        """KDE at Silverman's bandwidth and the BIC-chosen free GMM (for overlays), memoized."""
        key = (e.name, r, view)
        if key not in self._fits:
            x = e.pooled(r, view)
            kde = KDEDn(bandwidth="silverman").fit(x)
            gmm = GMMDn(max_components=GMM_MAX_COMPONENTS, random_state=self.s.seed).fit(subsample(x, self.s.gmm_max_n, self.s.seed))
            self._fits[key] = (kde, gmm)
        return self._fits[key]

    def fit(self) -> list[dict]:
        (self.out / "samplers").mkdir(parents=True, exist_ok=True)
        rows = []
        for e in self.exps:
            for r in e.analyzed:
                x = e.pooled(r, "raw")
                kde_part = {}
                for rule in KDE_RULES:
                    try:
                        k = KDEDn(bandwidth=rule).fit(x)
                    except ValueError as err:
                        kde_part[rule] = {"error": str(err)}
                        continue
                    rel = f"samplers/{e.name}-r{r}-kde-{rule}.npz"
                    k.save(self.out / rel)
                    kde_part[rule] = {"bandwidth": float(k.bandwidth_), "n_modes": int(len(k.modes())),
                                      "modes": k.modes() if len(k.modes()) <= 12 else None,
                                      "sampler": rel}
                gmm_part = {}
                for kind, sym in (("free", False), ("symmetric", True)):
                    g = GMMDn(max_components=GMM_MAX_COMPONENTS, symmetric=sym, random_state=self.s.seed).fit(
                        subsample(x, self.s.gmm_max_n, self.s.seed))
                    rel = f"samplers/{e.name}-r{r}-gmm-{kind}.json"
                    g.save(self.out / rel)
                    gmm_part[kind] = {"n_components": int(g.n_components_), "k_max": GMM_MAX_COMPONENTS,
                                      "at_max": int(g.n_components_) == GMM_MAX_COMPONENTS,
                                      "bic": float(min(g.bic_.values())),
                                      "bic_by_k": g.bic_, "weights": g.weights_, "means": g.means_,
                                      "sds": g.sds_, "modes": g.modes(), "sampler": rel,
                                      "n_fit": int(min(x.size, self.s.gmm_max_n))}
                rows.append({"experiment": e.name, "round": r, "density": e.density(r), "view": "raw",
                             "n": int(x.size), "kde": kde_part, "gmm": gmm_part})
        return rows

    def symmetry(self) -> tuple[list[dict], list[dict]]:
        tests, per_trial = [], []
        s = self.s
        for e in self.exps:
            for r in e.analyzed:
                for view in VIEWS:
                    x = e.pooled(r, view)
                    for m in SYM_METHODS:
                        if m == "sign" and view != "raw":
                            continue  # dividing by a positive scale keeps every sign: the raw test
                        res = symmetry_test(x, center=0.0, method=m, n_resamples=s.n_resamples,
                                            random_state=s.seed)
                        tests.append(_test_row(e, r, view, "symmetry", m, res, x.size, params={"center": 0.0}))
                    res = symmetry_test(x, center="midquantile", method="flip-cvm",
                                        n_resamples=max(49, s.n_resamples // 5), random_state=s.seed)
                    tests.append(_test_row(e, r, view, "symmetry", "flip-cvm@midquantile", res, x.size,
                                           params={"center": "midquantile"}))
                pv = []
                for t, xt in zip(e.handle.trials, e.per_trial(r, "raw"), strict=True):
                    res = symmetry_test(xt, center=0.0, method="sign")
                    pv.append(float(res.pvalue))
                    tests.append(_test_row(e, r, "raw", "symmetry", "sign", res, xt.size, trial=int(t),
                                           params={"center": 0.0}))
                per_trial.append({"experiment": e.name, "round": r, "view": "raw", "test": "symmetry",
                                  "method": "sign", "n_trials": len(pv),
                                  "n_reject_05": int(sum(p < 0.05 for p in pv)), "pvalues": pv})
        return tests, per_trial

    def modes(self) -> tuple[list[dict], list[dict]]:
        tests, verdicts = [], []
        s = self.s
        for e in self.exps:
            for r in e.analyzed:
                for view in VIEWS:
                    x = subsample(e.pooled(r, view), s.modes_max_n, s.seed)
                    n = x.size
                    pv = mode_pvalues(x, 6, "silverman-hy", n_boot=s.n_boot, random_state=s.seed)
                    for k, v in pv.items():
                        tests.append(_test_row(e, r, view, "modes", f"silverman-hy k={k}", {
                            "statistic": v.get("h_k", v.get("statistic")), "pvalue": v["p"],
                            "summary": (f"H0 'at most {k} modes' (Hall-York): critical bandwidth "
                                        f"{v.get('h_k', float('nan')):.3g}, p = {v['p']:.3g}; the KDE at h_k "
                                        f"shows {v.get('modes_at_h_k')} modes."),
                            "details": {kk: vv for kk, vv in v.items() if kk != "p"}}, n, params={"k": k}))
                    for k in (2, 4):
                        res = mode_test(x, k, "excess-mass", n_boot=s.n_boot, random_state=s.seed)
                        tests.append(_test_row(e, r, view, "modes", f"excess-mass k={k}", res, n, params={"k": k}))
                    for absolute in (False, True):
                        res = dip_test(x, absolute=absolute)
                        tests.append(_test_row(e, r, view, "dip", "dip-abs" if absolute else "dip", res, n))
                    nm = count_from_pvalues(pv, 0.05, 6)
                    tests.append(_test_row(e, r, view, "count_modes", "silverman-hy", {
                        "statistic": nm, "pvalue": None,
                        "summary": (f"{nm if nm <= 6 else 'more than 6'} modes: the smallest achievable k "
                                    "whose 'at most k modes' Hall-York does not reject at 5%."),
                    }, n))
                    v = shape_verdict(x, n_boot=s.verdict_boot, n_test_boot=s.n_boot, random_state=s.seed)
                    vd = v.as_dict()
                    tests.append(_test_row(e, r, view, "shape_verdict", "paper-claims", {
                        "statistic": v.n_modes, "pvalue": None, "summary": v.summary}, n))
                    verdicts.append({"experiment": e.name, "round": r, "density": e.density(r), "view": view,
                                     "n": n, **vd})
        return tests, verdicts

    def explain(self) -> list[dict]:
        """The layer-threshold model of D_n (dn_analysis.explain), one row per experiment and round."""
        from dn_analysis.explain import explain_dn
        from dn_analysis.trials import explain_intervals

        rows = []
        for e in self.exps:
            if any(layer.get("init_bound") is None for layer in e.handle.layers):
                continue  # the model is defined for uniform inits
            for r in e.analyzed:
                fits = [explain_dn(e.handle.theta0(t), e.handle.mask(t, r), e.handle.layers)
                        for t in e.handle.trials]
                ks = float(np.mean([f.ks_distance for f in fits]))
                overlap = float(np.mean([f.overlap for f in fits]))
                chance = float(np.mean([f.chance_overlap for f in fits]))
                summary = (f"Layer-threshold model (per-layer uniform shelves t_l <= |θ| <= a_l, not fitted): "
                           f"mean KS distance {ks:.3f} to θ_LT over {len(fits)} trials; {100 * overlap:.1f}% of "
                           f"survivors are their layer's largest |θ0| (random mask: {100 * chance:.1f}%).")
                rows.append(_test_row(e, r, "raw", "layer_model", "layer-threshold", {
                    "statistic": ks, "pvalue": None, "summary": summary,
                    "details": {"overlap": overlap, "chance_overlap": chance,
                                "shelves": [vars(sh) for sh in fits[0].shelves],
                                "trials": explain_intervals([f.ks_distance for f in fits], [f.overlap for f in fits],
                                                            [f.chance_overlap for f in fits])}},
                    int(e.pooled(r).size)))
        return rows

    def signs(self, data_dir: str | Path | None = None) -> tuple[list[dict], list[dict]]:
        """Survivor signs by layer, and for a dense first layer by the mean of its inputs (signs.py)."""
        from dn_analysis.signs import input_mean_trend, layer_lean

        tests, missing = [], []
        for e in self.exps:
            names = [layer["param"] for layer in e.handle.layers]
            means, why = input_means(e, data_dir)
            if why:
                missing.append({"experiment": e.name, "round": None, "reason": why})
            for r in e.analyzed:
                thetas = [e.handle.theta0(t) for t in e.handle.trials]
                masks = [e.handle.mask(t, r) for t in e.handle.trials]
                for i, row in enumerate(layer_lean(thetas, masks, names)):
                    role = "first layer" if i == 0 else ("output layer" if i == len(names) - 1 else "hidden")
                    summary = (f"{row['layer']} ({role}): {100 * row['positive']:.1f}% of survivors "
                               f"positive vs {100 * row['positive_at_init']:.1f}% at init; t-test across "
                               f"{len(row['per_trial'])} trials p = {row['pvalue']:.3g}.")
                    tests.append(_test_row(e, r, "raw", "signs", f"layer-lean {row['layer']}", {
                        "statistic": row["positive"] - row["positive_at_init"], "pvalue": row["pvalue"],
                        "summary": summary, "details": {**row, "role": role}}, row["n"],
                        params={"layer": row["layer"]}))
                if means is not None:
                    res = input_mean_trend(thetas, masks, names[0], means)
                    shares = ", ".join(f"{m:+.2f}: {100 * p:.1f}%" for m, p in zip(res["bin_mean"], res["positive"],
                                                                                 strict=True))
                    summary = (f"{names[0]} survivors positive by input mean (quintiles) {shares}; "
                               f"highest minus lowest, t-test across trials p = {res['pvalue']:.3g}.")
                    tests.append(_test_row(e, r, "raw", "signs", "input-trend", {
                        "statistic": res["positive"][-1] - res["positive"][0], "pvalue": res["pvalue"],
                        "summary": summary, "details": res}, int(e.pooled(r).size), params={"layer": names[0]}))
        return tests, missing

    def compare(self) -> list[dict]:
        tests = []
        s = self.s
        for a, b in combinations(self.exps, 2):
            if not comparable(a, b):
                continue
            for r in sorted(set(a.analyzed) & set(b.analyzed)):
                pair = f"{a.name} vs {b.name}"
                variants = (("raw", "raw", None), ("standardized-init", "standardized", None),
                            ("standardized-std", "raw", "std"))
                for view, src, std in variants:
                    x = subsample(a.pooled(r, src), s.compare_max_n, s.seed)
                    y = subsample(b.pooled(r, src), s.compare_max_n, s.seed + 1)
                    for m in CMP_METHODS:
                        res = compare_distributions(x, y, standardize=std, method=m,
                                                    n_resamples=s.compare_n_resamples, random_state=s.seed)
                        tests.append(_test_row(None, r, view, "compare", m, res, x.size + y.size,
                                               experiment=pair, density=a.density(r),
                                               params={"standardize": std, "n_x": x.size, "n_y": y.size,
                                                       "n_resamples": s.compare_n_resamples,
                                                       "subsampled_to": s.compare_max_n}))
        return tests


def run_analysis(run_dirs: list[Path], out: Path, quick: bool = False,
                 sections: tuple[str, ...] | list[str] = SECTIONS,
                 data_dir: str | Path | None = None) -> dict:
    """Run the chosen sections on the run folders, write everything into `out`, return analysis.json's dict.

    `out` is written whole or not at all (results.store.whole_folder): the sections are computed into
    a temporary sibling that replaces `out` at the end, keeping what other sections wrote there.
    """
    from results.store import whole_folder

    t0 = time.perf_counter()
    sections = tuple(sections)
    bad = [s for s in sections if s not in SECTIONS]
    if bad:
        raise ValueError(f"unknown section {bad[0]!r}; choose from {', '.join(SECTIONS)}.")
    check_folder(data_dir, "--data-dir")
    run_dirs = [Path(d) for d in run_dirs]
    check_out(Path(out), run_dirs)
    exps, missing = gather(run_dirs)
    with whole_folder(Path(out), keep=True, owns=ANALYSIS_OWNS) as work:
        return _analyze(exps, missing, run_dirs, work, Settings.make(quick), sections, data_dir, t0)


def _analyze(exps: list[Exp], missing: list[dict], run_dirs: list[Path], out: Path, s: Settings,
             sections: tuple[str, ...], data_dir: str | Path | None, t0: float) -> dict:
    """The sections computed and written into `out` (run_analysis's temporary folder)."""
    from results.store import atomic_write_bytes, write_csv, write_json

    quick = s.quick
    timing: dict[str, float] = {}
    tic = time.perf_counter()
    data = [describe(e, r, v) for e in exps for r in e.analyzed for v in VIEWS]
    timing["load"] = time.perf_counter() - tic
    an = Analysis(exps, out, s)
    result: dict[str, Any] = {
        "schema": SCHEMA, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "runs": [display_path(d) for d in run_dirs], "quick": quick, "sections": list(sections),
        "settings": {k: getattr(s, k) for k in ("n_resamples", "n_boot", "verdict_boot",
                                                "compare_n_resamples", "compare_max_n", "modes_max_n",
                                                "gmm_max_n", "seed")},
        "timing_s": timing,
        "experiments": {e.name: {"run": display_path(e.run_dir), "model": e.config.get("model"),
                                 "dataset": e.config.get("dataset"), "label": e.label,
                                 "trials": list(e.handle.trials), "ticket_rounds": e.config.get("ticket_rounds", []),
                                 "rounds": e.rounds, "analyzed_rounds": e.analyzed, "missing_rounds": e.missing,
                                 "layers": e.handle.layers} for e in exps},
        "missing": missing, "data": data, "fits": [], "tests": [], "per_trial": [], "verdicts": [], "figures": [],
        "trial_level": [],
    }
    @contextmanager
    def timed(name: str):
        tic = time.perf_counter()
        yield
        timing[name] = time.perf_counter() - tic

    if "fit" in sections:
        with timed("fit"):
            result["fits"] = an.fit()
            result["tests"] += an.explain()
    if "symmetry" in sections:
        with timed("symmetry"):
            tests, result["per_trial"] = an.symmetry()
            result["tests"] += tests
    if "signs" in sections:
        with timed("signs"):
            tests, skipped = an.signs(data_dir)
            result["tests"] += tests
            result["missing"] += skipped
    if "modes" in sections:
        with timed("modes"):
            tests, result["verdicts"] = an.modes()
            result["tests"] += tests
    if "trials" in sections:
        from dn_analysis.trials import METHOD, trial_level

        with timed("trials"):
            result["trial_level"] = trial_level(exps, result["verdicts"], VIEWS, s.modes_max_n, s.seed)
            result["trial_level_method"] = METHOD
    if "compare" in sections:
        with timed("compare"):
            result["tests"] += an.compare()
    if "histograms" in sections:
        from dn_analysis import figures

        with timed("histograms"):
            result["figures"] = figures.draw_all(an, out / "figures")
    timing["total"] = time.perf_counter() - t0
    result = clean(result)
    write_json(out / "analysis.json", result)
    write_csv(out / "analysis.csv", csv_rows(result["tests"], result.get("trial_level")), CSV_COLUMNS)
    atomic_write_bytes(out / "summary.md", summary_markdown(result).encode())
    return result
