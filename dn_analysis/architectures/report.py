"""architectures.md: the rows as tables and the answer to "is D_n the same across architectures?".

Every number and every verdict in the text is read from the rows (rows.py), so re-running the
command on more runs rewrites the answer too. ``rewrite_block`` puts the same text between the
markers of a document (docs/architectures.md), leaving the rest of it alone.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dn_analysis.architectures.rows import SAME

BEGIN, END = "<!-- architectures:begin", "<!-- architectures:end -->"


def _f(v: Any, digits: int = 3) -> str:
    if v is None or v == "" or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def _pruning(r: dict) -> str:
    return f"{r['scope']} {r['rates']}"


def _modes(r: dict, key: str) -> str:
    measured = r[f"modes_measured_{key}"]
    if measured in (None, ""):
        return f"{r[f'modes_predicted_{key}']} / n/a"
    trials = str(r[f"modes_measured_{key}_trials"]).split()
    same = sum(1 for t in trials if t == str(measured))
    return f"{r[f'modes_predicted_{key}']} / {measured} ({same} of {r[f'modes_n_defined_{key}']} trials)"


def _table(columns: Sequence[str], cells: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table: the header row, its rule, one row per entry of `cells`."""
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns),
            *("| " + " | ".join(row) + " |" for row in cells)]


def experiment_table(rows: Sequence[dict]) -> list[str]:
    columns = ["experiment", "protocol", "init", "pruning", "round", "density predicted / measured",
               "shelves raw, std", "predicted shelves (init stds, share of θ_LT)", "modes predicted / measured, raw",
               "modes predicted / measured, std", "KS no-drift", "KS DnModel", "noise floor", "no-drift / floor",
               "DnModel / floor"]
    return _table(columns, [
        [r["label"], r["protocol"], r["init"], _pruning(r), str(r["round"]),
         f"{100 * r['density_predicted']:.2f}% / {100 * r['density_measured']:.2f}%",
         f"{r['shelves_raw']}, {r['shelves_std']}", str(r["edges_std"]), _modes(r, "raw"), _modes(r, "std"),
         _f(r["ks_pred_std"]), _f(r["ks_dn_std"], 4), _f(r["noise_floor_std"], 4), _f(r["ratio_pred_std"], 1),
         _f(r["ratio_dn_std"], 2)] for r in rows])


def raw_table(rows: Sequence[dict]) -> list[str]:
    columns = ["experiment", "protocol", "predicted shelves (raw units, share of θ_LT)", "edges closer than this merge",
               "KS no-drift", "KS DnModel", "noise floor", "no-drift / floor", "DnModel / floor"]
    return _table(columns, [
        [r["label"], r["protocol"], str(r["edges_raw"]), f"{r['tolerance_raw']:.3g}", _f(r["ks_pred_raw"]),
         _f(r["ks_dn_raw"], 4), _f(r["noise_floor_raw"], 4), _f(r["ratio_pred_raw"], 1), _f(r["ratio_dn_raw"], 2)]
        for r in rows])


def pair_table(pairs: Sequence[dict]) -> list[str]:
    columns = ["architectures", "init", "pruning", "round", "KS predicted", "KS measured", "noise floor",
               "predicted / floor", "measured / floor"]
    return _table(columns, [
        [f"{p['a']} vs {p['b']}", p["init"], f"{p['scope']} {p['rates']}", str(p["round"]),
         f"{p['ks_predicted_std']:.4f}", f"{p['ks_measured_std']:.4f}", f"{p['noise_floor_std']:.4f}",
         f"{p['ratio_predicted']:.2f}", f"{p['ratio_measured']:.2f}"] for p in pairs])


def experiment_sentence(r: dict) -> str:
    dn = (f"DnModel, fitted on trial 0, is {r['ratio_dn_std']:.2f}x it on the other trials"
          if r["dn_note"] == "" else "DnModel is not available here (" + r["dn_note"].rstrip(".") + ")")
    return (f"- **{r['label']}** ({r['protocol']}: {r['init']}, {_pruning(r)}, round {r['round']}): "
            f"{r['shelves_raw']} shelves in raw units, {r['shelves_std']} in init-std units; the no-drift "
            f"prediction has {r['modes_predicted_std']} modes in init-std units and {r['modes_predicted_raw']} raw, "
            f"the tickets' modal counts are {_f(r['modes_measured_std'])} and {_f(r['modes_measured_raw'])}. "
            f"Its KS to θ_LT is {_f(r['ks_pred_std'])}, {_f(r['ratio_pred_std'], 1)}x the noise floor; {dn}.")


def pair_sentence(p: dict) -> str:
    def word(same: bool) -> str:
        return "the same" if same else "different"

    reading = {(True, True): "as predicted",
               (False, False): "as predicted: the layers' shapes and init already set them apart",
               (True, False): "so the difference is made by training, not by the layers' shapes and init",
               (False, True): "so training evens out the difference the shapes and init predict"}
    return (f"- **{p['a']} vs {p['b']}** ({p['init']}, {p['scope']} {p['rates']}, round {p['round']}): from "
            f"shapes and init alone their standardized D_n are {word(p['same_predicted'])} (KS "
            f"{p['ks_predicted_std']:.4f}, {p['ratio_predicted']:.2f}x the noise floor); measured they are "
            f"{word(p['same_measured'])} (KS {p['ks_measured_std']:.4f}, {p['ratio_measured']:.2f}x), "
            f"{reading[(bool(p['same_predicted']), bool(p['same_measured']))]}.")


def answer(rows: Sequence[dict], pairs: Sequence[dict]) -> list[str]:
    """The generated answer: counts of agreements, then one sentence per pair and per experiment."""
    same = sum(p["same_measured"] for p in pairs)
    right = sum(p["same_measured"] == p["same_predicted"] for p in pairs)
    views = [(r, k) for r in rows for k in ("raw", "std") if r[f"modes_measured_{k}"] not in (None, "")]
    modes_ok = sum(r[f"modes_predicted_{k}"] == r[f"modes_measured_{k}"] for r, k in views)
    near = [r for r in rows if isinstance(r["ratio_pred_std"], float) and r["ratio_pred_std"] <= SAME]
    dn = [r for r in rows if r["dn_note"] == ""]
    dn_ok = sum(r["ratio_dn_std"] <= SAME for r in dn)
    out = []
    if pairs:
        out.append(f"Of {len(pairs)} pair(s) of architectures pruned the same way, {same} have the same "
                   f"standardized D_n within {SAME:g}x the noise floor, and the no-drift prediction calls "
                   f"{right} of {len(pairs)} right.")
    else:
        out.append("No two architectures here are pruned the same way (same init, scope, rates and round), "
                   "so no pair is compared.")
    out.append(f"The prediction's mode count equals the tickets' modal count in {modes_ok} of {len(views)} "
               f"experiment-views; its KS to θ_LT is within {SAME:g}x the noise floor in {len(near)} of "
               f"{len(rows)} experiments, DnModel's in {dn_ok} of the {len(dn)} it could be fitted on.")
    return [" ".join(out), "", *map(pair_sentence, pairs), *([""] if pairs else []),
            *map(experiment_sentence, rows)]


def markdown(rows: Sequence[dict], pairs: Sequence[dict], command: str) -> str:
    """The whole generated text (architectures.md and the block of docs/architectures.md)."""
    lines = [f"Generated by `{command}`.", "", "**Answer.** " + answer(rows, pairs)[0], "",
             *answer(rows, pairs)[2:], "", "Per experiment, in units of each layer's init std (KS: median over "
             "trials; modes: predicted exactly in the central 98%, measured per trial by the calibrated "
             "merge counter):", "", *experiment_table(rows), "", "The same in raw units:", "", *raw_table(rows)]
    if pairs:
        lines += ["", "Architectures pruned the same way, in init-std units (KS measured: median over every "
                  "trial of one against every trial of the other; floor: the larger of the two noise floors):",
                  "", *pair_table(pairs)]
    return "\n".join(lines) + "\n"


def block_runs(text: str) -> list[str]:
    """The runs named on a document's begin marker (``<!-- architectures:begin runs: A B -->``)."""
    m = re.search(re.escape(BEGIN) + r"\s+runs:\s*(.*?)-->", text)
    return m.group(1).split() if m else []


def rewrite_block(doc: Path, body: str, runs: Sequence[str]) -> None:
    """Replace the text between the document's markers with `body` (atomically); the rest is kept.

    No checksum sidecar: a document is edited by hand around its generated block.
    """
    from results.errors import DnError
    from results.store import replacing

    text = doc.read_text()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise DnError(f"{doc} has no '{BEGIN} -->' ... '{END}' block to rewrite")
    head = f"{BEGIN} runs: {' '.join(runs)} -->"
    with replacing(doc) as handle:
        handle.write((text[:start] + head + "\n" + body + text[end:]).encode())
