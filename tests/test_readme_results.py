"""The README stays short and its results table equals what the committed runs say."""

from __future__ import annotations

from pathlib import Path

from reports.readme import README, block, current

ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_results_table_is_the_committed_runs():
    assert current(README) == block(ROOT), "README.md's results table is stale: run python -m reports.readme"


def test_the_readme_fits_on_a_few_screens():
    assert len(README.read_text().splitlines()) <= 160
