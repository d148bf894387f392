"""Build the report as a short paper: Abstract, Methods, Results, Limitations, References, Appendix.

Every sentence that states a number or a comparison is generated from the runs (metrics.csv,
paired.csv's verdicts, the tickets) and the D_n analysis (trial-level answers); nothing typed can
contradict a run. The Results come first after Methods, one paragraph per finding with its figure;
the long tables are in the Appendix. Markdown and PDF are rendered from the same blocks.
"""

from __future__ import annotations

import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

from dn_analysis.naming import display_path
from dn_analysis.outputs import REPORT_OWNS, check_folder, check_out, default_out
from reports import claims as claims_mod
from reports import fmt
from reports.abstract import abstract
from reports.appendix import appendix
from reports.architectures import read as read_architectures
from reports.architectures import section as architecture_section
from reports.authors_table import authors_results
from reports.doc import Block, Bullets, Heading, Para
from reports.limits import limitations, references
from reports.markdown import to_markdown
from reports.methods import methods
from reports.pdf import to_pdf
from reports.protocol import protocol_pairs
from reports.provenance import provenance
from reports.runs import ExperimentStatus, RunInfo, load_runs
from reports.sections import figures, results
from results.errors import DnError
from results.integrity import DamagedFile
from results.store import atomic_write_bytes, read_json, whole_folder

TITLE = "dn report: lottery-ticket initialization and D_n"


class Numberer:
    """Numbers tables and figures in document order and remembers them by key for the findings."""

    def __init__(self) -> None:
        self.refs: dict[str, str] = {}
        self.counts = {"table": 0, "figure": 0}

    def __call__(self, key: str, kind: str, caption: str) -> str:
        self.counts[kind] += 1
        label = f"{kind.capitalize()} {self.counts[kind]}"
        self.refs[key] = label
        return f"{label}. {caption}"


def _load_analysis(run_dirs: list[Path], out: Path, analysis: Path | None, quick: bool,
                   data_dir: Path | None = None) -> tuple[dict | None, Path | None, str]:
    """(analysis.json dict, its folder, a note). Reads --analysis DIR, else runs dn_analysis into out/analysis.

    A damaged file stops the report (named, with its fix); any other failure of the analysis only
    leaves the report without its D_n statistics, and says so.
    """
    if analysis is not None:
        path = analysis / "analysis.json" if analysis.is_dir() else analysis
        if not path.exists():
            raise DnError(f"{analysis} has no analysis.json; run `dn analyze all --runs ... --out {analysis}` first")
        runs = " ".join(f"--runs {display_path(d)}" for d in run_dirs)
        try:
            data = read_json(path)
        except DamagedFile as err:
            raise err.advise(f"it holds the D_n analysis this report reads: run `dn analyze all {runs} --out "
                             f"{path.parent}` again, which writes it again") from err
        return data, path.parent, f"D_n analysis read from `{display_path(path)}`."
    try:
        from dn_analysis.pipeline import run_analysis
    except ImportError as err:
        return None, None, f"D_n analysis not available ({err}); the report has no D_n statistics."
    target = out / "analysis"
    try:
        result = run_analysis(run_dirs, target, quick=quick, data_dir=data_dir)
    except DamagedFile:
        raise
    except Exception as err:  # noqa: BLE001 - a failed analysis must not stop the rest of the report
        return None, None, f"D_n analysis failed ({type(err).__name__}: {err}); the report has no D_n statistics."
    return result, target, (f"D_n analysis computed by `dn_analysis.pipeline.run_analysis` into `analysis/` beside "
                            f"this report ({'quick settings' if quick else 'full settings'}).")


def _one_line(exps: list[ExperimentStatus], analysis: dict | None) -> str:
    parts = [f"{e.label} ({e.protocol} protocol, {e.preset} preset, {e.trials} trials x {e.epochs} epochs)" for e in exps]
    an = "no D_n analysis" if not analysis else f"D_n analysis with {'quick' if analysis.get('quick') else 'full'} settings"
    return (f"Runs: {fmt.join(parts)}; {an}; built {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} "
            "by `dn report`.")


def _tables(exps: list[ExperimentStatus], cl: dict, number: Numberer,
            authors: list[tuple[ExperimentStatus, dict]]) -> list[Block]:
    """The Appendix's blocks without the D_n analysis: what a caller that has only runs can render."""
    return appendix(exps, cl, None, authors, number)


def build_report(run_dirs: list[Path], out: Path | None = None, analysis: Path | None = None,
                 quick: bool = False, data_dir: Path | None = None,
                 architectures: list[Path] | None = None) -> Path:
    """Write report.md, report.pdf, figures/ (and analysis/ unless `analysis` is given) into `out`.

    `architectures`: output folders of `dn analyze architectures`, read into a section of their own.

    `out` (default runs/report-<first run folder name>) is written whole or not at all: the report
    is built in a temporary sibling that replaces an earlier report only once it is complete.
    """
    t0 = time.perf_counter()
    run_dirs = [Path(p) for p in run_dirs]
    check_folder(data_dir, "--data-dir")
    infos = load_runs(run_dirs)
    out = Path(out) if out is not None else default_out("report", run_dirs[0])
    check_out(out, run_dirs)
    with whole_folder(out, owns=REPORT_OWNS) as work:
        given = None if analysis is None else Path(analysis) if Path(analysis).is_dir() else Path(analysis).parent
        if given is not None and out.resolve() in given.resolve().parents:  # --analysis inside the old report
            shutil.copytree(given, work / given.resolve().relative_to(out.resolve()))
        _build(infos, run_dirs, work, analysis, quick, data_dir, t0, architectures or [])
    return out


def _build(infos: list[RunInfo], run_dirs: list[Path], out: Path, analysis: Path | None, quick: bool,
           data_dir: Path | None, t0: float, architectures: list[Path]) -> None:
    """The report's blocks, rendered into `out` (build_report's temporary folder)."""
    (out / "figures").mkdir(parents=True, exist_ok=True)
    exps = [e for info in infos for e in info.experiments]
    analysis_dict, _, note = _load_analysis(run_dirs, out, analysis, quick, data_dir)
    cl = {c.key: c for c in claims_mod.training_claims(exps) + claims_mod.shape_claims(analysis_dict)}
    authors = authors_results(exps)

    number = Numberer()
    drawn = figures(exps, out)
    tail = appendix(exps, cl, analysis_dict, authors, number) + provenance(infos, exps, note, number)
    for m in (analysis_dict or {}).get("missing", []):
        where = m.get("experiment") if m.get("round") is None else f"{m.get('experiment')} round {m.get('round')}"
        tail.append(Para(f"Missing in the D_n analysis: {where}: {m.get('reason')}."))
    body = results(exps, cl, analysis_dict, authors, drawn, number, number.refs)
    head: list[Block] = [Heading(TITLE, 1), Para(_one_line(exps, analysis_dict)), Heading("Abstract", 2),
                         Para(abstract(exps, cl, analysis_dict, authors, protocol_pairs(exps)))]
    across = architecture_section(architectures) if architectures else []
    others = read_architectures(architectures)[0] if architectures else None
    blocks = head + methods(exps) + body + across + limitations(exps, analysis_dict, others) + references() + tail
    built = f"Report built in {time.perf_counter() - t0:.1f} s."
    if isinstance(blocks[-1], Bullets):  # the provenance's last item, extended: no line of its own
        blocks[-1].items[-1] += " " + built
    else:
        blocks.append(Para(built))
    atomic_write_bytes(out / "report.md", to_markdown(blocks).encode())
    to_pdf(blocks, out, out / "report.pdf", TITLE)
