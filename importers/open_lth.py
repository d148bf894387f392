"""open_lth lottery runs: ``lottery_<hash>/replicate_<r>/level_<L>/main/`` (docs/import.md).

Each level's ``main/`` holds ``model_ep{E}_it{I}.pth`` (state dicts: the level's start and its
trained end), ``mask.pth`` (0/1 tensors, one per prunable weight) and ``logger`` (CSV rows
``name,iteration,value``); ``level_0/main/`` also holds ``hparams.log``. A replicate is a trial
and a level a round. θ0 is level 0's start file: the initialization, or the rewind step's weights
when the run rewinds (then D_n is defined at that step, θ_k, and the import records it).
"""

from __future__ import annotations

import re
from pathlib import Path

from importers.load import state_dict
from importers.ticket import Trial, as_mask
from results.errors import DnError
from results.init_scale import INITS

_LEVEL = re.compile(r"level_(\d+)$")
_REPLICATE = re.compile(r"replicate_(\d+)$")
_MODEL = re.compile(r"model_ep(\d+)_it(\d+)\.pth$")


def _numbered(folder: Path, pattern: re.Pattern) -> dict[int, Path]:
    return {int(m.group(1)): p for p in folder.iterdir() if p.is_dir() and (m := pattern.match(p.name))}


def _replicates(path: Path) -> dict[int, Path]:
    if not path.is_dir():
        raise DnError(f"{path} is not a folder; give an open_lth lottery folder (lottery_<hash>)")
    found = _numbered(path, _REPLICATE)
    if not found:
        lotteries = [p for p in path.iterdir() if p.is_dir() and p.name.startswith("lottery_")]
        if len(lotteries) == 1:
            return _replicates(lotteries[0])
        what = "several lottery_* folders: give one" if lotteries else "no replicate_<r> folder"
        raise DnError(f"{path} holds {what}; give an open_lth lottery folder (lottery_<hash>)")
    return dict(sorted(found.items()))


def hparams(path: Path) -> dict[str, str]:
    """``* name => value`` lines of an hparams.log, as text."""
    if not path.is_file():
        return {}
    pairs = (line.strip().lstrip("*").split("=>", 1) for line in path.read_text().splitlines() if "=>" in line)
    return {k.strip(): v.strip() for k, v in pairs}


def _models(main: Path) -> list[Path]:
    files = [(int(m.group(1)), int(m.group(2)), p) for p in main.glob("model_ep*_it*.pth")
             if (m := _MODEL.match(p.name))]
    if not files:
        raise DnError(f"{main} holds no model_ep<E>_it<I>.pth file")
    return [p for *_, p in sorted(files)]


def _prunable(weights: dict, mask_keys: list[str], where: Path) -> dict:
    """The prunable weights of a state dict (open_lth's PrunedModel prefixes them with `model.`)."""
    out = {}
    for key in mask_keys:
        value = weights.get(key, weights.get(f"model.{key}"))
        if value is None:
            raise DnError(f"{where}: no weights for layer {key}, which mask.pth names")
        out[key] = value
    return out


def _accuracy(main: Path) -> float | None:
    logger = main / "logger"
    if not logger.is_file():
        return None
    rows = [line.split(",") for line in logger.read_text().strip().splitlines() if line.count(",") == 2]
    accuracy = sorted((int(it), float(v)) for name, it, v in rows if name == "test_accuracy")
    return accuracy[-1][1] if accuracy else None


def _trial(replicate: Path) -> tuple[Trial, str]:
    levels = _numbered(replicate, _LEVEL)
    if not levels:
        raise DnError(f"{replicate} holds no level_<L> folder")
    missing = [n for n in range(max(levels) + 1) if n not in levels]
    if missing:
        raise DnError(f"{replicate / f'level_{missing[0]}'} is missing (levels found: {sorted(levels)})")
    trial = Trial(theta0={}, masks=[])
    trained: list[dict] = []
    start_name = ""
    for level in range(len(levels)):
        main = levels[level] / "main"
        mask_file = main / "mask.pth"
        raw = state_dict(mask_file)
        keys = list(raw)
        trial.masks.append({k: as_mask(v, f"{mask_file} layer {k}") for k, v in raw.items()})
        trial.where[f"mask/{level}"] = str(mask_file)
        files = _models(main)
        if level == 0:
            trial.theta0 = _prunable(state_dict(files[0]), keys, files[0])
            trial.where["theta0"] = str(files[0])
            start_name = files[0].stem
        if len(files) > 1:  # the level's trained end beside its start
            trained.append(_prunable(state_dict(files[-1]), keys, files[-1]))
            trial.where[f"trained/{level}"] = str(files[-1])
        trial.accuracy.append(_accuracy(main))
    trial.trained = trained if len(trained) == len(levels) else None
    return trial, start_name


def read(path: str | Path, init: str | None = None) -> tuple[list[Trial], dict]:
    """(trials, what to record) of an open_lth lottery folder."""
    trials, starts = [], set()
    for replicate in _replicates(Path(path)).values():
        trial, start = _trial(replicate)
        trials.append(trial)
        starts.add(start)
    first = next(iter(_replicates(Path(path)).values()))
    params = hparams(first / "level_0" / "main" / "hparams.log")
    extra = {"hparams": params, "theta0_file": sorted(starts)}
    if starts != {"model_ep0_it0"}:
        extra["rewind_step"] = sorted(starts)
    named = params.get("model_init")
    fields = {"init": init or (named if named in INITS else None),
              "model": params.get("model_name", "open_lth").replace("-", "_"),
              "dataset": params.get("dataset_name", "unknown")}
    if "pruning_fraction" in params:
        fields["prune_rate"] = float(params["pruning_fraction"])
    return trials, {"extra": extra, **fields}
