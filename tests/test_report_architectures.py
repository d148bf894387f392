"""The report's cross-architecture section is generated from the committed analysis output."""

from __future__ import annotations

from pathlib import Path

import pytest

from reports.architectures import read, section
from results.errors import DnError

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = [ROOT / "docs" / "architectures", ROOT / "docs" / "architectures-conv2"]


def test_the_section_has_one_row_per_analysed_experiment_and_its_numbers():
    rows, pairs = read(FOLDERS)
    text = "\n".join(section(FOLDERS))
    assert text.startswith("## D_n across architectures")
    for r in rows:
        line = next(x for x in text.splitlines() if x.startswith(f"| {r['label']} |"))
        assert f"| {r['shelves_raw']}, {r['shelves_std']} |" in line
        assert f"{r['ratio_pred_std']:.1f}" in line  # the ratio to the noise floor, as the analysis wrote it
    assert len([x for x in text.splitlines() if x.startswith("| ") and "(" in x.split("|")[1]]) >= len(rows)
    assert any(r["architecture"] == "conv2" for r in rows) and any(r["architecture"] == "lenet300" for r in rows)


def test_a_missing_analysis_is_one_line(tmp_path):
    with pytest.raises(DnError, match="dn analyze architectures"):
        section([tmp_path])
