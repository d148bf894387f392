"""The house's arrows (tools/import_graph.py): no cycle and no upward arrow, imports in functions counted."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tools" / "import_graph.py"


def _tool():
    spec = importlib.util.spec_from_file_location("import_graph", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_repository_has_no_cycle_and_no_upward_arrow():
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no cycle, every arrow points down" in done.stdout


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_a_cycle_through_an_import_inside_a_function_is_found(tmp_path):
    tool = _tool()
    root = _tree(tmp_path, {
        "train/__init__.py": "",
        "train/a.py": "from train.b import f\n",
        "train/b.py": "def f():\n    from train import a\n    return a\n",
    })
    assert tool.problems(root) == ["import cycle: train.a <-> train.b"]


def test_type_checking_imports_do_not_count(tmp_path):
    tool = _tool()
    root = _tree(tmp_path, {
        "train/__init__.py": "",
        "train/a.py": "from train.b import f\n",
        "train/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from train.a import X\ndef f(): pass\n",
    })
    assert tool.problems(root) == []


def test_upward_and_sideways_arrows_are_found_and_the_adapter_is_allowed(tmp_path):
    tool = _tool()
    root = _tree(tmp_path, {
        "results/__init__.py": "", "train/__init__.py": "", "dn_analysis/__init__.py": "",
        "results/run.py": "def f():\n    import train.replay\n",
        "train/replay.py": "", "train/other.py": "import dn_analysis.model\n",
        "train/fitted.py": "from dn_analysis import model\n", "dn_analysis/model.py": "",
    })
    found = tool.problems(root)
    assert len(found) == 2, found
    assert found[0].startswith("results.run -> train.replay: an arrow up")
    assert found[1].startswith("train.other -> dn_analysis.model: an arrow sideways")
