"""Spiked or diverged (results/divergence.py): a blow-up training recovers from is a spike, one it
never recovers from a divergence; on synthetic metric rows and on the committed LeNet5 run."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from results.divergence import CHANCE_LOSS, FACTOR, Watch, diverged_models, spiked_models, verdicts
from results.summary import summarize

NAN, INF = float("nan"), float("inf")
LENET5 = Path(__file__).resolve().parents[1] / "docs" / "runs" / "lenet5-cifar10-text"


def _rows(train, test=None, condition="c", trial=0):
    """One model's metric rows, epochs 1..n (test loss 0.5 unless given), with summarize's columns."""
    test = test if test is not None else [0.5] * len(train)
    return [{"experiment": "e", "condition": condition, "condition_name": condition, "round": 1, "density": 0.5,
             "trial": trial, "epoch": i + 1, "train_loss": x, "test_loss": y, "test_acc": 0.5}
            for i, (x, y) in enumerate(zip(train, test, strict=True))]


def _kind(rows):
    (v,) = verdicts(rows).values() or [None]
    return None if v is None else v.kind


def test_a_spike_that_recovers_is_spiked_not_diverged():
    rows = _rows([0.5, 30.0, 2.6, 1.0, 0.4])  # 30 > 10 x 0.5: a spike; below chance again from epoch 4
    (v,) = verdicts(rows).values()
    assert v.kind == "spiked" and not v.diverged
    assert (v.spike["epoch"], v.back["epoch"]) == (2, 4)
    assert not diverged_models(rows) and spiked_models(rows)[("e", "c", 0)]["epoch"] == 2
    # a non-finite epoch is a spike too, when the model comes back
    assert _kind(_rows([0.5, NAN, 0.1])) == _kind(_rows([0.5, 0.4, 0.3], test=[0.5, INF, 0.5])) == "spiked"


def test_a_model_that_goes_non_finite_and_stays_is_diverged():
    rows = _rows([0.5, 0.4, NAN, NAN, NAN])
    (v,) = verdicts(rows).values()
    assert v.kind == "diverged" and v.since["epoch"] == 3 and v.spike["epoch"] == 3
    assert diverged_models(rows)[("e", "c", 0)]["epoch"] == 3 and not spiked_models(rows)
    assert _kind(_rows([0.5, 0.4, 0.3], test=[0.5, INF, INF])) == "diverged"  # the test loss alone
    assert _kind(_rows([1e13, 1e12])) == "diverged"  # blown up within epoch 1 (the baseline's cap)


def test_a_model_above_chance_from_some_epoch_to_the_end_is_diverged():
    # 6.0 > 10 x 0.5 is the spike; 3.0 and 2.5 are finite but above ln 10 = 2.30, through the end
    rows = _rows([0.5, 0.3, 6.0, 3.0, 2.5])
    (v,) = verdicts(rows).values()
    assert v.kind == "diverged" and v.since["epoch"] == 3
    # back below chance after a spike, then above chance again and never back: diverged from epoch 4
    (v,) = verdicts(_rows([0.5, NAN, 0.4, 2.6, 2.8])).values()
    assert v.kind == "diverged" and (v.spike["epoch"], v.since["epoch"]) == (2, 4)


def test_a_normal_model_is_neither():
    assert not verdicts(_rows([2.0, 1.0, 0.5, 0.3]))
    assert not verdicts(_rows([0.5, 0.3, 4.9]))  # below 10 x 0.5: no spike
    assert not verdicts(_rows([20.0, 2.0]))  # 20 < 10 x ln 10: the capped baseline is not crossed
    # no spike, so neither: one that never learned, one that overfits (test loss above chance)
    assert not verdicts(_rows([2.35, 2.34, 2.33]))
    assert not verdicts(_rows([1.0, 0.1, 0.01], test=[1.0, 2.0, 3.0]))


def test_summary_has_diverged_and_spiked_columns_per_condition():
    rows = (_rows([0.5, 30.0, 0.4], condition="a") + _rows([0.5, 0.4, 0.3], condition="a", trial=1)
            + _rows([0.5, NAN, NAN], condition="b") + _rows([0.5, 30.0, 0.4], condition="b", trial=1)
            + _rows([0.5, 0.4, 0.3], condition="n"))
    table = {r["condition"]: (r["diverged"], r["spiked"]) for r in summarize(rows)}
    assert table == {"a": ("false", "true"), "b": ("true", "true"), "n": ("false", "false")}


def test_the_training_warning_says_spiked_and_leaves_diverged_to_the_end(capsys):
    watch = Watch()
    for row in _rows([0.5, 30.0, NAN, 0.4]):
        watch.see(row)
    err = capsys.readouterr().err
    assert err.count("warning:") == 1  # once per model
    assert "e c trial 0 spiked at epoch 2" in err and "whether it diverged is decided at the end" in err
    assert "diverged at epoch" not in err


def test_describe_words_divergences_and_spikes_separately():
    from reports.divergence import describe

    text = describe(_rows([0.5, NAN, NAN], condition="b") + _rows([0.5, 30.0, 2.6, 0.4], condition="a"))
    diverged, spiked = text.split(" Spiked (")
    assert diverged.startswith("diverged (") and "b trial 0 (from epoch 2)" in diverged and "a trial" not in diverged
    assert "a trial 0 (spiked at epoch 2, below chance again from epoch 4)" in spiked and "not diverged" in spiked
    assert describe(_rows([0.5, 30.0, 0.4])).startswith("spiked (")
    assert describe(_rows([0.5, 0.4])) is None


@pytest.fixture(scope="module")
def lenet5_rows():
    from train import open_run

    return [r for r in open_run(LENET5).metrics() if r["condition"] == "dense-dn-10"]


def test_committed_lenet5_dense_dn_10_spiked_and_recovered_in_every_trial_none_diverged(lenet5_rows):
    """Its epoch-1 train loss is 14.8-29.3 (a blow-up within the first epoch); by epoch 2 it is at
    2.4-2.8 in all five trials and it ends at 0.48-0.52 accuracy: a transient spike, not a divergence."""
    trials = sorted({int(r["trial"]) for r in lenet5_rows})
    assert trials == [0, 1, 2, 3, 4]
    hits = verdicts(lenet5_rows)
    assert not diverged_models(lenet5_rows)
    assert all(v.kind == "spiked" for v in hits.values())
    for t in trials:
        own = sorted((r for r in lenet5_rows if int(r["trial"]) == t), key=lambda r: int(r["epoch"]))
        first, last = float(own[0]["train_loss"]), own[-1]
        assert first > CHANCE_LOSS  # every trial starts with a blown-up first epoch ...
        assert math.isfinite(float(last["train_loss"])) and float(last["train_loss"]) < CHANCE_LOSS  # ... and recovers
        assert float(last["test_acc"]) > 0.47
        # trials 1-4 cross the spike threshold (10 x ln 10 = 23.0); trial 0's 14.8 stays under it
        assert ((("lenet5-cifar10", "dense-dn-10", t) in hits) == (first > FACTOR * CHANCE_LOSS))
    assert sorted(t for (_, _, t) in hits) == [1, 2, 3, 4]


def test_committed_lenet5_summary_and_report_read_dense_dn_10_as_spiked_not_diverged():
    from reports.divergence import describe
    from reports.runs import load_run

    (e,) = load_run(LENET5).experiments  # the report recomputes summary rows from metrics.csv
    row = next(s for s in e.summary if s["condition"] == "dense-dn-10")
    assert (row["diverged"], row["spiked"]) == ("false", "true")
    assert all(s["diverged"] == "false" for s in e.summary)
    text = describe(e.rows)
    assert text.startswith("spiked (") and "diverged (" not in text
    assert "dense-dn-10 trial 1 (spiked at epoch 1, below chance again from epoch 3)" in text
