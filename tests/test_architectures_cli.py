"""`dn analyze architectures` on tiny results folders pruned by |θ0| alone (no training), where the
no-drift prediction is the truth: its KS to θ_LT is sampling error, its files are written whole, and
bad input fails in one line."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from _cli import dn_lines, run_dn

from results.store import write_json, write_npz

LAYERS = [{"name": "fc1", "param": "fc1.weight", "shape": [100, 80]},
          {"name": "fc2", "param": "fc2.weight", "shape": [10, 20]}]
RATE, ROUNDS, TRIALS = 0.3, 3, 3


def make_run(path: Path, model: str = "toy", scope: str = "global", init: str = "xavier_uniform") -> Path:
    """A results folder whose masks prune the smallest |θ0| (the rank rule), as training without drift."""
    layers = []
    for spec in LAYERS:
        out, inp = spec["shape"]
        std = math.sqrt(2.0 / (inp + out))
        layers.append({**spec, "fan_in": inp, "fan_out": out, "init_std": std,
                       "init_bound": math.sqrt(3.0) * std if init.endswith("uniform") else None})
    exp = {"model": model, "dataset": "synthetic", "prune_rate": RATE, "prune_rates": "", "prune_scope": scope,
           "prune_rounds": ROUNDS, "init": init, "protocol": "text", "trials": TRIALS}
    write_json(path / "config.json", {"name": "toy", "experiments": [exp]})
    name = f"{model}-synthetic"
    write_json(path / name / "layers.json", layers)
    for t in range(TRIALS):
        rng = np.random.default_rng(t)
        theta = {s["param"]: (rng.uniform(-s["init_bound"], s["init_bound"], s["shape"]) if s["init_bound"]
                              else rng.normal(0.0, s["init_std"], s["shape"])) for s in layers}
        masks = [{p: np.ones(v.shape, bool) for p, v in theta.items()}]
        for _ in range(ROUNDS):
            groups = [list(theta)] if scope == "global" else [[p] for p in theta]
            new = {}
            for names in groups:
                score = np.concatenate([np.where(masks[-1][p], np.abs(theta[p]), -1.0).ravel() for p in names])
                alive = int(sum(masks[-1][p].sum() for p in names))
                keep = np.ones(score.size, bool)
                keep[np.argsort(score, kind="stable")[: score.size - alive + round(RATE * alive)]] = False
                start = 0
                for p in names:
                    new[p] = keep[start:start + theta[p].size].reshape(theta[p].shape)
                    start += theta[p].size
            masks.append(new)
        arrays = {f"theta0/{p}": v.astype(np.float32) for p, v in theta.items()}
        arrays.update({f"mask/{r}/{p}": m.astype(np.float32) for r, ms in enumerate(masks) for p, m in ms.items()})
        write_npz(path / name / "tickets" / f"trial{t}.npz", arrays)
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("arch")
    return [make_run(root / "toy-global"), make_run(root / "other-global", model="other"),
            make_run(root / "toy-normal", init="xavier_normal", scope="layerwise")]


def test_prediction_is_within_sampling_error_of_tickets_pruned_by_theta0(runs):
    from dn_analysis.architectures import analyze

    rows, pairs = analyze(runs)
    for r in rows:
        assert r["round"] == ROUNDS and r["trials"] == TRIALS
        n = r["density_measured"] * sum(np.prod(s["shape"]) for s in LAYERS)
        # the one-sample KS' 99.9% critical value 1.95/√n, plus the grid's own error (a tenth of 1/√n)
        for key in ("raw", "std"):
            assert r[f"ks_pred_{key}"] < 2.05 / math.sqrt(n), (r["label"], key, r[f"ks_pred_{key}"])
        assert r["modes_predicted_std"] == r["modes_measured_std"]
        assert "DnModel not fitted" in r["dn_note"] and "trained" in r["dn_note"]
        assert math.isnan(r["ks_dn_std"])
    # two architectures of the same layer shapes, pruned the same way: the same D_n
    assert len(pairs) == 1 and pairs[0]["ks_predicted_std"] < 0.01 and pairs[0]["same_predicted"]


def test_command_writes_its_files_and_rewrites_the_docs_block(runs, tmp_path, monkeypatch, capsys):
    doc = tmp_path / "doc.md"
    doc.write_text("# Title\n\nkept above\n\n<!-- architectures:begin runs: x -->\nold table\n"
                   "<!-- architectures:end -->\n\nkept below\n")
    out = tmp_path / "out"
    args = ["analyze", "architectures", *sum((["--runs", str(r)] for r in runs), []), "--out", str(out),
            "--docs", str(doc)]
    code, stdout, err = run_dn(args, monkeypatch, capsys)
    assert code == 0, err
    for name in ("architectures.csv", "architectures.md", "architectures.json", "architecture-pairs.csv"):
        assert (out / name).stat().st_size > 0
    with open(out / "architectures.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["architecture"] for r in rows] == ["toy", "other", "toy"]
    assert json.loads((out / "architectures.json").read_text())["experiments"][0]["shelves_raw"] == 2
    text = doc.read_text()
    assert "old table" not in text and "kept above" in text and "kept below" in text
    assert (out / "architectures.md").read_text() in text
    assert f"runs: {' '.join(map(str, runs))} -->" in text
    assert not (tmp_path / "doc.md.sha256").exists()  # a document is edited by hand: no checksum beside it

    from dn_analysis.architectures.__main__ import main

    (tmp_path / "again.md").write_text(text.replace("kept below", "still kept"))
    assert main([str(tmp_path / "again.md"), "--no-model"]) == 0  # runs read from the marker
    assert "still kept" in (tmp_path / "again.md").read_text()


def test_bad_input_fails_in_one_line(runs, tmp_path, monkeypatch, capsys):
    empty = tmp_path / "empty"
    write_json(empty / "config.json", {"name": "x", "experiments": [{"model": "toy", "dataset": "synthetic"}]})
    cases = {"does not exist": tmp_path / "missing", "no tickets": empty}
    for reason, folder in cases.items():
        code, _, err = run_dn(["analyze", "architectures", "--runs", str(folder), "--out", str(tmp_path / "o")],
                              monkeypatch, capsys)
        assert code != 0 and len(dn_lines(err)) == 1, (reason, err)
        assert not (tmp_path / "o").exists()
    code, _, err = run_dn(["analyze", "architectures", "--runs", str(runs[0]), "--round", "7", "--out",
                           str(tmp_path / "o")], monkeypatch, capsys)
    assert code != 0 and len(dn_lines(err)) == 1 and "no round 7" in err
