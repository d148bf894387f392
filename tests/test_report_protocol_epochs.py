"""Two protocols are compared over their common epochs: a longer run is cut to the shorter one."""

from __future__ import annotations

from reports.protocol import protocol_pairs
from reports.runs import ExperimentStatus
from results.summary import summarize


def _status(protocol: str, epochs: int) -> ExperimentStatus:
    rows = [{"experiment": "fc1-mnist", "model": "fc1", "dataset": "mnist", "condition": "full", "round": 0,
             "density": 1.0, "trial": t, "epoch": e, "train_loss": 1.0 / e, "test_loss": 1.0,
             "test_acc": 0.5 + 0.01 * e + 0.001 * t} for t in range(3) for e in range(1, epochs + 1)]
    return ExperimentStatus(run=None, name="fc1-mnist", config={"protocol": protocol, "epochs": epochs, "trials": 3},
                            rows=rows, summary=summarize(rows), epochs_done={"full": epochs},
                            trials_done={"full": 3}, expected_conditions=["full"], has_tickets=True,
                            pruning_complete=True)


def test_the_longer_run_is_cut_to_the_common_epochs():
    (t, a), = protocol_pairs([_status("text", 30), _status("authors", 100)])
    assert t.epochs == a.epochs == 30
    assert max(int(r["epoch"]) for r in a.rows) == 30
    s = a.summary[0]
    assert s["max_avg_acc_epoch"] == 30 and abs(s["max_avg_acc"] - (0.5 + 0.30 + 0.001)) < 1e-12
    assert s["min_avg_train_loss_epoch"] == 30


def test_equal_epochs_are_left_alone():
    text, authors = _status("text", 5), _status("authors", 5)
    (t, a), = protocol_pairs([text, authors])
    assert t is text and a is authors
