"""`dn train --executor ray`: the local run's very pieces, each one a Ray task.

Why pieces and not one task per (experiment, trial): stacking models changes floating-point
results (a stack of 8 does not sum like 8 stacks of 1), so to give byte-identical numbers a task
trains exactly what the local run trains in one go: the pruning (Algorithm 1, one task), then
each condition piece (`train-t<trial>-<g>`, or chained `train-c<k>-<g>`, which waits for the
pieces of condition k-1).

No shared filesystem: a task gets its inputs as values (the config, the dataset once per
experiment through Ray's object store, a piece's model starts as arrays and any checkpoint) and
returns its results (metric rows, final biases; the pruning's files as bytes). Only the driver
writes the results folder, with the same atomic writes and `done/` markers as the local run, so
an interrupted Ray run resumes under either executor. A worker lost mid-task is retried by Ray
(`max_retries`); a piece whose task never finished is simply rerun on resume.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dn_data import Dataset
from results.errors import DnError
from results.integrity import is_sidecar
from results.store import atomic_write_bytes, read_json
from train import signals
from train.config import ExperimentConfig
from train.experiment import Context, Experiment, PieceJob
from train.starts import ModelPlan, chained

RETRIES = 3  # times Ray reruns a task whose worker died
CONNECT_TIMEOUT_S = 5.0
INSTALL_HINT = 'pip install -e ".[ray]"'


@dataclass(frozen=True)
class RaySettings:
    """Where and how big: the cluster's address (None: $RAY_ADDRESS, else a local cluster)."""

    address: str | None = None
    task_cpus: int = 1
    task_gpus: float = 0.0
    local_cpus: int | None = None  # size of a local cluster started here (None: every core)


def import_ray() -> Any:
    """Ray is an optional extra: without it, one line saying how to install it."""
    try:
        import ray
    except ImportError as err:
        raise DnError(f"--executor ray needs Ray, which is not installed: {INSTALL_HINT}") from err
    return ray


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Fail fast with one line when HOST:PORT does not answer (ray.init can wait for minutes)."""
    if address in ("auto", "local"):
        return
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        raise DnError(f"Ray address {address!r} is not HOST:PORT (e.g. 10.0.0.1:6379)")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as err:
        raise DnError(
            f"cannot reach the Ray cluster at {address} ({err.strerror or err}); start it with "
            "`ray start --head`, or unset RAY_ADDRESS and --ray-address to start a local one") from err


@contextmanager
def connected(settings: RaySettings) -> Iterator[Any]:
    """Ray, connected: an already initialized Ray is used as it is (and left running)."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    address = settings.address or os.environ.get("RAY_ADDRESS") or None
    if address:
        check_reachable(address)
        kwargs: dict[str, Any] = {"address": address}
    else:
        # workers of a local cluster import `train` from where this driver does (a source checkout too)
        root = str(Path(__file__).resolve().parent.parent)
        paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
        if root not in paths:
            os.environ["PYTHONPATH"] = os.pathsep.join([root, *filter(None, paths)])
        kwargs = {"num_cpus": settings.local_cpus, "include_dashboard": False}
    try:
        ray.init(logging_level="warning", **kwargs)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as err:
        where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
        raise DnError(f"cannot connect to {where}: {str(err).strip().splitlines()[0]}") from err
    try:
        yield ray
    finally:
        ray.shutdown()


class _Quiet:
    """A worker's divergence watch: the driver warns, once, when it writes the rows."""

    def see(self, row: dict) -> None:
        pass


def _worker_experiment(cfg: ExperimentConfig, seed: int, stack_size: int, device: str, threads: int,
                       data: Dataset, run_dir: Path) -> Experiment:
    """The driver's Experiment rebuilt in a task, its torch threads set from the task's CPUs."""
    torch.set_num_threads(max(1, int(threads)))
    dev = torch.device(device)
    moved = dataclasses.replace(data, x_train=data.x_train.to(dev), y_train=data.y_train.to(dev),
                                x_test=data.x_test.to(dev), y_test=data.y_test.to(dev))
    exp = Experiment(cfg, Context(run_dir, seed, dev, stack_size, progress=False), moved)
    exp._divergence = _Quiet()  # type: ignore[assignment]
    return exp


def prune_task(cfg: ExperimentConfig, seed: int, stack_size: int, device: str, threads: int,
               data: Dataset, files: dict[str, bytes]) -> dict[str, bytes]:
    """Algorithm 1 in a scratch folder laid from `files` (a resumed pruning's rounds); its files back."""
    with tempfile.TemporaryDirectory(prefix="dn-ray-") as tmp:
        exp = _worker_experiment(cfg, seed, stack_size, device, threads, data, Path(tmp))
        for rel, blob in files.items():
            (exp.dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (exp.dir / rel).write_bytes(blob)
        exp.prune(exp.starts())
        return {str(p.relative_to(exp.dir)): p.read_bytes() for p in sorted(exp.dir.rglob("*"))
                if p.is_file() and not is_sidecar(p) and not p.name.startswith(".")}


def piece_task(cfg: ExperimentConfig, seed: int, stack_size: int, device: str, threads: int,
               data: Dataset, job: PieceJob) -> tuple[list[dict], list[dict[str, np.ndarray]]]:
    """One condition piece, from its job alone: (metric rows, final biases)."""
    exp = _worker_experiment(cfg, seed, stack_size, device, threads, data, Path(tempfile.gettempdir()))
    return exp.train_piece(job)


def _pruning_inputs(exp: Experiment) -> dict[str, bytes]:
    """What a resumed pruning reads: the tickets, trained rounds and pruning state so far (sidecars too)."""
    files = {}
    for sub in ("tickets", "trained", "state"):
        for path in sorted((exp.dir / sub).glob("*")):
            if path.is_file() and (sub != "state" or path.name.startswith("pruning")):
                files[str(path.relative_to(exp.dir))] = path.read_bytes()
    return files


def _level(exp: Experiment, group: list[ModelPlan]) -> int:
    """A chained piece's place in the chain (it waits for every lower level); 0 when not chained."""
    if not chained(exp.cfg):
        return 0
    labels = list(dict.fromkeys(p.label for p in exp.plan()))
    return labels.index(group[0].label)


class RayExecutor:
    """Runs an Experiment's pieces as Ray tasks; the driver alone writes the results folder."""

    def __init__(self, ray: Any, settings: RaySettings):
        self.ray, self.settings = ray, settings

    def _get(self, ref: Any, exp: Experiment, piece: str) -> Any:
        """A task's result; its failure as one line naming the experiment and piece."""
        ray = self.ray
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as err:
            cause = getattr(err, "cause", None) or err
            text = str(cause) if isinstance(cause, DnError) else f"{type(cause).__name__}: {cause}"
        except ray.exceptions.RayError as err:
            text = f"{type(err).__name__}: {err}"
        line = (text.strip().splitlines() or ["no message"])[0]
        raise DnError(f"{exp.cfg.name} {piece} failed on a Ray worker: {line}")

    def run(self, exp: Experiment, thetas: list[dict]) -> None:
        """Pruning first, then every condition piece not yet done (chained ones in order)."""
        ray, s, cfg = self.ray, self.settings, exp.cfg
        data = exp.data
        cpu_data = dataclasses.replace(data, x_train=data.x_train.cpu(), y_train=data.y_train.cpu(),
                                       x_test=data.x_test.cpu(), y_test=data.y_test.cpu())
        common = (cfg, exp.ctx.seed, exp.ctx.stack_size, str(exp.ctx.device), s.task_cpus, ray.put(cpu_data))
        options = {"num_cpus": s.task_cpus, "num_gpus": s.task_gpus, "max_retries": RETRIES}
        pending: dict[Any, PieceJob] = {}
        try:
            done_marker = exp.dir / "done" / "pruning.json"
            if not done_marker.exists():
                before = exp.done_work()
                ref = ray.remote(prune_task).options(**options).remote(*common, _pruning_inputs(exp))
                pending[ref] = PieceJob("pruning", [], [], [])
                while not ray.wait([ref], timeout=0.5)[0]:
                    signals.check()
                outputs = self._get(ref, exp, "pruning")
                pending.clear()
                for rel in sorted(outputs, key=lambda r: r == "done/pruning.json"):  # the marker last
                    atomic_write_bytes(exp.dir / rel, outputs[rel])
                for row in read_json(done_marker)["rows"]:
                    exp._divergence.see(row)
                exp._tick(cfg.trials * cfg.prune_rounds * len(exp.prune_segments) - before, "pruning")
            masks = exp.prune(thetas)  # read back from the tickets just written
            todo = [(name, group) for name, group in exp.pieces() if not exp.piece_done(name, group)]
            levels = {name: _level(exp, group) for name, group in todo}
            remote = ray.remote(piece_task).options(**options)
            finished = 0
            while todo or pending:
                signals.check()
                waiting = [levels[j.name] for j in pending.values()] + [levels[n] for n, _ in todo]
                lowest = min(waiting)
                for name, group in [t for t in todo if levels[t[0]] == lowest]:
                    job = exp.piece_job(name, group, thetas, masks)
                    pending[remote.remote(*common, job)] = job
                    todo.remove((name, group))
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
                for ref in ready:
                    job = pending.pop(ref)
                    rows, biases = self._get(ref, exp, job.name)
                    for row in rows:
                        exp._divergence.see(row)
                    exp.finish_piece(job, rows, biases)
                    finished += 1
                    already = 0 if job.state is None else len(job.members) * int(job.state["epochs_done"])
                    exp._tick(len(job.members) * cfg.epochs - already, f"piece {job.name} ({finished} done)")
        finally:
            for ref in pending:  # an interrupted driver: nothing of these is written, resume reruns them
                ray.cancel(ref, force=True)
