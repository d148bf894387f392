"""A protocol setting is declared once (train/settings.py); config, CLI, checks, report and docs follow."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import typer
from typer.testing import CliRunner

from reports.provenance import settings_table, shared_settings
from results.errors import DnError
from train import settings
from train.config import PROTOCOLS, ExperimentConfig, RunConfig, preset_experiment
from train.options import dataclass_options, with_dataclass_options

ROOT = Path(__file__).resolve().parents[1]
RUNS = sorted((ROOT / "docs" / "runs").glob("*/config.json"))


@pytest.fixture
def probe_setting():
    """A setting declared only for the test, removed again afterwards."""
    setting = settings.declare("probe_setting", choices=("off", "on"), text="off", authors="on",
                               help="a setting that only this test declares", doc="test-only: E:1-2")
    try:
        yield setting
    finally:
        del settings.SETTINGS["probe_setting"]


def _config_class() -> type:
    """ExperimentConfig rebuilt by the decorator that built it, now seeing every declared setting."""
    probe = type("ProbeConfig", (ExperimentConfig,), {"__module__": __name__})
    return dataclasses.dataclass(frozen=True)(settings.add_setting_fields(probe))


def test_a_setting_declared_once_is_a_field_an_option_a_check_a_report_line_and_a_docs_row(probe_setting):
    cls = _config_class()
    # the config: a field with the text value as default, after every existing field
    names = [f.name for f in dataclasses.fields(cls)]
    assert names == [f.name for f in dataclasses.fields(ExperimentConfig)] + ["probe_setting"]
    assert cls().probe_setting == "off"
    # the CLI: an option whose help gives the choices and both protocols' values
    option = next(p for p in dataclass_options(cls) if p.name == "probe_setting")
    assert "--probe-setting" in option.default.param_decls
    assert option.default.help.endswith("One of off, on (text: off, authors: on)")
    seen: dict = {}

    def target(overrides: dict | None = None) -> None:
        seen.update({k: v for k, v in (overrides or {}).items() if v is not None})

    app = typer.Typer()
    app.command()(with_dataclass_options(cls, target))
    app.command("other")(lambda: None)  # two commands: invoked by name
    result = CliRunner().invoke(app, ["target", "--probe-setting", "on"])
    assert result.exit_code == 0, result.output
    assert seen == {"probe_setting": "on"}
    help_text = CliRunner().invoke(app, ["target", "--help"], env={"COLUMNS": "200"}).output
    assert "--probe-setting" in help_text and "One of off, on" in help_text
    # the checks and the protocols
    with pytest.raises(DnError, match="probe_setting must be one of off, on, got 'maybe'"):
        cls(probe_setting="maybe").validate()
    assert settings.bundle("authors")["probe_setting"] == "on"
    authors = cls(**settings.bundle("authors"), protocol="authors")
    assert authors.protocol_name == "authors"
    assert dataclasses.replace(authors, probe_setting="off").protocol_name == "custom"
    # the report: provenance lists it
    exps = [SimpleNamespace(config=dataclasses.asdict(cls()), label="a"),
            SimpleNamespace(config=dataclasses.asdict(cls(probe_setting="on")), label="b")]
    assert "probe_setting off" in shared_settings(exps[:1])
    table = settings_table(exps, "caption")
    assert ["probe_setting", "off", "on"] in table.rows and ["protocol", "text", "custom"] in table.rows
    # the docs
    assert "| `probe_setting` | `off` | `on` | `off`, `on` | a setting that only this test declares | test-only: E:1-2 |" \
        in settings.markdown_table().splitlines()


def test_every_declared_setting_is_an_experiment_field_with_its_text_value_and_help():
    fields = {f.name: f for f in dataclasses.fields(ExperimentConfig)}
    for name, s in settings.SETTINGS.items():
        assert fields[name].default == s.text and fields[name].metadata["help"] == s.cli_help()
    assert PROTOCOLS == {"text": {}, "authors": {n: s.authors for n, s in settings.SETTINGS.items()}}
    with pytest.raises(ValueError, match="declared twice"):
        settings.declare("init", choices=None, text=1, authors=2, help="", doc="")
    with pytest.raises(ValueError, match="must be one of"):
        settings.declare("bad_setting", choices=("a",), text="a", authors="b", help="", doc="")
    assert "bad_setting" not in settings.SETTINGS


def test_a_mixed_protocol_is_recorded_as_custom():
    exp = preset_experiment("smoke", "fc1-digits", protocol="authors", prune_rule="rank")
    assert exp.prune_rule == "rank" and exp.prune_scope == "layerwise"  # the rest of the bundle applies
    assert exp.protocol == exp.protocol_name == "custom"
    run = RunConfig((exp,), preset="smoke")
    assert run.protocol == "custom" and run.name.startswith("smoke-custom-")
    assert preset_experiment("smoke", "fc1-digits", protocol="authors").protocol == "authors"
    assert preset_experiment("smoke", "fc1-digits", prune_rule="percentile").protocol == "custom"
    with pytest.raises(DnError, match="unknown protocol 'paper'"):
        preset_experiment("smoke", "fc1-digits", protocol="paper")


def test_a_protocol_the_settings_contradict_does_not_validate():
    with pytest.raises(DnError, match="protocol is 'authors' but the settings are 'text' .*init=xavier_uniform"):
        ExperimentConfig(protocol="authors").validate()
    assert ExperimentConfig(protocol="custom").validate().protocol_name == "text"
    assert ExperimentConfig(**settings.bundle("authors"), protocol="authors").validate().protocol_name == "authors"


@pytest.mark.parametrize("path", RUNS, ids=lambda p: p.parent.name)
def test_committed_runs_record_the_protocol_their_settings_follow(path):
    data = json.loads(path.read_text())
    assert [settings.protocol_of(e) for e in data["experiments"]] == [e["protocol"] for e in data["experiments"]]
    cfg = RunConfig.from_json(data)
    assert (cfg.name, cfg.protocol) == (data["name"], data["protocol"])  # names and hashes unchanged


def test_there_are_committed_runs_of_both_protocols():
    assert {json.loads(p.read_text())["protocol"] for p in RUNS} >= {"text", "authors"}  # and custom recipes


def test_the_docs_table_is_the_generated_one(tmp_path):
    assert settings.docs_table() == settings.markdown_table()
    stale = tmp_path / "doc.md"
    stale.write_text(f"prose\n{settings.BEGIN}\n| old |\n{settings.END}\nmore prose\n")
    assert settings.write_docs_table(stale) and not settings.write_docs_table(stale)
    assert stale.read_text() == f"prose\n{settings.BEGIN}\n{settings.markdown_table()}\n{settings.END}\nmore prose\n"
