"""The README's Python examples, run as written: an example that stops working fails here.

Each ```python block of README.md runs in a fresh temporary folder that holds what the README
tells a user to have in the repository root: `docs/` (the committed runs, linked) and `runs/demo`
(what `dn demo` writes; here a small fc1-digits run, the only experiment the examples open). A
block marked ``<!-- not run -->`` on the line before it is left out. The API listing of
docs/run-format.md is not run: it names its arguments (`trial`, `r`) rather than giving them.

An example must write neither into the folder it runs in nor into the repository, so a user who
pastes it in a checkout finds no new file there.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
NOT_RUN = "<!-- not run -->"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.M | re.S)


def python_blocks(path: Path) -> list[tuple[int, str]]:
    """(first line number, code) of every ```python block not marked as a fragment."""
    text = path.read_text(encoding="utf-8")
    blocks = []
    for match in BLOCK.finditer(text):
        if text[:match.start()].rstrip().endswith(NOT_RUN):
            continue
        blocks.append((text.count("\n", 0, match.start(1)) + 1, match.group(1)))
    return blocks


BLOCKS = python_blocks(README)


def git_status() -> str | None:
    """The repository's `git status --porcelain`, or None outside a git checkout."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        return None
    done = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=all"],
                          capture_output=True, text=True, check=False)
    return done.stdout if done.returncode == 0 else None


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory) -> Path:
    """A `runs` folder holding `demo`: fc1-digits, pruned to round 6 (26.2%), the round the examples read."""
    from train.config import RunConfig, preset_experiment
    from train.runner import train_run

    runs = tmp_path_factory.mktemp("readme") / "runs"
    cfg = RunConfig((preset_experiment("smoke", "fc1-digits", epochs=1, trials=1, prune_rounds=6,
                                      ticket_rounds=(6,), conditions=("full",)),),
                    seed=0, preset="smoke")
    train_run(cfg, runs / "demo", device="cpu", progress=False)
    return runs


def test_the_readme_has_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("line,code", BLOCKS, ids=[f"README.md:{line}" for line, _ in BLOCKS])
def test_readme_example_runs(line, code, demo_runs, tmp_path, monkeypatch):
    (tmp_path / "docs").symlink_to(REPO / "docs", target_is_directory=True)
    (tmp_path / "runs").symlink_to(demo_runs, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    before = git_status()
    exec(compile(code, f"{README}:{line}", "exec"), {"__name__": "__main__"})  # noqa: S102
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs", "runs"], "the example wrote into its folder"
    assert git_status() == before, "the example changed the repository"
