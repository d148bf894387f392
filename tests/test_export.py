"""A compact run (dn export) answers every question the full run answers, from fewer bytes."""

from __future__ import annotations

import numpy as np
import pytest

from results.errors import DnError
from train import open_run
from train.conditions import CONDITIONS
from train.config import RunConfig, preset_experiment
from train.export import export_run
from train.runner import train_run


@pytest.fixture(scope="module", params=["text", "authors"])
def runs(request, tmp_path_factory):
    conditions = ("all",) if request.param == "text" else ("paper",)
    exp = preset_experiment("smoke", "fc1-digits", protocol=request.param, epochs=1, prune_rounds=3,
                            ticket_rounds=(2, 3), conditions=conditions)
    base = tmp_path_factory.mktemp(request.param)
    full = train_run(RunConfig((exp,), seed=1, preset="smoke"), base / "full", device="cpu", progress=False)
    return open_run(full), open_run(export_run(full, base / "compact"))


def test_compact_run_has_the_same_tickets_tables_and_starts(runs):
    full, compact = runs
    assert compact.is_complete
    for table in ("metrics.csv", "summary.csv", "paired.csv", "pruning_metrics.csv"):
        assert (compact.path / table).read_bytes() == (full.path / table).read_bytes()
    a, b = full.experiment("fc1-digits"), compact.experiment("fc1-digits")
    assert b.rounds == a.rounds == [0, 1, 2, 3]
    conditions = {r["condition_name"] for r in full.metrics()}
    for t in a.trials:
        for r in a.rounds:
            for p, m in a.mask(t, r).items():
                np.testing.assert_array_equal(b.mask(t, r)[p], m)
        np.testing.assert_array_equal(b.theta_lt(t, 3), a.theta_lt(t, 3))
        for c in conditions & set(CONDITIONS):
            for r in (2, 3):
                wa, ma = a.initial_weights(c, trial=t, round=r)
                wb, mb = b.initial_weights(c, trial=t, round=r)  # checked against the stored digest too
                for k in wa:
                    np.testing.assert_array_equal(wb[k], wa[k])


def test_compact_files_are_smaller_and_trained_weights_say_why_they_are_missing(runs):
    full, compact = runs
    size = lambda p: sum(f.stat().st_size for f in p.rglob("*") if f.is_file())  # noqa: E731
    assert size(compact.path) < size(full.path)
    with pytest.raises(DnError, match="compact run"):
        compact.experiment("fc1-digits").trained(0, 1)


def test_an_unfinished_or_occupied_target_is_refused(runs, tmp_path):
    full, compact = runs
    with pytest.raises(DnError, match="not empty"):
        export_run(full.path, compact.path)
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text(full.path.joinpath("config.json").read_text())
    with pytest.raises(DnError, match="not complete"):
        export_run(tmp_path / "half", tmp_path / "out")


def test_compact_run_carries_the_training_stats_dn_model_fits_from(runs):
    from dn_analysis.model import DnModel
    from dn_analysis.model.stats import STATS_FILE, read_training_stats, training_stats

    full, compact = runs
    a, b = full.experiment("fc1-digits"), compact.experiment("fc1-digits")
    stored = read_training_stats(b.dir / STATS_FILE)
    again = training_stats(a, per_stratum=stored.meta["per_stratum"], seed=stored.meta["seed"])
    for key, traj in again.trajectories.items():  # the same sample as from the full trained weights
        for name in ("theta0", "trained", "weight"):
            np.testing.assert_array_equal(getattr(stored.trajectories[key], name), getattr(traj, name))
    model = DnModel(per_stratum=10, n_grid=40, paths=20, max_iter=3).fit(b, trials=[0])
    assert model.fit_rounds_ == [1, 2, 3]


def test_nested_masks_are_stored_as_one_count_per_weight_and_others_as_bits():
    from train.export import _pack_tickets

    rng = np.random.default_rng(0)
    nested = [np.ones((4, 6), bool)]
    for _ in range(3):
        nested.append(nested[-1] & (rng.random((4, 6)) > 0.3))
    crossed = [np.ones(5, bool), np.array([1, 0, 1, 0, 1], bool), np.array([0, 1, 1, 0, 1], bool)]
    arrays = {"theta0/w": rng.standard_normal((4, 6)).astype(np.float32)}
    arrays |= {f"mask/{r}/w": m.astype(np.uint8) for r, m in enumerate(nested)}
    arrays |= {f"mask/{r}/v": m.astype(np.uint8) for r, m in enumerate(crossed)}
    packed = _pack_tickets(arrays)
    assert "maskcount/w" in packed and not any(k.startswith("maskbits/") and k.endswith("/w") for k in packed)
    assert "maskcount/v" not in packed and int(packed["maskcount_rounds"]) == 4
    for r, m in enumerate(nested):
        np.testing.assert_array_equal(packed["maskcount/w"] > r, m)
    for r, m in enumerate(crossed):
        np.testing.assert_array_equal(np.unpackbits(packed[f"maskbits/{r}/v"], count=5).astype(bool), m)
    np.testing.assert_array_equal(packed["theta0/w"], arrays["theta0/w"])


def test_training_stats_can_be_left_out(runs, tmp_path):
    from dn_analysis.model.stats import STATS_FILE

    full, _ = runs
    lean = open_run(export_run(full.path, tmp_path / "lean", stats_per_stratum=0))
    assert lean.is_complete and not (lean.experiment("fc1-digits").dir / STATS_FILE).exists()
    with pytest.raises(DnError, match="stats-per-stratum"):
        export_run(full.path, tmp_path / "bad", stats_per_stratum=-1)
