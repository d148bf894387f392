"""Faults injected into what `dn analyze`, `dn report` and the Python API read.

Every damaged file is named with what it holds and the fix that fits its folder (results/remedy.py):
the same `dn train` for a run it can resume, a backup or a new `dn export` for a finished run or a
compact copy; a derivable table is rebuilt from the done/ markers with one line saying so. A failed
command exits 2 with one line, and leaves no output folder behind (an earlier one unchanged).
"""

from __future__ import annotations

import hashlib
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from _cli import dn_lines, run_dn

from results.integrity import DamagedFile
from results.remedy import EXPORT, RESTORE, RESUME
from train.config import RunConfig, preset_experiment
from train.export import export_run
from train.runner import train_run, write_tables

EXP = "fc1-digits"
TABLES = {"metrics.csv": "metrics", "pruning_metrics.csv": "pruning_metrics", "summary.csv": "summary",
          "paired.csv": "paired"}


def _cfg() -> RunConfig:
    return RunConfig((preset_experiment("smoke", EXP, prune_rounds=1, ticket_rounds=(1,)),), seed=0, preset="smoke")


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    """A finished run (its remedy: restore, never `dn train`)."""
    out = tmp_path_factory.mktemp("reading") / "raw"
    train_run(_cfg(), out, progress=False)
    return out


@pytest.fixture(scope="module")
def compact(raw, tmp_path_factory) -> Path:
    """Its compact copy (`dn export`): an archive whose markers keep no rows."""
    return export_run(raw, tmp_path_factory.mktemp("reading") / "compact")


@pytest.fixture(scope="module")
def analysis(raw, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reading") / "analysis"
    from dn_analysis.pipeline import run_analysis

    run_analysis([raw], out, quick=True, sections=("compare",))
    return out


def _copy(src: Path, tmp_path: Path, name: str | None = None) -> Path:
    return Path(shutil.copytree(src, tmp_path / (name or src.name)))


def _partial(raw: Path, tmp_path: Path) -> Path:
    """A run stopped between two condition stacks: one stack marker fewer, tables written without it."""
    out = _copy(raw, tmp_path, "partial")
    for path in (out / EXP / "done").glob("train-t001-*"):
        path.unlink()
    write_tables(out, _cfg())
    return out


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _error(code: int, err: str) -> str:
    """The one line a failed command printed (exit 2, no traceback)."""
    lines = dn_lines(err)
    assert code == 2 and "Traceback" not in err and len(lines) == 1, (code, err)
    assert lines[0].startswith("dn: error:")
    return lines[0]


def _nothing_left(out: Path) -> None:
    """No output folder where there was none, and no temporary sibling."""
    assert not out.exists(), list(out.rglob("*"))
    assert not [p for p in out.parent.glob(f".{out.name}.*")], list(out.parent.iterdir())


def _analyze(run: Path, out: Path, monkeypatch, capsys, section: str = "compare") -> tuple[int, str, str]:
    return run_dn(["analyze", section, "--runs", str(run), "--out", str(out), "--quick"], monkeypatch, capsys)


def _report(run: Path, out: Path, monkeypatch, capsys, *extra: str) -> tuple[int, str, str]:
    return run_dn(["report", "--runs", str(run), "--out", str(out), "--quick", *extra], monkeypatch, capsys)


# ------------------------------------------------------------------------------- config.json

def test_damaged_config(raw, tmp_path, monkeypatch, capsys):
    from results import open_run

    run = _copy(raw, tmp_path)
    config = run / "config.json"
    _truncate(config)
    with pytest.raises(DamagedFile, match="run's settings and nothing else does: restore it from a backup"):
        open_run(run)
    for command in (_analyze, _report):
        out = tmp_path / command.__name__
        code, _, err = command(run, out, monkeypatch, capsys)
        line = _error(code, err)
        assert f"{config} is damaged" in line and "restore it from a backup or version control" in line
        assert "dn train" not in line
        _nothing_left(out)


# ------------------------------------------------------------------------- tickets/trial*.npz

def test_damaged_ticket_of_a_resumable_run_says_dn_train(raw, tmp_path, monkeypatch, capsys):
    from results import open_run

    run = _partial(raw, tmp_path)
    ticket = run / EXP / "tickets" / "trial0.npz"
    _truncate(ticket)
    assert not open_run(run).is_complete
    with pytest.raises(DamagedFile) as caught:
        open_run(run).experiment(EXP).theta0(0)
    assert str(ticket) in str(caught.value) and "trial 0's θ0 and masks" in str(caught.value)
    assert str(caught.value).endswith(RESUME)
    out = tmp_path / "analysis"
    line = _error(*_analyze(run, out, monkeypatch, capsys)[::2])
    assert str(ticket) in line and line.endswith(RESUME) and "not there yet" not in line
    _nothing_left(out)


@pytest.mark.parametrize("kind", ["raw", "compact"])
def test_damaged_ticket_of_a_finished_run_says_restore(kind, raw, compact, analysis, tmp_path, monkeypatch,
                                                       capsys):
    from results import open_run

    run = _copy(raw if kind == "raw" else compact, tmp_path)
    ticket = run / EXP / "tickets" / "trial1.npz"  # read after the output folder is begun
    _truncate(ticket)
    with pytest.raises(DamagedFile, match="restore it from a backup") as caught:
        open_run(run).experiment(EXP).theta0(1)
    fix = RESTORE if kind == "raw" else EXPORT  # a finished run; a copy made by `dn export`
    assert "trial 1's θ0 and masks" in str(caught.value)
    assert str(caught.value).endswith(fix) and "dn train" not in str(caught.value)
    earlier = _copy(analysis, tmp_path, "earlier")  # an earlier output: left exactly as it was
    before = _snapshot(earlier)
    line = _error(*_analyze(run, earlier, monkeypatch, capsys)[::2])
    assert str(ticket) in line and line.endswith(fix) and "dn train" not in line
    assert _snapshot(earlier) == before and not list(tmp_path.glob(".earlier.*"))
    out = tmp_path / "report"
    line = _error(*_report(run, out, monkeypatch, capsys)[::2])  # the report computes the analysis itself
    assert str(ticket) in line and line.endswith(fix)
    _nothing_left(out)


# ------------------------------------------------------------------------------------ tables

def _same(a: list[dict], b: list[dict]) -> bool:
    """Equal rows, NaN equal to NaN, an empty cell equal to None (a table read back from CSV)."""
    def norm(v: object) -> object:
        return "nan" if isinstance(v, float) and math.isnan(v) else "" if v is None else v
    return [{k: norm(v) for k, v in r.items()} for r in a] == [{k: norm(v) for k, v in r.items()} for r in b]


@pytest.mark.parametrize("table", list(TABLES))
def test_damaged_or_deleted_table_is_rebuilt_from_the_markers(table, raw, tmp_path, capsys):
    from results import open_run

    expected = getattr(open_run(raw), TABLES[table])()
    run = _copy(raw, tmp_path)
    for fault, reason in ((_truncate, "sha256 mismatch"), (Path.unlink, "missing")):
        fault(run / table)
        capsys.readouterr()
        assert _same(getattr(open_run(run), TABLES[table])(), expected)
        lines = dn_lines(capsys.readouterr().err)
        assert len(lines) == 1 and f"{run / table} is damaged ({reason}" in lines[0], lines
        assert "rebuilt from the done/ markers" in lines[0]
        shutil.copyfile(raw / table, run / table)


@pytest.mark.parametrize("table", list(TABLES))
def test_damaged_or_deleted_table_of_a_compact_copy_says_restore(table, compact, tmp_path):
    from results import open_run

    run = _copy(compact, tmp_path)
    for fault in (_truncate, Path.unlink):
        fault(run / table)
        with pytest.raises(DamagedFile) as caught:
            getattr(open_run(run), TABLES[table])()
        assert str(caught.value).startswith(f"{run / table} is damaged") and str(caught.value).endswith(EXPORT)
        shutil.copyfile(compact / table, run / table)


def test_deleted_metrics_under_report(raw, compact, analysis, tmp_path, monkeypatch, capsys):
    """A finished run rebuilds it (one line, a full report); a compact copy cannot: exit 2."""
    run = _copy(raw, tmp_path)
    (run / "metrics.csv").unlink()
    out = tmp_path / "report"
    code, _, err = _report(run, out, monkeypatch, capsys, "--analysis", str(analysis))
    lines = dn_lines(err)
    assert code == 0 and len(lines) == 1 and "metrics.csv is damaged (missing" in lines[0], err
    md = (out / "report.md").read_text()
    assert "no condition has metrics yet" not in md and "pruned-80" in md
    run = _copy(compact, tmp_path)
    (run / "metrics.csv").unlink()
    before = _snapshot(out)
    line = _error(*_report(run, out, monkeypatch, capsys, "--analysis", str(analysis))[::2])
    assert f"{run / 'metrics.csv'} is damaged (missing" in line and line.endswith(EXPORT)
    assert _snapshot(out) == before and not list(tmp_path.glob(".report.*"))


def test_damaged_table_and_marker_names_the_marker(raw, tmp_path):
    from results import open_run

    run = _partial(raw, tmp_path)
    marker = run / EXP / "done" / "train-t000-00.json"
    _truncate(run / "metrics.csv")
    _truncate(marker)
    with pytest.raises(DamagedFile) as caught:
        open_run(run).metrics()
    message = str(caught.value)
    assert message.startswith(f"{marker} is damaged") and RESUME in message
    assert f"{run / 'metrics.csv'} (sha256 mismatch" in message and "rebuilt from it" in message


# ---------------------------------------------------------------------- analysis.json (report)

def test_damaged_analysis_json_under_report(raw, analysis, tmp_path, monkeypatch, capsys):
    given = _copy(analysis, tmp_path, "given")
    _truncate(given / "analysis.json")
    out = tmp_path / "report"
    line = _error(*_report(raw, out, monkeypatch, capsys, "--analysis", str(given))[::2])
    assert f"{given / 'analysis.json'} is damaged" in line and "`dn analyze all --runs" in line
    _nothing_left(out)


# ------------------------------------------------------------------ samplers, DnModel, stats

@pytest.mark.parametrize("name", ["kde.npz", "gmm.json"])
def test_damaged_sampler_file(name, tmp_path):
    from dn_analysis import GMMDn, KDEDn, load_dn
    from results.errors import DnError

    x = np.random.default_rng(0).normal(size=300)
    sampler = KDEDn().fit(x) if name.startswith("kde") else GMMDn(max_components=2, random_state=0).fit(x)
    path = sampler.save(tmp_path / name)
    _truncate(path)
    with pytest.raises(DnError) as caught:
        load_dn(path)
    assert str(caught.value).startswith(f"{path} is damaged") and "dn analyze fit" in str(caught.value)


def test_damaged_dn_model_json(compact, tmp_path):
    from dn_analysis.model import DnModel
    from results import open_run

    exp = open_run(compact).experiment(EXP)
    path = DnModel(n_classes=1, per_stratum=20, n_grid=10, paths=5, max_iter=1).fit(exp, trials=[0]).save(
        tmp_path / "model.json")
    assert DnModel.load(path).rvs(1, 5, random_state=0).size == 5
    _truncate(path)
    with pytest.raises(DamagedFile, match="model.json is damaged"):
        DnModel.load(path)


def test_damaged_training_stats_under_analyze_model(compact, tmp_path, monkeypatch, capsys):
    run = _copy(compact, tmp_path)
    stats = run / EXP / "training_stats.npz"
    _truncate(stats)
    before = sorted(p.name for p in run.rglob("*"))
    line = _error(*run_dn(["analyze", "model", "--runs", str(run), "--quick"], monkeypatch, capsys)[::2])
    assert f"{stats} is damaged" in line and "training statistics" in line and line.endswith(EXPORT)
    assert sorted(p.name for p in run.rglob("*")) == before  # no analysis/model/ left in the run


# ------------------------------------------------------------------- where outputs go, options

def test_analyze_without_out_leaves_the_run_alone(tmp_path, monkeypatch, capsys):
    run = _copy(Path(__file__).resolve().parents[1] / "docs" / "runs" / "fc1-mnist-text", tmp_path)
    before = _snapshot(run)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    code, out, err = run_dn(["analyze", "compare", "--runs", str(run), "--quick"], monkeypatch, capsys)
    assert code == 0, err
    assert _snapshot(run) == before
    assert (cwd / "runs" / "analysis-fc1-mnist-text" / "analysis.json").exists()
    assert [p.name for p in (cwd / "runs").iterdir()] == ["analysis-fc1-mnist-text"]


def test_options_out_of_range_or_not_a_folder(raw, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # where a default output would go
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    model = ["analyze", "model", "--runs", str(raw), "--out", str(tmp_path / "m")]
    cases = [
        (model + ["--extrapolate-from", "0"], "--extrapolate-from must be at least 1"),
        (model + ["--fit-trial", "-1"], "--fit-trial must be a trial number"),
        (model + ["--fit-trial", "7"], "--fit-trial 7 is not a trial of fc1-digits"),
        (["analyze", "model", "--runs", str(a_file)], "is a file, not a folder"),
        (["analyze", "compare", "--runs", str(a_file)], "is a file, not a folder"),
        (["analyze", "compare", "--runs", str(raw), "--out", str(a_file)], "is a file, not a folder"),
        (["analyze", "compare", "--runs", str(raw), "--out", str(raw)], "is a results folder"),
        (["analyze", "signs", "--runs", str(raw), "--out", str(tmp_path / "s"), "--data-dir", str(a_file)],
         "is a file, not a folder"),
        (["report", "--runs", str(a_file)], "is a file, not a folder"),
        (["report", "--runs", str(raw), "--out", str(a_file)], "is a file, not a folder"),
        (["report", "--runs", str(raw), "--out", str(tmp_path / "r"), "--data-dir", str(a_file)],
         "is a file, not a folder"),
    ]
    for args, words in cases:
        line = _error(*run_dn(args, monkeypatch, capsys)[::2])
        assert words in line, (args, line)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_report_passes_data_dir_to_the_analysis(raw, tmp_path, monkeypatch, capsys):
    """--data-dir reaches the analysis; a damaged file it meets stops the report (never "analysis failed")."""
    import dn_analysis.pipeline

    seen = {}

    def analysis(run_dirs, out, quick=False, sections=(), data_dir=None):
        seen["data_dir"] = data_dir
        raise DamagedFile(raw / EXP / "tickets" / "trial0.npz", "sha256 mismatch")

    monkeypatch.setattr(dn_analysis.pipeline, "run_analysis", analysis)
    data = tmp_path / "data"
    data.mkdir()
    out = tmp_path / "report"
    line = _error(*_report(raw, out, monkeypatch, capsys, "--data-dir", str(data))[::2])
    assert seen["data_dir"] == data and "trial0.npz is damaged" in line
    _nothing_left(out)
