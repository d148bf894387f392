"""`dn import`: open_lth runs, torch.nn.utils.prune state dicts and per-layer arrays, each built here."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from _cli import run_dn
from torch import nn
from torch.nn.utils import prune

from results import open_run

TRIALS, ROUNDS = 2, 3


@pytest.fixture
def dn(monkeypatch, capsys):
    """`dn ARGS...` in-process: (exit code, stdout, stderr)."""
    return lambda *args: run_dn(list(args), monkeypatch, capsys)


def _net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10))


def _imp(seed: int) -> tuple[dict, list[dict]]:
    """θ0 and the state dict after each of ROUNDS rounds of global magnitude pruning (20% a round)."""
    net = _net(seed)
    theta0 = copy.deepcopy(net.state_dict())
    rounds = []
    for r in range(ROUNDS):
        with torch.no_grad():  # stands in for training: move the weights before each pruning
            for m in (net[1], net[3]):
                getattr(m, "weight_orig" if r else "weight").add_(0.01 * torch.randn_like(m.weight))
        prune.global_unstructured([(net[1], "weight"), (net[3], "weight")],
                                  pruning_method=prune.L1Unstructured, amount=0.2)
        rounds.append(copy.deepcopy(net.state_dict()))
    return theta0, rounds


def _torch_prune_folders(root: Path) -> list[Path]:
    folders = []
    for t in range(TRIALS):
        folder = root / f"trial{t}"
        folder.mkdir(parents=True)
        theta0, rounds = _imp(t)
        torch.save(theta0, folder / "init.pt")
        for r, state in enumerate(rounds, start=1):
            torch.save(state, folder / f"round{r}.pt")
        folders.append(folder)
    return folders


def _open_lth(root: Path) -> Path:
    lottery = root / "lottery_0123abcd"
    for t in range(TRIALS):
        theta0, rounds = _imp(10 + t)
        masks = [{k: torch.ones_like(v, dtype=torch.int32) for k, v in theta0.items() if k.endswith("weight")}]
        masks += [{k[: -len("_mask")]: v.int() for k, v in s.items() if k.endswith("_mask")} for s in rounds]
        for level, mask in enumerate(masks):
            main = lottery / f"replicate_{t + 1}" / f"level_{level}" / "main"
            main.mkdir(parents=True)
            torch.save(mask, main / "mask.pth")
            start = {f"model.{k}": v * mask[k] if k in mask else v for k, v in theta0.items()}
            start.update({f"mask_{k.replace('.', '___')}": v.float() for k, v in mask.items()})
            torch.save(start, main / "model_ep0_it0.pth")
            end = {k: v + 0.1 * torch.randn_like(v) for k, v in start.items()}
            torch.save(end, main / "model_ep2_it40.pth")
            (main / "logger").write_text(f"test_accuracy,0,0.1\ntest_accuracy,40,{0.9 - 0.01 * level}\n")
            if level == 0:
                (main / "hparams.log").write_text(
                    "Dataset Hyperparameters\n    * dataset_name => digits\n    * batch_size => 60\n"
                    "Model Hyperparameters\n    * model_name => mnist_lenet_16\n    * model_init => kaiming_normal\n"
                    "Pruning Hyperparameters\n    * pruning_strategy => sparse_global\n    * pruning_fraction => 0.2\n")
    return lottery


def _arrays(root: Path) -> Path:
    for t in range(TRIALS):
        theta0, rounds = _imp(20 + t)
        base = root / f"trial{t}"
        for name in ("1.weight", "3.weight"):
            (base / "initial").mkdir(parents=True, exist_ok=True)
            np.save(base / "initial" / f"{name}.npy", theta0[name].numpy())
            for r, state in enumerate(rounds, start=1):
                (base / "masks" / str(r)).mkdir(parents=True, exist_ok=True)
                np.save(base / "masks" / str(r) / f"{name}.npy", state[f"{name}_mask"].numpy())
                (base / "final" / str(r)).mkdir(parents=True, exist_ok=True)
                np.save(base / "final" / str(r) / f"{name}.npy", state[f"{name}_orig"].numpy())
    return root


def _imported(dn, tmp_path: Path, fmt: str) -> Path:
    src, out = tmp_path / "src", tmp_path / "out"
    if fmt == "open-lth":
        args = [str(_open_lth(src))]
    elif fmt == "torch-prune":
        args = [str(p) for p in _torch_prune_folders(src)]
    else:
        args = [str(_arrays(src))]
    code, out_text, err = dn("import", fmt, *args, "--out", str(out))
    assert code == 0, err
    assert "imported 2 trial(s) x 3 round(s)" in out_text
    return out


@pytest.mark.parametrize("fmt", ["open-lth", "torch-prune", "arrays"])
def test_an_import_is_an_ordinary_results_folder(dn, tmp_path, fmt):
    out = _imported(dn, tmp_path, fmt)
    run = open_run(out)
    exp = run.experiment(run.experiments[0])
    assert exp.trials == [0, 1] and exp.rounds == [0, 1, 2, 3]
    for t in exp.trials:
        theta0 = exp.theta0(t)
        for r in exp.rounds:
            mask = exp.mask(t, r)
            per_layer = exp.theta_lt(t, r, per_layer=True)
            for layer in exp.layers:
                np.testing.assert_array_equal(per_layer[layer["name"]],
                                              theta0[layer["param"]][mask[layer["param"]]].astype(np.float64))
    assert run.is_complete
    assert exp.density(3) == pytest.approx(0.8**3, abs=0.01)
    analysis = tmp_path / "analysis"
    code, _, err = dn("analyze", "all", "--runs", str(out), "--out", str(analysis), "--quick")
    assert code == 0, err
    assert (analysis / "analysis.json").exists()
    report = tmp_path / "report"
    code, _, err = dn("report", "--runs", str(out), "--analysis", str(analysis), "--out", str(report))
    assert code == 0, err
    text = (report / "report.md").read_text()
    assert "no condition trained here" in text and (report / "report.pdf").exists()


def test_open_lth_keeps_trained_weights_accuracy_and_hparams(dn, tmp_path):
    out = _imported(dn, tmp_path, "open-lth")
    run = open_run(out)
    exp = run.experiment("mnist_lenet_16-digits")
    assert run.config["imported"]["hparams"]["pruning_fraction"] == "0.2"
    assert exp.layers[0]["init"] == "kaiming_normal"  # named by hparams.log
    assert exp.layers[0]["init_std"] == pytest.approx(np.sqrt(2 / 64))
    assert set(exp.trained(0, 2)) == {"1.weight", "3.weight"}
    accuracy = {(r["trial"], r["round"]): r["test_acc"] for r in run.pruning_metrics()}
    assert accuracy[(1, 3)] == pytest.approx(0.87)
    from dn_analysis import DnModel  # the trained weights are what DnModel fits

    draws = DnModel(random_state=0).fit(exp).rvs(round=2, size=100, random_state=0)
    assert draws.shape == (100,) and np.isfinite(draws).all()


def test_the_init_scale_is_inferred_and_recorded_so(dn, tmp_path):
    out = _imported(dn, tmp_path, "torch-prune")
    exp = open_run(out).experiment("torch_prune-unknown")
    layer = exp.layers[0]
    values = np.concatenate([exp.theta0(t)[layer["param"]].ravel() for t in exp.trials])
    assert layer["init"] == "inferred"
    assert layer["init_std"] == pytest.approx(float(np.sqrt(np.mean(values.astype(np.float64) ** 2))))


class _Payload:
    def __reduce__(self):
        return (Path.touch, (Path(__file__).parent / "PAYLOAD-RAN",))


def test_a_pickle_payload_is_refused_and_never_runs(dn, tmp_path):
    marker = Path(__file__).parent / "PAYLOAD-RAN"
    marker.unlink(missing_ok=True)
    folders = _torch_prune_folders(tmp_path / "src")
    torch.save({"0.weight": _Payload()}, folders[0] / "round2.pt")
    code, _, err = dn("import", "torch-prune", *map(str, folders), "--out", str(tmp_path / "out"))
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "round2.pt" in err and "pickle" in err and "nothing in it was run" in err
    assert not marker.exists() and not (tmp_path / "out").exists()


def _bad(tmp_path: Path, case: str) -> tuple[list[str], str]:
    root = _arrays(tmp_path / "src")
    one = root / "trial0"
    if case == "shape":
        np.save(one / "masks" / "2" / "3.weight.npy", np.ones((10, 15)))
        return [str(root)], "masks/2: layer 3.weight's mask has shape (10, 15), θ0 has (10, 16)"
    if case == "values":
        mask = np.load(one / "masks" / "1" / "1.weight.npy")
        mask[0, 0] = 2
        np.save(one / "masks" / "1" / "1.weight.npy", mask)
        return [str(root)], "masks/1 layer 1.weight: a mask holds the value 2; masks must be 0/1"
    if case == "nested":
        mask = np.load(one / "masks" / "3" / "1.weight.npy")
        before = np.load(one / "masks" / "2" / "1.weight.npy")
        mask[np.argwhere(before == 0)[0][0], np.argwhere(before == 0)[0][1]] = 1
        np.save(one / "masks" / "3" / "1.weight.npy", mask)
        return [str(root), "--strict"], "masks/3: layer 1.weight keeps weights that round 2 had pruned"
    if case == "missing":
        for f in (one / "masks" / "2").iterdir():
            f.unlink()
        (one / "masks" / "2").rmdir()
        return [str(root)], "masks/2 is missing (rounds found: [1, 3])"
    empty = tmp_path / "empty"
    empty.mkdir()
    return [str(empty)], "is empty"


@pytest.mark.parametrize("case", ["shape", "values", "nested", "missing", "empty"])
def test_bad_input_gets_one_line_and_nothing_is_written(dn, tmp_path, case):
    args, expected = _bad(tmp_path, case)
    out = tmp_path / "out"
    code, _, err = dn("import", "arrays", *args, "--out", str(out))
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert expected in err, err
    assert not out.exists() and not list(tmp_path.glob(".out.*"))


def test_masks_that_are_not_nested_are_a_warning_without_strict(dn, tmp_path):
    args, _ = _bad(tmp_path, "nested")
    code, _, err = dn("import", "arrays", args[0], "--out", str(tmp_path / "out"))
    assert code == 0 and "warning" in err and "not nested" in err


DOC = Path(__file__).resolve().parent.parent / "docs" / "import.md"


def _sections() -> dict[str, list[tuple[str, str]]]:
    """{section title: [(language, code), ...]} of docs/import.md's fenced blocks."""
    import re

    out: dict[str, list[tuple[str, str]]] = {}
    for part in re.split(r"^## ", DOC.read_text(), flags=re.M)[1:]:
        title = part.splitlines()[0].strip()
        out[title] = re.findall(r"```(python|bash)\n(.*?)```", part, flags=re.S)
    return out


@pytest.mark.parametrize("section", ["open_lth", "torch.nn.utils.prune", "Per-layer arrays"])
def test_the_worked_examples_of_docs_import_run(dn, tmp_path, monkeypatch, section):
    import shlex

    monkeypatch.chdir(tmp_path)
    blocks = _sections()[section] + (_sections()["Then"] if section == "Per-layer arrays" else [])
    assert blocks
    for language, code in blocks:
        if language == "python":
            exec(compile(code, f"{DOC.name}: {section}", "exec"), {})
            continue
        for line in code.strip().splitlines():
            code_, out, err = dn(*shlex.split(line)[1:])
            assert code_ == 0, f"{line}: {err}"
    imported = next(tmp_path.glob("imported-*"))
    exp = open_run(imported).experiment(open_run(imported).experiments[0])
    assert len(exp.trials) == 2 and len(exp.rounds) >= 3


USER_MODULE = '''
from torch import nn


def build(input_shape, num_classes):
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, num_classes))
'''


def test_the_controls_train_on_an_imported_ticket(dn, tmp_path, monkeypatch):
    """dn train --tickets: every condition from the imported θ0 and masks, paired.csv written."""
    (tmp_path / "mynets.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    folders = _torch_prune_folders(tmp_path / "src")
    imported, run_dir = tmp_path / "imported", tmp_path / "run"
    code, _, err = dn("import", "torch-prune", *map(str, folders), "--init-dist", "torch_default", "--out", str(imported))
    assert code == 0, err
    code, out, err = dn("train", "--tickets", str(imported), "--model", "mynets:build", "--dataset", "digits",
                        "--preset", "smoke", "--conditions", "all", "--out", str(run_dir), "--no-progress")
    assert code == 0, err
    from train import open_run as replay_open

    run = replay_open(run_dir)
    assert run.is_complete and (run_dir / "paired.csv").exists()
    from train.conditions import CONDITIONS

    assert {r["condition_name"] for r in run.summary()} == set(CONDITIONS)
    exp, source = run.experiment("mynets:build-digits"), open_run(imported).experiment("torch_prune-unknown")
    for t in source.trials:  # the run's tickets are the imported ones, and the ticket condition starts there
        for r in source.rounds:
            assert all(np.array_equal(v, exp.mask(t, r)[k]) for k, v in source.mask(t, r).items())
        weights, mask = exp.initial_weights("pruned", trial=t, round=3)
        for k, v in source.theta0(t).items():
            np.testing.assert_array_equal(weights[k], v * source.mask(t, 3)[k])
    assert run.config["tickets"]["source"] == str(imported)


def test_tickets_from_another_network_are_refused_in_one_line(dn, tmp_path, monkeypatch):
    (tmp_path / "othernets.py").write_text(USER_MODULE.replace("16", "12"))
    monkeypatch.syspath_prepend(str(tmp_path))
    imported = tmp_path / "imported"
    assert dn("import", "torch-prune", *map(str, _torch_prune_folders(tmp_path / "src")), "--init-dist",
              "torch_default", "--out", str(imported))[0] == 0
    code, _, err = dn("train", "--tickets", str(imported), "--model", "othernets:build", "--dataset", "digits",
                      "--preset", "smoke", "--out", str(tmp_path / "run"), "--no-progress")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "do not match the tickets" in err, err
    assert not (tmp_path / "run").exists()
