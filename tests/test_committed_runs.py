"""The runs committed under docs/runs/ open from a fresh clone, are complete, and fit the size budget.

Every condition's start is re-derived from the committed ticket and the run's seed and checked
against the sha256 that training recorded for it, so a committed run still reproduces bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from train import open_run
from train.conditions import CONDITIONS

RUNS = Path(__file__).resolve().parents[1] / "docs" / "runs"
COMMITTED = sorted(p for p in RUNS.iterdir() if (p / "config.json").exists())


def test_the_committed_runs_stay_within_the_size_budget():
    files = [p for p in RUNS.rglob("*") if p.is_file()]
    assert max(p.stat().st_size for p in files) < 5 * 2**20  # every file under 5 MB
    assert sum(p.stat().st_size for p in files) < 50 * 2**20  # all of docs/runs under 50 MB


@pytest.mark.parametrize("path", COMMITTED, ids=[p.name for p in COMMITTED])
def test_a_committed_run_is_complete_and_rederives_every_start_it_trained(path):
    run = open_run(path)
    assert run.is_complete
    for name in run.experiments:
        exp = run.experiment(name)
        assert exp.rounds == list(range(exp.config["prune_rounds"] + 1))
        digests = exp.recorded_digests()
        for condition in exp.config["conditions"]:
            rounds = exp.config["ticket_rounds"] if CONDITIONS[condition].uses_ticket else [None]
            for r in rounds:
                weights, mask = exp.initial_weights(condition, trial=0, round=r)  # raises on a digest mismatch
                assert sum(int(m.sum()) for m in mask.values()) > 0
                assert all(np.isfinite(w).all() for w in weights.values())
        assert len(digests) == len(exp.trials) * sum(
            len(exp.config["ticket_rounds"]) if CONDITIONS[c].uses_ticket else 1 for c in exp.config["conditions"])


TABLES_ONLY = [p for p in COMMITTED if open_run(p).tables_only]


@pytest.mark.parametrize("path", TABLES_ONLY, ids=[p.name for p in TABLES_ONLY])
def test_a_tables_only_run_keeps_per_layer_summaries_that_follow_its_rates(path):
    """Networks too large to commit keep θ_LT per layer; its counts obey the run's per-layer rates."""
    from results.rates import layer_rates
    from results.store import read_csv, read_json

    run = open_run(path)
    assert run.is_complete and not run.experiments  # no tickets: the tables and the summaries
    for entry in run.config["experiments"]:
        name = f"{entry['model']}-{entry['dataset']}"
        layers = read_json(path / name / "layers.json")
        rates = layer_rates(entry.get("prune_rates", ""), entry["prune_rate"],
                            [(layer["name"], tuple(layer["shape"])) for layer in layers])
        rows = read_csv(path / name / "theta_lt_summary.csv")
        kept = {(int(r["trial"]), int(r["round"]), r["layer"]): int(r["kept"]) for r in rows}
        trials = sorted({t for t, _, _ in kept})
        assert len(trials) == entry["trials"]
        assert entry["prune_rule"] == "rank"
        groups = ([[layer["name"] for layer in layers]] if entry["prune_scope"] == "global"
                  else [[layer["name"]] for layer in layers])
        for t in trials:
            for names in groups:  # the rank rule: all layers together (global) or each on its own
                n = sum(kept[(t, 0, name)] for name in names)
                assert n == sum(int(np.prod(layer["shape"])) for layer in layers if layer["name"] in names)
                for r in range(1, entry["prune_rounds"] + 1):
                    n -= int(round(rates[names[0]] * n))
                    assert sum(kept[(t, r, name)] for name in names) == n, (t, r, names)
