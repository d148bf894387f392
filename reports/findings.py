"""The Results paragraphs on training: the paper's claims, what a ticket carries, dense starts, time to target.

Every sentence is built from the verdicts of paired contrasts (`reports.verdicts`): "lower" or
"higher" only where the Holm-adjusted paired t test rejects, "equivalent" only where TOST rejects at
the stated margin, "not resolved" otherwise, and censored times to target only as shares and
Kaplan-Meier medians. Where a finding replicates or departs from earlier work, the sentence that says
so is chosen by the same verdicts.
"""

from __future__ import annotations

from collections import Counter

from reports import fmt, verdicts
from reports.claims import CONTRA, EQUIV, HELD, OPEN, SHORT, Claim, Part
from reports.controls import dense_others, gaps, has_controls
from reports.runs import ExperimentStatus
from reports.trialstats import density_of, levels
from results import contrasts
from results.divergence import verdicts as spike_verdicts
from results.labels import Label
from results.paired import TARGET_DROP

WORDS = {HELD: "higher", CONTRA: "lower", EQUIV: "equivalent", OPEN: "not resolved"}
ZHOU, FRANKLE_CARBIN = "Zhou et al. (2019)", "Frankle & Carbin (2019)"


def _counted(parts: list[Part]) -> str:
    """'9 higher, 3 equivalent (±0.5 points) and 4 not resolved' over the tested parts."""
    n = Counter(p.status for p in parts)
    margin = next((verdicts.margin_text(p.row) for p in parts if p.status == EQUIV), "")
    out = []
    for status in (HELD, CONTRA, EQUIV, OPEN):
        if n[status]:
            out.append(f"{n[status]} {WORDS[status]}" + (f" ({margin})" if status == EQUIV else ""))
    return fmt.join(out)


def _example(parts: list[Part]) -> Part:
    """The part that decides the claim's verdict: a contradiction, else an equivalence, else an open one,
    else the held part with the smallest difference."""
    for status in (CONTRA, EQUIV, OPEN):
        found = [p for p in parts if p.status == status]
        if found:
            return found[0]
    return min(parts, key=lambda p: abs(p.row["mean_diff"]))


def claim_clause(c: Claim) -> str | None:
    """'pruned > reinit > remask: of 16 contrasts 8 higher, 3 equivalent (±0.5 points) and 5 not resolved (e.g. ...)'."""
    t = c.tested
    if not t:
        return None
    ex = _example(t)
    name = SHORT.get(c.key, c.claim)
    if all(p.status == HELD for p in t):
        return f"{name}: higher in all {len(t)} contrasts (smallest: {ex.text})"
    return f"{name}: of {len(t)} contrasts {_counted(t)} (e.g. {ex.text})"


def claims_paragraph(claims: dict[str, Claim], where: str) -> str | None:
    clauses = [x for k in ("ordering", "sparsity", "full", "lenet5") if (x := claim_clause(claims[k]))]
    if not clauses:
        return None
    text = (f"The paper's accuracy claims, each part a paired contrast of max test accuracy in points ({where}): "
            + "; ".join(clauses) + ".")
    return text


def _cells(exps: list[ExperimentStatus]) -> dict[str, list[tuple[str, dict]]]:
    """{sparse condition name: [(experiment density cell, its contrast with the ticket)]}, max accuracy."""
    out: dict[str, list[tuple[str, dict]]] = {}
    for e in exps:
        if not has_controls(e):
            continue
        for level, g in gaps(e).items():
            for cond, row in g.items():
                if row is not None and cond not in dense_others(e, level):
                    out.setdefault(Label.split(cond)[0], []).append((f"{e.label} {fmt.pct(density_of(e, level))}", row))
    return out


def _pattern(rows: list[dict]) -> str:
    n = Counter(verdicts.word(r) for r in rows)
    return fmt.join([f"{word} in {k} of {len(rows)}" for word, k in n.most_common()])


def controls_paragraph(exps: list[ExperimentStatus], where: str) -> str | None:
    """Each sparse control against the ticket, grouped by its pattern of verdicts over the cells."""
    cells = _cells(exps)
    if not cells:
        return None
    groups: dict[str, list[str]] = {}
    for name, found in cells.items():
        groups.setdefault(_pattern([r for _, r in found]), []).append(name)
    parts = [f"{fmt.join(names)}: {pattern}" for pattern, names in groups.items()]
    text = ("What a ticket carries, each condition against the ticket (max accuracy, experiment x density cells): "
            + "; ".join(parts))
    equal = [(cell, name, r) for name, found in cells.items() for cell, r in found
             if r["verdict"] == contrasts.EQUIVALENT]
    if equal:
        cell, name, r = min(equal, key=lambda x: abs(x[2]["mean_diff"]))
        text += f" (closest: {name}, {cell}, {verdicts.cell(r)})"
    text += f" ({where})."
    fresh = [r for _, r in cells.get("rand-init", [])]
    if fresh:
        lower = verdicts.count(fresh, contrasts.LOWER)
        text += (f" A fresh draw from D_θ on the ticket's mask (rand-init, the random reinitialization of "
                 f"{FRANKLE_CARBIN}) is lower than the ticket in {lower} of {len(fresh)} cells"
                 + (", as they found." if lower == len(fresh) else "; they found it lower throughout."))
    sign = [r for _, r in cells.get("keep-sign", [])]
    if sign:
        if any(r["verdict"] == contrasts.EQUIVALENT for r in sign) and not any(r["verdict"] == contrasts.LOWER
                                                                               for r in sign):
            text += (f" θ0's signs with magnitudes drawn from |θ_LT| (keep-sign) are equivalent to the ticket where "
                     f"resolved, as {ZHOU} found that the signs carry a ticket's initialization.")
        elif any(r["verdict"] == contrasts.LOWER for r in sign):
            text += (f" keep-sign is lower than the ticket in {verdicts.count(sign, contrasts.LOWER)} of {len(sign)} "
                     f"cells: the signs alone do not carry the ticket there, which departs from {ZHOU}.")
    return text


def _spikes(e: ExperimentStatus, condition: str) -> str:
    """', which spiked in 4 of 5 trials and recovered' (results.divergence), or ''."""
    hits = [v for (_, cond, _), v in spike_verdicts(e.rows).items() if cond == condition]
    if not hits:
        return ""
    spiked = sum(not v.diverged for v in hits)
    diverged = len(hits) - spiked
    n = e.trials_done.get(condition, e.trials)
    parts = ([f"spiked and recovered in {spiked} of {n} trials"] if spiked else []) + \
            ([f"diverged in {diverged} of {n}"] if diverged else [])
    return f", {fmt.join(parts)}"


def dense_paragraph(exps: list[ExperimentStatus], where: str) -> str | None:
    """The paper's Future Work: a dense start drawn from D_n against the dense θ0 it replaces."""
    found = [(e, c, verdicts.find(e, c, "full")) for e in exps for lv in levels(e) for c in dense_others(e, lv)]
    found = [(e, c, r) for e, c, r in found if r is not None]
    if not found:
        return None
    cells = [f"{e.label} {c} {verdicts.cell(r)}{_spikes(e, c)}" for e, c, r in found]
    n = Counter(r["verdict"] for _, _, r in found)
    head = fmt.join([f"{verdicts.word(next(r for _, _, r in found if r['verdict'] == v))} in {k} of {len(found)}"
                     for v, k in n.most_common()])
    return (f"A dense network drawn from its layer's D_n (the paper's Future Work) against the dense θ0 (full) it "
            f"replaces, max accuracy: {head} ({'; '.join(cells)}; {where}).")


def _median(v: float | None) -> str:
    return f"{v:.0f}" if fmt.finite(v) else "none (fewer than half reach it)"


def target_paragraph(exps: list[ExperimentStatus], where: str) -> str | None:
    """Epochs to reach full's max accuracy less results.paired.TARGET_DROP: KM medians and shares, never a
    t interval over censored values."""
    parts = []
    for e in exps:
        rows = [r for r in verdicts.rows(e) if r["metric"] == "epochs_to_target" and r["reference"] == "full"]
        if not rows:
            continue
        full = rows[0]["km_median_reference"]
        tickets = []
        for lv in levels(e):
            r = verdicts.find(e, Label.named("pruned", lv), "full", "epochs_to_target")
            if r is None:
                continue
            if r["verdict"] == contrasts.CENSORED:
                tickets.append(f"{r['condition']} {verdicts.censored_text(r)}")
            else:
                tickets.append(f"{r['condition']} KM median {_median(r['km_median'])} (minus full: "
                               f"{verdicts.interval(r)} epochs, {verdicts.word(r)})")
        censored = sum(1 for r in rows if r["verdict"] == contrasts.CENSORED)
        head = (f"full's KM median {full:.0f} epochs" if fmt.finite(full) else
                "fewer than half of full's trials reach it")
        parts.append(f"{e.label}: {head}; {'; '.join(tickets)}; "
                     f"{censored} of {len(rows)} conditions have a trial that never reaches the target")
    if not parts:
        return None
    tickets = [r for e in exps for lv in levels(e)
               if (r := verdicts.find(e, Label.named("pruned", lv), "full", "epochs_to_target")) is not None]
    faster = verdicts.count(tickets, contrasts.LOWER)
    cite = (f" The ticket reaches the target in fewer epochs than full in {faster} of {len(tickets)} cells, where "
            f"{FRANKLE_CARBIN} found winning tickets to learn faster than the dense network"
            + ("." if faster == len(tickets) else "; in the others it is not faster here (slower, not resolved, "
               "or censored).")) if tickets else ""
    return (f"Epochs to reach full's trial-mean max accuracy less {100 * TARGET_DROP:g} points (a trial that never "
            "reaches it is "
            f"censored, so medians are Kaplan-Meier and shares reached replace t intervals): {'. '.join(parts)} "
            f"({where})." + cite)
