"""`dn export --tables-only`: the tables and per-layer θ_LT summaries of a run, no tickets."""

from __future__ import annotations

import numpy as np
from _cli import run_dn

from results.store import read_csv
from train import open_run
from train.export_tables import HIST_EDGES


def test_tables_only_export_summarizes_theta_lt_per_layer(tmp_path, monkeypatch, capsys):
    out, copy = tmp_path / "run", tmp_path / "copy"
    code, _, err = run_dn(["train", "-e", "lenet300-digits", "--preset", "smoke", "--trials", "2",
                           "--conditions", "full", "--conditions", "pruned", "--prune-rounds", "2",
                           "--ticket-rounds", "2", "--prune-steps", "4it", "--no-progress", "--device", "cpu",
                           "--out", str(out)], monkeypatch, capsys)
    assert code == 0, err
    code, _, err = run_dn(["export", str(out), "--out", str(copy), "--tables-only"], monkeypatch, capsys)
    assert code == 0, err
    full, small = open_run(out), open_run(copy)
    assert small.tables_only and small.is_complete and small.experiments == []
    assert small.metrics() == full.metrics()
    assert not (copy / "lenet300-digits" / "tickets").exists()
    exp = full.experiment("lenet300-digits")
    rows = read_csv(copy / "lenet300-digits" / "theta_lt_summary.csv")
    hist = read_csv(copy / "lenet300-digits" / "theta_lt_hist.csv")
    assert len(rows) == len(exp.trials) * len(exp.rounds) * len(exp.layers)
    for row in rows:
        values = exp.theta_lt(int(row["trial"]), int(row["round"]), per_layer=True)[row["layer"]]
        std = float(row["init_std"])
        assert int(row["kept"]) == values.size
        assert float(row["mean"]) == float(values.mean())  # the same numbers, written and read as text
        assert float(row["q50_std"]) == float(np.quantile(values / std, 0.5))
        counts = [int(h["count"]) for h in hist if (h["trial"], h["round"], h["layer"])
                  == (row["trial"], row["round"], row["layer"])]
        assert sum(counts) == values.size  # every survivor in one bin (the grid's ends clip)
    assert float(hist[0]["bin_low_std"]) >= HIST_EDGES[0]
