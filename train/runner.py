"""A whole run: its folder, config check, every experiment, and the run-level tables."""

from __future__ import annotations

import dataclasses
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from results.contrasts import MARGINS
from results.errors import DnError
from results.integrity import DamagedFile
from results.labels import experiment_of, with_labels
from results.paired import PAIRED_COLUMNS, paired_rows
from results.store import read_json, write_csv, write_json
from results.summary import SUMMARY_COLUMNS, summarize
from results.tables import collect_rows
from train.config import RunConfig
from train.experiment import METRIC_COLUMNS, PRUNE_COLUMNS, Context, Executor, Experiment
from train.lock import LOCK_NAME, holding_out
from train.starts import expected_rows

if TYPE_CHECKING:
    from train.ray_executor import RaySettings


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA when present; asking for a missing device is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise DnError(f"unknown device {name!r}; use auto, cpu or cuda") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DnError(
            f"device {name!r} is not available (torch {torch.__version__} sees no CUDA GPU); "
            "use --device cpu or --device auto"
        )
    if device.type not in ("cpu", "cuda"):
        raise DnError(f"device {name!r} is not supported; use auto, cpu or cuda")
    return device


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        own = version("dn")
    except PackageNotFoundError:  # a checkout on sys.path, not installed
        own = "unknown"
    return {"dn": own, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "platform": platform.platform()}


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()


def _diff(old: dict, new: dict) -> str:
    if old["seed"] != new["seed"]:
        return f"seed {old['seed']} vs {new['seed']}"
    olds = {experiment_of(e): e for e in old["experiments"]}
    news = {experiment_of(e): e for e in new["experiments"]}
    if set(olds) != set(news):
        return f"experiments {sorted(olds)} vs {sorted(news)}"
    for name, e in news.items():
        for key, value in e.items():
            if olds[name].get(key) != value:
                return f"{name} {key} {olds[name].get(key)} vs {value}"
    return "settings"


def prepare_folder(out: Path, cfg: RunConfig, stack_size: int) -> dict:
    """Create `out` or check it holds this very run; return the config record to keep."""
    config_path = out / "config.json"
    if config_path.exists():
        try:
            old = read_json(config_path)
        except DamagedFile as err:
            raise err.advise("it records this run's settings and nothing else does: restore it from a "
                             "backup, or choose another --out") from err
        old_id = RunConfig.from_json(old).identity()
        new_id = json_roundtrip(cfg.identity())
        if json_roundtrip(old_id) != new_id:
            raise DnError(
                f"{out} holds a run made with another config ({_diff(json_roundtrip(old_id), new_id)}); "
                "choose another --out, or repeat the original settings to resume it"
            )
        if old.get("engine", {}).get("stack_size", stack_size) != stack_size:
            raise DnError(f"{out} was started with --stack-size {old['engine']['stack_size']}; resume with it")
        return old
    if out.exists() and any(p.name != LOCK_NAME for p in out.iterdir()):
        raise DnError(f"{out} exists and is not a dn results folder; choose another --out")
    return cfg.to_json()


def json_roundtrip(data: dict) -> dict:
    import json

    return json.loads(json.dumps(data))


def write_tables(out: Path, cfg: RunConfig, margins: dict | None = None) -> None:
    metrics, pruning = collect_rows(out, [e.name for e in cfg.experiments])
    with_labels(metrics, [dataclasses.asdict(e) for e in cfg.experiments])
    write_csv(out / "metrics.csv", metrics, METRIC_COLUMNS)
    write_csv(out / "pruning_metrics.csv", pruning, PRUNE_COLUMNS)
    write_csv(out / "summary.csv", summarize(metrics), SUMMARY_COLUMNS)
    write_csv(out / "paired.csv", paired_rows(metrics, margins=margins), PAIRED_COLUMNS)


ACCURACY_METRICS = ("max_acc", "final_acc")


def declare_margins(record: dict, cfg: RunConfig, points: float | None) -> dict:
    """The run's equivalence margins {experiment: {metric: margin}}, recorded in config.json once.

    paired.csv's TOST verdicts are only honest at a margin declared before the run is looked at,
    so the first `dn train` on a folder records it (``--equivalence-margin`` in points of test
    accuracy, else results.contrasts.MARGINS) and a later one may not change it.
    """
    recorded = record.get("equivalence_margins")
    if recorded is not None:
        if points is not None and any(m.get(k) != points / 100 for m in recorded.values() for k in ACCURACY_METRICS):
            was = sorted({m.get(k) for m in recorded.values() for k in ACCURACY_METRICS})
            raise DnError(f"this run declared its equivalence margin ({', '.join(f'{100 * v:g}' for v in was)} points) "
                          "when it started; a margin cannot change once declared: drop --equivalence-margin")
        return recorded
    own = {k: (points / 100 if points is not None and k in ACCURACY_METRICS else v) for k, v in MARGINS.items()}
    record["equivalence_margins"] = {e.name: dict(own) for e in cfg.experiments}
    return record["equivalence_margins"]


def check_settings(cfg: RunConfig, data_dir: str | Path | None = None, stack_size: int | None = None,
                   checkpoint_seconds: float = 120.0, ray: RaySettings | None = None,
                   equivalence_margin: float | None = None) -> None:
    """Refuse a bad number with one line before anything is written.

    Each would otherwise fail late (a negative seed only once config.json is written, when the
    data subsets are drawn) or silently mean something else (a stack size of 0 would read as
    "the default"). `dn train` calls this before its folder exists; `train_run` calls it again for
    callers of the API, inside the lock, which removes the folder it made.
    """
    from dn_data import resolve_data_dir

    if cfg.seed < 0:
        raise DnError(f"--seed must be >= 0 (numpy draws the data subsets and takes no negative seed), got {cfg.seed}")
    if stack_size is not None and stack_size < 1:
        raise DnError(f"--stack-size must be >= 1 (models trained together), got {stack_size}")
    if not checkpoint_seconds >= 0:  # also NaN
        raise DnError(f"--checkpoint-seconds must be >= 0 (0 saves after every epoch), got {checkpoint_seconds}")
    if ray is not None:
        if ray.task_cpus < 1:
            raise DnError(f"--task-cpus must be >= 1 (a Ray task's torch threads), got {ray.task_cpus}")
        if not ray.task_gpus >= 0:
            raise DnError(f"--task-gpus must be >= 0, got {ray.task_gpus}")
        if ray.local_cpus is not None and ray.local_cpus < 1:
            raise DnError(f"--ray-cpus must be >= 1 (CPUs of the local Ray cluster), got {ray.local_cpus}")
    if equivalence_margin is not None and not 0 < equivalence_margin < 100:
        raise DnError(f"--equivalence-margin is in points of test accuracy, in (0, 100), got {equivalence_margin}")
    resolve_data_dir(data_dir)  # a file given as the data folder


@holding_out  # one `dn train` per folder (train/lock.py)
def train_run(
    cfg: RunConfig,
    out: Path,
    device: str = "auto",
    data_dir: str | Path | None = None,
    stack_size: int | None = None,
    progress: bool = True,
    checkpoint_seconds: float = 120.0,
    on_epoch: Callable[[], None] | None = None,
    executor: str = "local",
    ray: RaySettings | None = None,
    equivalence_margin: float | None = None,
) -> Path:
    """Train every experiment of `cfg` into `out`, resuming whatever is already there.

    `executor="ray"` runs the same pieces as Ray tasks (train/ray_executor.py), the same bytes;
    `on_epoch` is then called in this process once per finished task.
    """
    if executor not in ("local", "ray"):
        raise DnError(f"unknown executor {executor!r}; use local or ray")
    check_settings(cfg, data_dir, stack_size, checkpoint_seconds, ray, equivalence_margin)
    if executor == "local":
        return _train_run(cfg, out, device, data_dir, stack_size, progress, checkpoint_seconds, on_epoch,
                          margin=equivalence_margin)
    from train.ray_executor import RayExecutor, RaySettings, connected

    settings = ray or RaySettings()
    with connected(settings) as ray_module:
        return _train_run(cfg, out, device, data_dir, stack_size, progress, checkpoint_seconds, on_epoch,
                          RayExecutor(ray_module, settings), equivalence_margin)


def _train_run(cfg: RunConfig, out: Path, device: str, data_dir: str | Path | None, stack_size: int | None,
               progress: bool, checkpoint_seconds: float, on_epoch: Callable[[], None] | None,
               executor: Executor | None = None, margin: float | None = None) -> Path:
    from dn_data import load_dataset

    dev = resolve_device(device)
    stack = stack_size if stack_size is not None else (64 if dev.type == "cuda" else 8)
    out = Path(out)
    if cfg.tickets:  # before anything is written: the network must be the one the tickets were found on
        from train.models import build_model
        from train.tickets import check_layers

        for e in cfg.experiments:
            data = load_dataset(e.dataset, data_dir, "cpu", e.train_subset, e.test_subset, seed=cfg.seed)
            net = build_model(e.model, tuple(data.x_train.shape[1:]), data.num_classes)
            check_layers(Path(cfg.tickets["source"]), e.model, net.layers)
    record = prepare_folder(out, cfg, stack)
    record.update(versions=versions(), engine={"stack_size": stack, "device": str(dev),
                                               "device_name": device_name(dev),
                                               "threads": torch.get_num_threads()})
    if executor is not None:
        record["engine"]["executor"] = "ray"
    record.setdefault("data", {})
    record.setdefault("wall_time_s", {})
    record["expected_rows"] = expected_rows(cfg.experiments)
    margins = declare_margins(record, cfg, margin)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", record)
    for exp_cfg in cfg.experiments:
        started = time.monotonic()
        data = load_dataset(exp_cfg.dataset, data_dir, dev, exp_cfg.train_subset, exp_cfg.test_subset,
                            seed=cfg.seed, normalization=exp_cfg.normalization)
        record["data"][exp_cfg.dataset] = {"source": data.source, "sha256": data.checksums,
                                           "train": int(data.x_train.shape[0]), "test": int(data.x_test.shape[0]),
                                           "mean": list(data.mean), "std": list(data.std)}
        write_json(out / "config.json", record)
        previous = float(record["wall_time_s"].get(exp_cfg.name, 0.0))

        def piece_done(name=exp_cfg.name, t0=started, before=previous) -> None:
            record["wall_time_s"][name] = before + time.monotonic() - t0
            write_json(out / "config.json", record)
            write_tables(out, cfg, margins)

        tickets = Path(cfg.tickets["source"]) if cfg.tickets else None
        ctx = Context(out, cfg.seed, dev, stack, checkpoint_seconds, progress, on_epoch, piece_done, tickets)
        Experiment(exp_cfg, ctx, data).run(executor)
        piece_done()
    return out

