"""What `dn analyze` writes besides analysis.json: JSON-safe values, analysis.csv rows, summary.md;
and where `dn analyze` and `dn report` write (never into a results folder unless --out says so)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

KDE_RULES = ("scott", "silverman", "isj", "cv")
CSV_COLUMNS = ["experiment", "round", "density", "view", "trial", "test", "method", "statistic",
               "pvalue", "n", "summary"]


ANALYSIS_OWNS = ("analysis.json", "model-distances.json", "samplers", "figures", "model")
REPORT_OWNS = ("report.md", "report.pdf", "figures", "analysis")


def default_out(kind: str, run: str | Path) -> Path:
    """`runs/<kind>-<run folder name>` under the current folder: an output beside the runs, never
    inside a results folder the command did not make."""
    return Path("runs") / f"{kind}-{Path(run).resolve().name}"


def check_folder(path: str | Path | None, option: str) -> None:
    """Refuse, in one line, a path option that names a file or nothing where a folder is needed."""
    from results.errors import DnError

    if path is None:
        return
    path = Path(path)
    if path.is_file():
        raise DnError(f"{option} {path} is a file, not a folder")
    if not path.is_dir():
        raise DnError(f"{option} {path} does not exist; give a folder")


def check_out(out: Path, runs: list[Path]) -> None:
    """An output folder that is not a file and neither is nor holds a results folder: replacing it
    whole (results.store.whole_folder) must never move a run."""
    from results.errors import DnError
    from results.schema import CONFIG

    out = Path(out)
    if out.is_file():
        raise DnError(f"--out {out} is a file, not a folder")
    here = out.resolve()
    if (out / CONFIG).exists() or any(here == r.resolve() or here in r.resolve().parents for r in runs):
        raise DnError(f"--out {out} is a results folder or holds one; give --out a folder of its own")


def clean(obj: Any) -> Any:
    """JSON-safe copy: numpy -> python, NaN/inf -> None, tuples -> lists, keys -> str."""
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [clean(v) for v in obj.tolist()]
    if isinstance(obj, np.bool_ | bool):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def csv_rows(tests: list[dict], trial_level: list[dict] | None = None) -> list[dict]:
    """analysis.csv: every test, then each trial-level question (statistic = mean over trials, n = trials)."""
    rows = [{c: ("" if t.get(c) is None else t.get(c)) for c in CSV_COLUMNS} for t in tests]
    for q in trial_level or []:
        interval = (f"[{q['ci_low']:.4g}, {q['ci_high']:.4g}]" if q.get("ci_low") is not None
                    and math.isfinite(q["ci_low"]) else "(no interval)")
        rows.append({"experiment": q["experiment"], "round": q["round"], "density": q["density"],
                     "view": q.get("view", "raw"), "trial": "", "test": "trial-level", "method": q["question"],
                     "statistic": "" if q.get("mean") is None else q["mean"],
                     "pvalue": "" if q.get("pvalue") is None else q["pvalue"], "n": q.get("n", 0),
                     "summary": f"{q['statistic']}: mean {q.get('mean')} over {q.get('n')} trials, 95% t interval "
                                f"{interval}; {q['verdict']}"})
    return rows


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def summary_markdown(result: dict) -> str:
    lines = ["# Analysis of D_n", "",
             f"Runs: {', '.join(result['runs'])}. Sections: {', '.join(result['sections'])}. "
             f"{'Quick settings (small bootstrap/permutation counts). ' if result['quick'] else ''}"
             f"Total time {result['timing_s'].get('total', 0):.1f} s.", ""]
    lines += ["## Experiments", "", "| experiment | run | trials | ticket rounds | analyzed | missing |", "|---|---|---|---|---|---|"]
    for name, e in result["experiments"].items():
        lines.append(f"| {name} | {e['run']} | {len(e['trials'])} | {e['ticket_rounds']} | {e['analyzed_rounds']} | "
                     f"{e['missing_rounds'] or '–'} |")
    if result["missing"]:
        lines += ["", "Missing:", ""] + [f"- {m['experiment']}: {m['reason']}" for m in result["missing"]]
    if result.get("data"):
        lines += ["", "## θ_LT pooled over trials", "", "| experiment | round | density | view | n | std | min | max | frac > 0 |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for d in result["data"]:
            lines.append(f"| {d['experiment']} | {d['round']} | {d['density']:.3f} | {d['view']} | {d['n']} | "
                         f"{_fmt(d['std'])} | {_fmt(d['min'])} | {_fmt(d['max'])} | {d['frac_positive']:.4f} |")
    if result.get("fits"):
        lines += ["", "## Fitted densities (raw θ_LT)", "",
                  "| experiment | round | h scott | h silverman | h isj | h cv | GMM free K | GMM free modes | GMM sym pairs | GMM sym modes |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for f in result["fits"]:
            h = [_fmt(f["kde"][r].get("bandwidth")) for r in KDE_RULES]
            gf, gs = f["gmm"]["free"], f["gmm"]["symmetric"]
            lines.append(f"| {f['experiment']} | {f['round']} | {' | '.join(h)} | {gf['n_components']} | "
                         f"{', '.join(_fmt(m, 2) for m in gf['modes'])} | {gs['n_components']} | "
                         f"{', '.join(_fmt(m, 2) for m in gs['modes'])} |")
    tests = result.get("tests", [])
    for title, test in (("Symmetry about 0 (pooled)", "symmetry"),
                        ("Survivor signs by layer (t-tests across trials)", "signs"),
                        ("Modes (pooled, subsampled)", "modes"),
                        ("Dip tests", "dip"), ("Mode count", "count_modes"),
                        ("Shape verdict (paper's Section 4.4 claims)", "shape_verdict"),
                        ("FC-1 vs LeNet5 (permutation tests, subsampled)", "compare")):
        rows = [t for t in tests if t["test"] == test and t.get("trial") is None]
        if not rows:
            continue
        lines += ["", f"## {title}", "", "| experiment | round | view | method | statistic | p | summary |",
                  "|---|---|---|---|---|---|---|"]
        for t in rows:
            lines.append(f"| {t['experiment']} | {t['round']} | {t['view']} | {t['method']} | {_fmt(t['statistic'])} | "
                         f"{_fmt(t['pvalue'])} | {t['summary'].replace('|', '/')} |")
    if result.get("per_trial"):
        lines += ["", "## Sign test per trial", "", "| experiment | round | trials | rejected at 5% | p-values |", "|---|---|---|---|---|"]
        for p in result["per_trial"]:
            lines.append(f"| {p['experiment']} | {p['round']} | {p['n_trials']} | {p['n_reject_05']} | "
                         f"{', '.join(_fmt(v, 2) for v in p['pvalues'])} |")
    if result.get("verdicts"):
        lines += ["", "## Claims", "", "| experiment | round | view | modes | four peaks | middle two higher | hole near 0 | rough symmetry | matches paper |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for v in result["verdicts"]:
            c = v["claims"]

            def ok(name: str, c: dict = c) -> str:
                return _fmt(c.get(name, {}).get("holds"))
            lines.append(f"| {v['experiment']} | {v['round']} | {v['view']} | {v['n_modes']} | {ok('four_peaks')} | "
                         f"{ok('middle_two_higher')} | {ok('hole_near_zero')} | {ok('rough_symmetry')} | {v['matches_paper']} |")
    if result.get("figures"):
        lines += ["", "## Figures", ""] + [f"- `{f['png']}`: {f['caption']}" for f in result["figures"]]
    return "\n".join(lines) + "\n"
