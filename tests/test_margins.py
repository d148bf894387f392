"""The equivalence margin is declared when a run starts, recorded in config.json and paired.csv, and fixed."""

from __future__ import annotations

import pytest

from results import DnError
from results.store import read_csv, read_json
from train.config import RunConfig, preset_experiment
from train.runner import train_run


def _cfg() -> RunConfig:
    exp = preset_experiment("smoke", "fc1-digits", epochs=1, prune_rounds=2, ticket_rounds=(2,), trials=2)
    return RunConfig((exp,), seed=3, preset="smoke")


def test_a_declared_margin_is_recorded_used_and_cannot_change(tmp_path):
    out = tmp_path / "run"
    train_run(_cfg(), out, device="cpu", progress=False, equivalence_margin=0.2)
    recorded = read_json(out / "config.json")["equivalence_margins"]["fc1-digits"]
    assert recorded["max_acc"] == pytest.approx(0.002) and recorded["final_acc"] == pytest.approx(0.002)
    rows = [r for r in read_csv(out / "paired.csv") if r["metric"] == "max_acc"]
    assert rows and all(r["margin"] == pytest.approx(0.002) for r in rows)
    train_run(_cfg(), out, device="cpu", progress=False)  # resuming keeps it
    assert read_json(out / "config.json")["equivalence_margins"]["fc1-digits"] == recorded
    with pytest.raises(DnError, match="cannot change once declared"):
        train_run(_cfg(), out, device="cpu", progress=False, equivalence_margin=0.3)


def test_without_a_margin_the_declared_default_is_recorded(tmp_path):
    from results.contrasts import MARGINS

    out = tmp_path / "run"
    train_run(_cfg(), out, device="cpu", progress=False)
    assert read_json(out / "config.json")["equivalence_margins"]["fc1-digits"] == MARGINS
