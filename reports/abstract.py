"""The abstract: five to eight generated sentences, each the short form of a Results paragraph.

The sentences read the same verdicts as the Results (`reports.verdicts`, the claims, the D_n
analysis), so the abstract cannot say more than the paragraphs it summarizes.
"""

from __future__ import annotations

from collections import Counter

from reports import fmt, verdicts
from reports.authors_table import BAND_TARGET
from reports.claims import HELD, SHORT, Claim
from reports.controls import dense_others, gaps, has_controls
from reports.protocol import evaluated, welch_rows
from reports.runs import ExperimentStatus
from reports.trialstats import levels
from results import contrasts
from results.labels import Label
from results.paired import TARGET_DROP

MAX_SENTENCES = 8


def opening(exps: list[ExperimentStatus]) -> str:
    nets = fmt.join(list(dict.fromkeys(f"{e.model} on {e.config['dataset']}" for e in exps)))
    protocols = fmt.join(sorted({e.protocol for e in exps}))
    conds = len({c for e in exps for c in e.config.get("conditions", [])})
    trials = fmt.join(sorted({str(e.trials) for e in exps}), "or")
    return (f"We retrain lottery tickets of {nets}, found by iterative magnitude pruning, from {conds} kinds of "
            f"start ({protocols} protocol; {trials} trials per run) to test what the initial weights that survive "
            "pruning, θ_LT with distribution D_n, carry.")


def claims_sentence(claims: dict[str, Claim]) -> str | None:
    """'Of the paper's accuracy claims, X holds in every paired contrast; Y: 8 of 16 higher, ...'."""
    tested = {k: c for k, c in claims.items() if k in SHORT and c.tested}
    if not tested:
        return None
    held = [SHORT[k] for k, c in tested.items() if c.verdict == HELD]
    rest = [f"{SHORT[k]} is higher in {sum(p.status == HELD for p in c.tested)} of {len(c.tested)} contrasts"
            for k, c in tested.items() if c.verdict != HELD]
    parts = ([f"{fmt.join(held)} {'holds' if len(held) == 1 else 'hold'} in every paired contrast"] if held else [])
    return "Of the paper's accuracy claims, " + "; ".join(parts + rest) + "."


def sign_sentence(exps: list[ExperimentStatus]) -> str | None:
    rows = [g.get(Label.named("keep-sign", lv)) for e in exps if has_controls(e) for lv, g in gaps(e).items()]
    rows = [r for r in rows if r is not None]
    if not rows:
        return None
    n = Counter(verdicts.word(r) for r in rows)
    text = fmt.join([f"{word} in {k} of {len(rows)}" for word, k in n.most_common()])
    agree = (verdicts.count(rows, contrasts.EQUIVALENT) and not verdicts.count(rows, contrasts.LOWER))
    return (f"Against the ticket, θ0's signs with magnitudes drawn from |θ_LT| (keep-sign) are {text} experiment x "
            f"density cells, {'in line with' if agree else 'unlike'} Zhou et al. (2019).")


def dense_sentence(exps: list[ExperimentStatus]) -> str | None:
    rows = [(e, r) for e in exps for lv in levels(e) for c in dense_others(e, lv)
            if (r := verdicts.find(e, c, "full")) is not None]
    if not rows:
        return None
    by = Counter(verdicts.word(r) for _, r in rows)
    return ("A dense network drawn from D_n (the paper's Future Work) is, against the dense θ0, "
            + fmt.join([f"{word} in {k} of {len(rows)} cells" for word, k in by.most_common()]) + ".")


def protocol_sentence(pairs: list[tuple[ExperimentStatus, ExperimentStatus]]) -> str | None:
    gaps, factors = [], set()
    for t, a in pairs:
        w = welch_rows(t, a).get("full")
        if w is None:
            continue
        gaps.append(f"{fmt.points(w['mean_diff'])} points on {t.name} ({w['verdict']})")
        kept, total = evaluated(a)
        if total and kept != total:
            factors.add(f"counts {kept} of {total} test images but divides by {total}")
    if not gaps:
        return None
    text = f"Under the authors' code the dense network (full) scores {fmt.join(gaps)} against the paper's text"
    return text + (f"; their test loop {fmt.join(sorted(factors))}." if factors else ".")


def authors_sentence(authors: list[tuple[ExperimentStatus, dict]]) -> str | None:
    conds = [c for _, res in authors for c in res["conditions"]]
    if not conds:
        return None
    ok = sum(c["in_band"] >= BAND_TARGET for c in conds)
    return (f"Our authors-protocol runs reproduce the authors' published curves: {ok} of {len(conds)} conditions lie "
            f"inside their min-max band on at least {100 * BAND_TARGET:.0f}% of epochs (lowest "
            f"{100 * min(c['in_band'] for c in conds):.0f}%).")


def shape_sentence(analysis: dict | None) -> str | None:
    std = [q for q in (analysis or {}).get("trial_level", []) if q["question"] == "number of modes"
           and q.get("view") == "standardized" and "modal" in q]
    raw = [q for q in (analysis or {}).get("trial_level", []) if q["question"] == "number of modes"
           and q.get("view", "raw") == "raw" and q.get("paper_claim") == HELD]
    if not std:
        return None
    modal = sorted({int(q["modal"]) for q in std})
    return (f"Network by network, D_n shows the paper's four modes in every trial in {len(raw)} of {len(std)} "
            f"experiment x density cells; divided by each layer's init scale it has "
            f"{fmt.join([str(m) for m in modal], 'or')} modes.")


def target_sentence(exps: list[ExperimentStatus]) -> str | None:
    """How often the ticket gets to full's accuracy sooner than full (paired.csv's epochs_to_target verdicts)."""
    rows = [r for e in exps for lv in levels(e)
            if (r := verdicts.find(e, Label.named("pruned", lv), "full", "epochs_to_target")) is not None]
    if not rows:
        return None
    n = Counter(verdicts.word(r) for r in rows)
    return (f"Against full, the ticket's epochs to reach full's accuracy less {100 * TARGET_DROP:g} points are "
            + fmt.join([f"{word} in {k} of {len(rows)}" for word, k in n.most_common()])
            + " experiment x density cells (censored: a trial never reached it).")


def abstract(exps: list[ExperimentStatus], claims: dict[str, Claim], analysis: dict | None,
             authors: list[tuple[ExperimentStatus, dict]],
             pairs: list[tuple[ExperimentStatus, ExperimentStatus]]) -> str:
    body = [claims_sentence(claims), sign_sentence(exps), dense_sentence(exps), protocol_sentence(pairs),
            authors_sentence(authors), shape_sentence(analysis), target_sentence(exps)]
    kept = [s for s in body if s][:MAX_SENTENCES - 2]
    closing = ("Every number in this report is computed from the runs' metrics and tickets; the long tables are in "
               "the Appendix.")
    return " ".join([opening(exps), *kept, closing])
