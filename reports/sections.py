"""The Results section: findings first, one short paragraph each, each figure after the paragraph that
first cites it.

The figures are drawn before the paragraphs (so both can be numbered in reading order): the accuracy
curves, the contrasts with the ticket, epochs to target, our authors-protocol runs over the authors'
published curves, θ_LT per layer over D_θ, and the reinit pools.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reports.authors_table import authors_sentence
from reports.claims import Claim
from reports.doc import Block, Heading, Image, Para
from reports.fig_authors import SOURCE, authors_figure
from reports.fig_contrasts import contrasts_figure
from reports.fig_curves import curves_figure
from reports.fig_layers import layers_figure
from reports.fig_pools import pool_sentence, pools_figure
from reports.fig_target import target_figure
from reports.findings import claims_paragraph, controls_paragraph, dense_paragraph, target_paragraph
from reports.findings_dn import (
    compare_sentence,
    explanation_sentence,
    shape_sentence,
    sign_sentence,
)
from reports.model import model_sentence
from reports.protocol import protocol_pairs, protocol_sentence
from reports.runs import ExperimentStatus
from results.paired import TARGET_DROP

Number = Callable[[str, str, str], str]

FIGURES: tuple[tuple[str, str, Callable[[list[ExperimentStatus], Path], bool], str], ...] = (
    ("fig:curves", "curves.png", curves_figure,
     "Test accuracy per epoch: mean over trials with its 95% t band, one row per experiment and ticket density, "
     "one panel per group of conditions (dense starts beside full). The y axis is zoomed to the range where the "
     "curves differ (from the lowest mean after the first tenth of the epochs)."),
    ("fig:contrasts", "contrasts.png", contrasts_figure,
     "Each condition minus the ticket (pruned) in max test accuracy, and each dense start minus full, with its 95% "
     "paired interval over trials. Filled: lower or higher (Holm-adjusted); diamond: equivalent (TOST); open: not "
     "resolved. Grey band: the equivalence margin. Each panel has its own axis."),
    ("fig:target", "target.png", target_figure,
     f"Epochs to reach full's trial-mean max accuracy less {100 * TARGET_DROP:g} points, per condition: one dot per "
     "trial, an open "
     "triangle for a trial that never reaches it (censored at the last epoch + 1), the black bar at the Kaplan-Meier "
     "median (none where fewer than half reach it); in brackets the trials that reach it."),
    ("fig:authors", "authors.png", authors_figure,
     f"Our authors-protocol runs (solid, 95% t band over trials) over the authors' published curves (dashed, hatched "
     f"min-max band over their trials; {SOURCE}), over the epochs we trained."),
    ("fig:layers", "layers.png", layers_figure,
     "θ_LT of each weight layer over D_θ, that layer's initial weights (grey), pooled over trials, on one scale: the "
     "area under a line is the share of the layer that survives at that ticket density."),
    ("fig:pools", "pools.png", pools_figure,
     "What reinit draws from, pooled over layers and trials: θ_LT (grey) and the protocol's pool (red): θ_LT itself "
     "under the paper's text, the ticket's trained weights at the mask under the authors' code."),
)


def figures(exps: list[ExperimentStatus], out: Path) -> dict[str, tuple[str, str]]:
    """Draw every figure that has data: {key: (path relative to the report, caption)}, not yet numbered."""
    drawn = {}
    for key, name, draw, caption in FIGURES:
        if draw(exps, out / "figures" / name):
            drawn[key] = (f"figures/{name}", caption)
    return drawn


def paragraphs(exps: list[ExperimentStatus], claims: dict[str, Claim], analysis: dict | None,
               authors: list[tuple[ExperimentStatus, dict]], refs: dict[str, str]) -> list[tuple[str, list[str]]]:
    """[(paragraph, the figure keys it cites)] in the order of the Results."""
    def cite(*keys: str) -> tuple[str, list[str]]:
        return ", ".join(refs[k] for k in keys if k in refs) or "not shown", [k for k in keys if k.startswith("fig:")]

    items: list[tuple[str | None, list[str]]] = []

    def add(make: Callable[[str], str | None], *keys: str) -> None:
        where, figs = cite(*keys)
        items.append((make(where), figs))

    add(lambda w: claims_paragraph(claims, w), "claims", "fig:curves")
    add(lambda w: controls_paragraph(exps, w), "controls", "fig:contrasts")
    add(lambda w: dense_paragraph(exps, w), "controls", "fig:contrasts")
    add(lambda w: target_paragraph(exps, w), "fig:target")
    for t, a in protocol_pairs(exps):
        add(lambda w, t=t, a=a: protocol_sentence(t, a, w), f"protocol:{t.name}")
    for e, result in authors:
        add(lambda w, e=e, result=result: authors_sentence(result, e.label, w), f"authors:{e.key}", "fig:authors")
    if analysis:
        add(lambda w: shape_sentence(claims["modes"], claims["middle"], claims["hole"], w), "dn", "fig:layers")
        add(lambda w: explanation_sentence(analysis, w), "dn", "fig:layers")
        add(lambda w: sign_sentence(claims["signs"], w), "dn")
        add(lambda w: compare_sentence(claims["compare"], w), "dn:compare")
    add(lambda w: pool_sentence(exps, w), "fig:pools")
    add(lambda w: model_sentence(exps, w), "model")
    return [(text, figs) for text, figs in items if text]


def results(exps: list[ExperimentStatus], claims: dict[str, Claim], analysis: dict | None,
            authors: list[tuple[ExperimentStatus, dict]], drawn: dict[str, tuple[str, str]],
            number: Number, refs: dict[str, str]) -> list[Block]:
    """The section; figures are numbered in the order the paragraphs first cite them (uncited ones last),
    so the paragraphs are written twice: once to learn that order, once with the numbers."""
    order = [k for _, figs in paragraphs(exps, claims, analysis, authors, {}) for k in figs if k in drawn]
    order = list(dict.fromkeys(order + list(drawn)))
    images = {k: Image(drawn[k][0], number(k, "figure", drawn[k][1])) for k in order}
    blocks: list[Block] = [Heading("Results", 2)]
    placed: set[str] = set()
    found = paragraphs(exps, claims, analysis, authors, refs)
    if not found:
        blocks.append(Para("No finding yet: no condition has metrics."))
    for text, figs in found:
        blocks.append(Para(text))
        for key in figs:
            if key in images and key not in placed:
                blocks.append(images[key])
                placed.add(key)
    return blocks + [images[k] for k in order if k not in placed]
