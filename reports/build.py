"""Build the report: findings first, then per-experiment tables, figures, D_n statistics, provenance.

Every sentence that states a number or a comparison is generated from the runs' metrics.csv
(paired over trials) and the D_n analysis (trial-level answers); nothing typed can contradict
a run. Markdown and PDF are rendered from the same blocks.
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
from reports.authors_table import authors_results, authors_table
from reports.controls import controls_figure, controls_table, has_controls
from reports.divergence import describe as describe_divergence
from reports.divergence import divergence_reading
from reports.dnstats import dn_table
from reports.doc import Block, Heading, Image, Numbered, Para
from reports.figures import histogram_figure, training_figure
from reports.findings import INTERVALS, findings
from reports.markdown import to_markdown
from reports.model import model_images, model_table
from reports.pdf import to_pdf
from reports.protocol import protocol_pairs, protocol_table
from reports.provenance import provenance
from reports.reference import reference_for
from reports.runs import ExperimentStatus, RunInfo, load_runs
from reports.tables import experiment_table
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
        return None, None, f"D_n analysis not available ({err}); Figure 5 drawn from the tickets without tests."
    target = out / "analysis"
    try:
        result = run_analysis(run_dirs, target, quick=quick, data_dir=data_dir)
    except DamagedFile:
        raise
    except Exception as err:  # noqa: BLE001 - a failed analysis must not stop the rest of the report
        return None, None, f"D_n analysis failed ({type(err).__name__}: {err}); Figure 5 drawn from the tickets without tests."
    return result, target, (f"D_n analysis computed by `dn_analysis.pipeline.run_analysis` into `analysis/` beside "
                            f"this report ({'quick settings' if quick else 'full settings'}).")


def _what(e: ExperimentStatus) -> str:
    from train.config import PAPER_EXPERIMENTS

    ref = reference_for(e)
    base = (f"{e.config['model']} on {e.config['dataset']} ({e.data.get('train', '?')} train / "
            f"{e.data.get('test', '?')} test images), {e.protocol} protocol, preset {e.preset}, "
            f"{e.trials} trials x {e.epochs} epochs, from `{e.run_name}`")
    if ref:
        return f"{base}; beside {ref.source}."
    why = (f"{e.config['dataset']} is not the paper's dataset for {e.model}" if e.name not in PAPER_EXPERIMENTS
           else f"preset {e.preset}, not the paper's settings")
    return f"{base}; not the paper's experiment ({why}), so no paper column."


def _one_line(exps: list[ExperimentStatus], analysis: dict | None) -> str:
    parts = [f"{e.label} ({e.protocol} protocol, {e.preset} preset, {e.trials} trials x {e.epochs} epochs)" for e in exps]
    an = "no D_n analysis" if not analysis else f"D_n analysis with {'quick' if analysis.get('quick') else 'full'} settings"
    return (f"Runs: {fmt.join(parts)}; {an}; built {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} "
            "by `dn report`.")


def _tables(exps: list[ExperimentStatus], cl: dict, number: Numberer,
            authors: list[tuple[ExperimentStatus, dict]]) -> list[Block]:
    blocks: list[Block] = [Heading("Results per experiment", 2)]
    for e in exps:
        blocks.append(Heading(e.label, 3))
        if not e.summary:
            why = ("tickets imported from another tool, no condition trained here (`dn train --tickets` trains them)"
                   if e.preset == "import" else "no metrics yet")
            blocks.append(Para(f"{e.label}: {why}; no table."))
            continue
        ref = reference_for(e)
        blocks.append(Para(_what(e)))
        cap = (f"{e.label}: max of the trial-averaged test accuracy and min of the trial-averaged train loss, "
               "with their epochs and the trials' range at that epoch" + (f", beside {ref.source}." if ref else "."))
        blocks.append(experiment_table(e, ref, number(f"table:{e.key}", "table", cap)))
        if diverged := describe_divergence(e.rows):  # one line per experiment (results/divergence.py)
            blocks.append(Para(f"{e.label}: {diverged}"))
            if reading := divergence_reading(e):
                blocks.append(Para(f"{e.label}: {reading}"))
    rows = [[c.claim, c.source, c.verdict, c.evidence] for c in cl.values() if c.parts]
    if rows:
        from reports.doc import Table

        blocks.append(Heading("The paper's claims, checked", 3))
        blocks.append(Table(["Claim", "Where", "Verdict", "Evidence (95% intervals over trials)"], rows,
                            caption=number("claims", "table", "Each claim per experiment: held when every interval "
                                           "lies on the claimed side, not held when one lies on the other side.")))
    for t, a in protocol_pairs(exps):
        blocks.append(Heading(f"{t.name}: the paper's text against its authors' code", 3))
        blocks.append(protocol_table(t, a, number(f"protocol:{t.name}", "table",
                                                  f"{t.name}: max avg test accuracy and min avg train loss under "
                                                  f"both protocols over epochs 1-{t.epochs}; authors - text is a Welch "
                                                  "interval in points.")))
    for e, result in authors:
        blocks.append(Heading(f"{e.label}: the authors' protocol against their published outputs", 3))
        blocks.append(authors_table(result, number(
            f"authors:{e.key}", "table", f"{e.label} against the authors' published per-trial outputs "
            "(reports/authors_reference.csv), over the epochs both have: max avg test accuracy, min avg train loss, "
            "and the share of epochs whose trial-mean accuracy lies inside the authors' min-max band over trials "
            "±0.003.")))
    with_controls = [e for e in exps if has_controls(e) and e.summary]
    if with_controls:
        blocks.append(Heading("What a ticket carries: each condition against the ticket", 3))
    for i, e in enumerate(with_controls):
        key = "controls" if i == 0 else f"controls:{e.key}"
        t = controls_table(e, number(key, "table", f"{e.label}: condition - ticket (pruned) in points of test "
                                     "accuracy, paired over trials; the last row: dense-dn - full."))
        if t:
            blocks.append(t)
    return blocks


def _figures(exps: list[ExperimentStatus], analysis: dict | None, analysis_dir: Path | None, out: Path,
             number: Numberer) -> list[Block]:
    figs = out / "figures"
    blocks: list[Block] = [Heading("Figures", 2)]
    for e in exps:
        name = f"figures/training-{e.key}.png"
        if training_figure(e, out / name):
            blocks.append(Image(name, number(f"fig:training:{e.key}", "figure", f"{e.label}: test accuracy and train "
                                             "loss per epoch, mean over trials, band = min-max over trials.")))
    if controls_figure(exps, figs / "controls.png"):
        blocks.append(Image("figures/controls.png", number("fig:controls", "figure", "Each condition's gap to the ticket "
                                                           "(max and final test accuracy) with its 95% interval.")))
    blocks += model_images(exps, figs, number)
    copied = []
    if analysis and analysis_dir:
        first = {e: min(v["analyzed_rounds"]) for e, v in analysis.get("experiments", {}).items() if v["analyzed_rounds"]}
        for fig in analysis.get("figures", []):
            keep = fig.get("kind") == "fig5" or (fig.get("kind") == "layers" and fig.get("view") == "raw"
                                                 and first.get(fig.get("experiment")) == fig.get("round"))
            src = analysis_dir / fig["png"]
            if keep and src.exists():
                shutil.copyfile(src, figs / f"{fig['name']}.png")
                key = "fig:fig5" if fig["kind"] == "fig5" and "fig:fig5" not in copied else \
                    "fig:layers" if fig["kind"] == "layers" and "fig:layers" not in copied else f"fig:{fig['name']}"
                copied.append(key)
                blocks.append(Image(f"figures/{fig['name']}.png", number(key, "figure", fig.get("caption", fig["name"]))))
    if not copied and histogram_figure(exps, figs / "fig5-histograms.png"):
        blocks.append(Image("figures/fig5-histograms.png", number("fig:fig5", "figure", "θ_LT pooled over trials with a "
                                                                 "Gaussian KDE (Silverman).")))
    return blocks


def _dn(analysis: dict | None, number: Numberer, exps: list[ExperimentStatus] | None = None) -> list[Block]:
    blocks: list[Block] = [Heading("D_n statistics", 2)]
    if not analysis:
        return blocks + [Para("No D_n analysis; see Provenance.")] + _model(exps or [], number)
    n_tests = len(analysis.get("tests", [])) + len(analysis.get("trial_level", []))
    blocks.append(Para(f"Each row answers a question about networks: one statistic per trial, its mean and 95% t "
                       f"interval over trials, and the verdict. The last column describes the pooled weights of those "
                       f"networks; its p-values count weights as independent draws. All {n_tests} tests are in "
                       "analysis/analysis.csv (docs/analysis-format.md names the fields)."))
    fits = [f for f in analysis.get("fits", [])]
    at_max = [f"{f['experiment']} {fmt.pct(f['density'])}" for f in fits if f["gmm"]["free"].get("at_max")]
    if fits:
        k = fits[0]["gmm"]["free"].get("k_max", 10)
        chosen = ", ".join(f"{f['experiment']} {fmt.pct(f['density'])}: {f['gmm']['free']['n_components']}" for f in fits)
        blocks.append(Para(f"Gaussian mixtures (BIC over 1..{k} components) chose {chosen}."
                           + (f" BIC picked the largest size searched ({k}) for {fmt.join(at_max)}: the mixture "
                              "is a smoothing of D_n there, not a count of its parts." if at_max else "")))
    table = dn_table(analysis, number("dn", "table", "D_n questions per experiment and ticket round, answered over "
                                      "trials."))
    if table:
        blocks.append(table)
    return blocks + _model(exps, number)


def _model(exps: list[ExperimentStatus], number: Numberer) -> list[Block]:
    """DnModel's distances to held-out θ_LT (dn analyze model), when a run has them."""
    mt = model_table(exps, number("model", "table", "DnModel fitted on trial 0 (all rounds, or rounds 1-6 for the "
                                  "extrapolation) against the held-out trials' pooled θ_LT: KS over those trials, "
                                  "the run's trial-to-trial KS (noise floor) and their ratio."))
    if not mt:
        return []
    return [Heading("A model of D_n: survival of each initial weight", 3),
            Para("DnModel (docs/dn-model.md) learns per layer how training moves each weight between rewinds and "
                 "iterates survival through the pruning rounds; the layer-threshold model is its no-noise limit. "
                 "Its figures are with the others above."), mt]


def build_report(run_dirs: list[Path], out: Path | None = None, analysis: Path | None = None,
                 quick: bool = False, data_dir: Path | None = None) -> Path:
    """Write report.md, report.pdf, figures/ (and analysis/ unless `analysis` is given) into `out`.

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
        _build(infos, run_dirs, work, analysis, quick, data_dir, t0)
    return out


def _build(infos: list[RunInfo], run_dirs: list[Path], out: Path, analysis: Path | None, quick: bool,
           data_dir: Path | None, t0: float) -> None:
    """The report's blocks, rendered into `out` (build_report's temporary folder)."""
    (out / "figures").mkdir(parents=True, exist_ok=True)
    exps = [e for info in infos for e in info.experiments]
    analysis_dict, analysis_dir, note = _load_analysis(run_dirs, out, analysis, quick, data_dir)
    cl = {c.key: c for c in claims_mod.training_claims(exps) + claims_mod.shape_claims(analysis_dict)}

    number = Numberer()
    authors = authors_results(exps)
    body = _tables(exps, cl, number, authors) + _figures(exps, analysis_dict, analysis_dir, out, number)
    body += _dn(analysis_dict, number, exps) + provenance(infos, exps, note, number)
    for m in (analysis_dict or {}).get("missing", []):
        where = m.get("experiment") if m.get("round") is None else f"{m.get('experiment')} round {m.get('round')}"
        body.append(Para(f"Missing in the D_n analysis: {where}: {m.get('reason')}."))
    items = findings(exps, cl, analysis_dict, number.refs, authors)
    head: list[Block] = [Heading(TITLE, 1), Para(_one_line(exps, analysis_dict)), Heading("Findings", 2), Para(INTERVALS)]
    head.append(Numbered(items) if items else Para("No finding yet: no condition has metrics."))
    blocks = head + body
    blocks.append(Para(f"Report built in {time.perf_counter() - t0:.1f} s."))
    atomic_write_bytes(out / "report.md", to_markdown(blocks).encode())
    to_pdf(blocks, out, out / "report.pdf", TITLE)
