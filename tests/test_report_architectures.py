"""The report's cross-architecture section is generated from the committed analysis output."""

from __future__ import annotations

from pathlib import Path

import pytest

from reports.architectures import read, section
from reports.doc import Table
from reports.markdown import to_markdown
from results.errors import DnError

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = [ROOT / "docs" / "architectures", ROOT / "docs" / "architectures-conv2"]


def test_the_section_has_one_row_per_analysed_experiment_and_its_numbers():
    rows, pairs = read(FOLDERS)
    blocks = section(FOLDERS)
    text = to_markdown(blocks)
    assert text.startswith("## D_n across architectures")
    table = next(b for b in blocks if isinstance(b, Table))
    assert [row[0] for row in table.rows] == [r["label"] for r in rows]
    for r, row in zip(rows, table.rows, strict=True):
        assert row[2] == f"{r['shelves_raw']}, {r['shelves_std']}"
        assert row[4] == f"{r['ratio_pred_std']:.1f}"  # the ratio to the noise floor, as the analysis wrote it
    assert any(r["architecture"] == "conv2" for r in rows) and any(r["architecture"] == "lenet300" for r in rows)
    assert all(p["a"] in text and p["b"] in text for p in pairs)


def test_a_missing_analysis_is_one_line(tmp_path):
    with pytest.raises(DnError, match="dn analyze architectures"):
        section([tmp_path])
