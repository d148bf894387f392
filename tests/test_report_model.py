"""The report's DnModel table and finding come from model-distances.json, numbers and verdicts alike."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
from scipy import stats

from reports.model import model_rows, model_sentence, model_table
from results.store import write_json


def _exp(tmp_path: Path, rows: list[dict]) -> SimpleNamespace:
    write_json(tmp_path / "analysis" / "model" / "model-distances.json", rows)
    return SimpleNamespace(run=SimpleNamespace(path=tmp_path), name="fc1-mnist", label="fc1-mnist", key="fc1-mnist")


def _row(fit: str, round: int, ks: list[float], floor: float, target: float) -> dict:
    med = float(np.median(ks))
    return {"experiment": "fc1-mnist", "layer": "all", "fit": fit, "fit_rounds": "1-10", "round": round,
            "density": 0.8**round, "ks_per_trial": " ".join(f"{k:.4f}" for k in ks), "ks_median": med,
            "noise_floor": floor, "ratio": med / floor, "target": target, "ok": med / floor <= target,
            "threshold_model_ks": 0.2}


def test_interval_is_a_t_interval_over_the_held_out_trials(tmp_path):
    ks = [0.010, 0.012, 0.011, 0.015]
    rows = model_rows(_exp(tmp_path, [_row("held-out", 6, ks, 0.01, 2.0)]))
    lo, hi = stats.t.interval(0.95, len(ks) - 1, loc=np.mean(ks), scale=stats.sem(ks))
    assert np.isclose(rows[0]["ci_low"], lo, rtol=1e-3) and np.isclose(rows[0]["ci_high"], hi, rtol=1e-3)


def test_sentence_names_the_cells_outside_their_target(tmp_path):
    exp = _exp(tmp_path, [_row("held-out", 6, [0.010, 0.012], 0.01, 2.0),
                          _row("held-out", 10, [0.05, 0.06], 0.01, 2.0)])
    text = model_sentence([exp], "Table 9")
    assert "outside the target ratio: fc1-mnist 10.7% held-out (5.5x, target 2x)" in text
    assert "at a median KS of 0.011 to 0.055, that is fc1-mnist 26.2% held-out 1.1x and fc1-mnist 10.7% held-out " \
           "5.5x the run's trial-to-trial KS" in text
    assert text.endswith("(Table 9).")
    table = model_table([exp], "cap")
    assert [r[11] for r in table.rows] == ["yes", "no"]
    assert [r[5] for r in table.rows] == ["0.0110", "0.0550"]
    assert [r[1] for r in table.rows] == ["DnModel", "DnModel"]      # rows written before the model column


def test_no_model_analysis_no_table_no_sentence(tmp_path):
    exp = SimpleNamespace(run=SimpleNamespace(path=tmp_path), name="fc1-mnist", label="fc1-mnist", key="fc1-mnist")
    assert model_rows(exp) == [] and model_table([exp], "c") is None and model_sentence([exp], "x") is None


def _other(model: str, round: int, ks: list[float], floor: float) -> dict:
    return {**_row("held-out", round, ks, floor, 2.0), "model": model, "note": "", "refit_trials": "",
            "refit_ratios": "", "ratio_min": float(np.median(ks)) / floor, "ratio_max": float(np.median(ks)) / floor,
            "ok_refits": True}


def test_refit_spread_outside_the_target_is_named_and_no_blanket_claim(tmp_path):
    within = {**_row("held-out", 10, [0.015, 0.016], 0.01, 2.0), "model": "DnModel", "note": "",
              "refit_trials": "1", "refit_ratios": "3.40", "ratio_min": 1.55, "ratio_max": 3.4, "ok_refits": False}
    rows = [within, _other("trial-0 ticket", 10, [0.011, 0.011], 0.01), _other("SoftThresholdDn", 10, [0.03, 0.03], 0.01)]
    exp = _exp(tmp_path, rows)
    text = model_sentence([exp], "Table 9")
    assert "every cell is within" not in text
    assert "outside the target ratio: fc1-mnist 10.7% held-out refitted on trial 1 (3.4x, target 2x)" in text
    assert "refitted on another trial its ratio ranges over 1.6-3.4x" in text
    assert "trial-0 ticket at 1.1x" in text and "SoftThresholdDn at 3.0x" in text
    table = model_table([exp], "cap")
    assert [r[1] for r in table.rows] == ["DnModel", "trial-0 ticket", "SoftThresholdDn"]
    assert table.rows[0][9] == "1.55-3.40" and table.rows[0][11] == "no (refit)"


def test_a_model_that_could_not_be_fitted_is_a_row_saying_why(tmp_path):
    note = "DnModel not fitted: lenet5 has no trained/ weights"
    missing = {"experiment": "fc1-mnist", "layer": "all", "model": "DnModel", "fit": "held-out", "fit_rounds": "1-10",
               "round": 10, "density": 0.107, "ks_per_trial": "", "ks_median": None, "noise_floor": 0.01,
               "ratio": None, "target": 2.0, "ok": False, "threshold_model_ks": 0.2, "note": note}
    exp = _exp(tmp_path, [missing, _other("SoftThresholdDn", 10, [0.02, 0.02], 0.01)])
    table = model_table([exp], "cap")
    assert table.rows[0][5] == note
    text = model_sentence([exp], "T")
    assert note in text and "SoftThresholdDn at 2.0x" in text and "every cell" not in text
