"""`dn analyze` end to end on a smoke run (digits), quick settings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dn.cli import _register, app

_register()
runner = CliRunner()


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("smoke")
    res = runner.invoke(app, ["train", "-e", "fc1-digits", "-e", "lenet5-digits32", "--preset", "smoke",
                              "--out", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="module")
def analyzed(smoke_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("analysis")
    res = runner.invoke(app, ["analyze", "all", "--runs", str(smoke_run), "--out", str(out), "--quick"])
    assert res.exit_code == 0, res.output
    return out


def test_outputs_exist(analyzed: Path) -> None:
    for name in ("analysis.json", "analysis.csv", "summary.md"):
        assert (analyzed / name).stat().st_size > 0
    data = json.loads((analyzed / "analysis.json").read_text())
    assert data["schema"] == "dn-analysis/1"
    assert {t["test"] for t in data["tests"]} >= {"symmetry", "signs", "modes", "dip", "count_modes",
                                                  "shape_verdict", "compare"}
    trend = [t for t in data["tests"] if t["method"] == "input-trend"]
    assert trend and {t["experiment"] for t in trend} == {"fc1-digits"}  # dense first layers only
    for f in data["figures"]:
        assert (analyzed / f["png"]).exists() and (analyzed / f["pdf"]).exists()
    assert any(f["name"] == "fig5-raw" for f in data["figures"])
    for fit in data["fits"]:
        for kind in ("kde", "gmm"):
            for part in fit[kind].values():
                assert (analyzed / part["sampler"]).exists()


def test_numbers_match_api(analyzed: Path, smoke_run: Path) -> None:
    from dn_analysis import load_dn, symmetry_test
    from dn_analysis.views import open_experiment, pooled_theta_lt

    data = json.loads((analyzed / "analysis.json").read_text())
    name, info = next((n, e) for n, e in data["experiments"].items() if e["analyzed_rounds"])
    r = info["analyzed_rounds"][0]
    x = pooled_theta_lt(open_experiment(smoke_run, name), r)
    row = next(t for t in data["tests"] if t["experiment"] == name and t["round"] == r and t["view"] == "raw"
               and t["test"] == "symmetry" and t["method"] == "sign" and t["trial"] is None)
    api = symmetry_test(x, center=0.0, method="sign")
    assert row["statistic"] == pytest.approx(api.statistic) and row["pvalue"] == pytest.approx(api.pvalue)
    assert row["n"] == x.size
    fit = next(f for f in data["fits"] if f["experiment"] == name and f["round"] == r)
    kde = load_dn(analyzed / fit["kde"]["silverman"]["sampler"])
    assert kde.bandwidth_ == pytest.approx(fit["kde"]["silverman"]["bandwidth"])
    assert np.isfinite(kde.rvs(10, random_state=0)).all()


def test_bad_inputs(tmp_path: Path) -> None:
    from dn.cli import main  # noqa: F401  (the error path is main's; CliRunner sees the exception)
    from dn_analysis.pipeline import run_analysis

    with pytest.raises(Exception, match="not a dn results folder|not a folder"):
        run_analysis([tmp_path], tmp_path / "out", quick=True)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text(json.dumps({"experiments": [
        {"model": "fc1", "dataset": "digits", "ticket_rounds": [1], "trials": 1, "conditions": ["full"], "epochs": 1}]}))
    with pytest.raises(Exception, match="no tickets yet"):
        run_analysis([tmp_path / "run"], tmp_path / "out", quick=True)
    res = runner.invoke(app, ["analyze", "all", "--runs", str(tmp_path / "run")])
    assert res.exit_code != 0
