"""One experiment (an architecture on a dataset): Algorithm 1, then every condition.

Work is cut into resumable pieces: each pruning round, and each stack of condition models
(checkpointed every few minutes). Every piece derives its randomness from names
(`train.seeding`), so a resumed run gives the same numbers as an uninterrupted one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from tqdm.auto import tqdm

from dn_data import Dataset
from results.divergence import Watch
from results.errors import DnError
from results.rates import layer_rates
from results.schema import (
    METRIC_COLUMNS,
    PRUNE_COLUMNS,
    THETA0,
)
from results.store import read_json, read_npz, write_json, write_npz
from train import signals
from train.config import ExperimentConfig
from train.engine import build_stack, epoch_order, evaluate, export_state, import_state, train_epoch
from train.init import init_bound, init_std, initial_weights
from train.models import build_model
from train.optimizers import lr_at
from train.pruning import density
from train.recovery import check_experiment
from train.rounds import Pruning
from train.seeding import generator
from train.starts import (
    ModelPlan,
    chained,
    condition_pieces,
    condition_plan,
    condition_start,
    needs_dn_model,
    previous_in_chain,
    start_digest,
)
from train.tickets import adopt

__all__ = ["METRIC_COLUMNS", "PRUNE_COLUMNS", "Context", "Executor", "Experiment"]



@dataclass
class Context:
    """How to run (not what): where, on which device, how many models per stack."""

    run_dir: Path
    seed: int
    device: torch.device
    stack_size: int = 8
    checkpoint_seconds: float = 120.0
    progress: bool = True
    on_epoch: Callable[[], None] | None = None  # called after every stack-epoch (tests interrupt here)
    on_piece_done: Callable[[], None] | None = None
    tickets: Path | None = None  # an imported folder whose tickets replace the pruning (train/tickets.py)


class Executor(Protocol):
    """Runs an experiment's pieces elsewhere (Ray); the local path is `Experiment.run` itself."""

    def run(self, exp: Experiment, thetas: list[dict]) -> None: ...


@dataclass
class PieceJob:
    """One condition piece as data: what a worker needs to train it, with no file access."""

    name: str
    group: list[ModelPlan]
    members: list[str]
    inits: list[tuple[dict, dict]]  # each model's start (weights, mask), as torch tensors
    state: dict[str, np.ndarray] | None = None  # a checkpoint to resume from (state/<name>.npz)


@dataclass
class Experiment(Pruning):
    cfg: ExperimentConfig
    ctx: Context
    data: Dataset
    _bar: tqdm | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.net = build_model(self.cfg.model, tuple(self.data.x_train.shape[1:]), self.data.num_classes)
        self.data.x_train = self.net.prepare_data(self.data.x_train)
        self.data.x_test = self.net.prepare_data(self.data.x_test)
        self.dir = self.ctx.run_dir / self.cfg.name
        self.layers = self.net.layers
        self._layer_params = {k for spec in self.layers for k in (spec.param, spec.bias)}
        self._trained: dict[tuple[int, int], dict[str, torch.Tensor]] = {}
        self._models: dict[int, object] = {}
        self._divergence = Watch()  # warns once per model whose loss blows up
        self.rates = None  # per-layer rates {layer name: rate} (results/rates.py), or one rate for all
        if self.cfg.prune_rates:
            try:
                self.rates = layer_rates(self.cfg.prune_rates, self.cfg.prune_rate,
                                         [(spec.name, spec.shape) for spec in self.layers])
            except ValueError as err:
                raise DnError(f"{self.cfg.name}: {err}") from None
        n = self.data.x_train.shape[0]
        self.prune_segments = self.cfg.prune_length.segments(n, self.cfg.batch_size)
        rewind = self.cfg.rewind
        self.rewind_segments = rewind.segments(n, self.cfg.batch_size) if rewind else []
        if rewind and self.ctx.tickets is not None:
            raise DnError(f"{self.cfg.name}: imported tickets bring their own start; drop --rewind-step")

    # ---------------------------------------------------------------- helpers
    def _key(self, *parts: object) -> tuple:
        return (self.ctx.seed, self.cfg.name, *parts)

    def theta0(self, trial: int) -> dict[str, torch.Tensor]:
        if self.ctx.tickets is not None:  # the imported θ0, as adopted into this run
            arrays = read_npz(self.dir / "tickets" / f"trial{trial}.npz")
            return {k[len(THETA0):]: torch.from_numpy(v) for k, v in arrays.items() if k.startswith(THETA0)}
        return initial_weights(self.cfg.init, self.layers, generator(*self._key("theta0", trial)),
                               self.cfg.bias_init)

    def _row(self, **values) -> dict:
        row = {"experiment": self.cfg.name, "model": self.cfg.model, "dataset": self.cfg.dataset, **values}
        self._divergence.see(row)
        return row

    def _tick(self, models: int, note: str) -> None:
        if self._bar is not None:
            self._bar.update(models)
            self._bar.set_postfix_str(note, refresh=False)
        if self.ctx.on_epoch is not None:
            self.ctx.on_epoch()

    def _evaluate(self, stack) -> tuple[np.ndarray, np.ndarray]:
        """(M,) test loss and accuracy; with `test_drop_last` only full batches, divided by N."""
        x, y, n = self.data.x_test, self.data.y_test, self.data.x_test.shape[0]
        if self.cfg.test_drop_last:
            keep = (n // self.cfg.batch_size) * self.cfg.batch_size
            x, y = x[:keep], y[:keep]
        loss, acc = evaluate(self.net, stack, x, y, denominator=n)
        return loss.cpu().numpy(), acc.cpu().numpy()

    def _train_loss_pass(self, stack) -> np.ndarray:
        return evaluate(self.net, stack, self.data.x_train, self.data.y_train)[0].cpu().numpy()

    def _stack(self, starts: list[dict[str, torch.Tensor]], masks: list[dict[str, torch.Tensor]]):
        """A fresh stack of these models with the run's optimizer (train/optimizers.py)."""
        cfg = self.cfg
        return build_stack(self.net, starts, masks, cfg.lr, cfg.weight_decay, self.ctx.device,
                           optimizer=cfg.optimizer, momentum=cfg.momentum)

    def _train(self, stack, keys: list[tuple], epoch: int, batches: int | None = None) -> tuple[np.ndarray, ...]:
        """Train one epoch, or its first `batches` minibatches; (train loss, test loss, test acc).

        `epoch` counts from 1 within the training segment (a pruning round, a condition run, the
        rewind), and alone sets the learning rate (`lr_drops`), so a resumed run gets the same one.
        A pruning round measured in iterations (`prune_steps`) counts its partial last epoch too.
        """
        stack.set_lr(lr_at(self.cfg.lr, self.cfg.drops, epoch))
        order = epoch_order(keys, epoch, self.data.x_train.shape[0], self.ctx.device)
        if batches is not None:
            order = order[:, : batches * self.cfg.batch_size]
        loss = train_epoch(self.net, stack, self.data.x_train, self.data.y_train, order, self.cfg.batch_size)
        loss = self._train_loss_pass(stack) if self.cfg.train_loss == "pass" else loss.cpu().numpy()
        return (loss, *self._evaluate(stack))

    def write_layers(self) -> None:
        write_json(self.dir / "layers.json", [
            {"name": spec.name, "param": spec.param, "shape": list(spec.shape), "fan_in": spec.fan_in,
             "fan_out": spec.fan_out, "init_std": init_std(self.cfg.init, spec),
             "init_bound": init_bound(self.cfg.init, spec)}
            for spec in self.layers
        ])

    # ---------------------------------------------------------------- conditions
    def plan(self) -> list[ModelPlan]:
        return condition_plan(self.cfg)

    def pieces(self) -> list[tuple[str, list[ModelPlan]]]:
        return condition_pieces(self.cfg, self.ctx.stack_size)

    def _carried_biases(self, plan: ModelPlan) -> dict[str, torch.Tensor] | None:
        """Chained runs start with the biases the trial's previous run ended with."""
        if not chained(self.cfg):
            return None
        before = previous_in_chain(self.cfg, plan)
        if before is None:  # the first condition run continues from the last pruning round
            return self._biases(self.trained(plan.trial, self.cfg.prune_rounds - 1))
        ends = read_npz(self.dir / "carry" / f"{before.label}.npz")
        return {spec.bias: torch.from_numpy(ends[f"trial{plan.trial}/{spec.bias}"]) for spec in self.layers}

    def _initial(self, plan: ModelPlan, thetas: list[dict], masks: list[list[dict]]) -> tuple[dict, dict]:
        pool = None
        if self.cfg.dn_pool == "trained" and plan.round > 0:
            pool = self.trained(plan.trial, plan.round - 1)
        model = self._dn_model(plan.trial) if needs_dn_model(self.cfg) and plan.condition == "fitted" else None
        return condition_start(self.cfg, self.ctx.seed, self.layers, plan, thetas[plan.trial],
                               masks[plan.trial][plan.round], pool, self._carried_biases(plan), model)

    def _dn_model(self, trial: int):
        """The trial's DnModel for `fitted` (train/fitted.py): fitted once after pruning, then read back."""
        from train.fitted import fit_trial_model, load_trial_model, model_path

        if trial not in self._models:
            if not model_path(self.dir, trial).exists():
                fit_trial_model(self.ctx.run_dir, self.cfg.name, trial)
            self._models[trial] = load_trial_model(self.dir, trial)
        return self._models[trial]

    def _save_carry(self, group: list[ModelPlan], biases: list[dict[str, np.ndarray]]) -> None:
        """Chained runs: the biases each model ended with, for the trial's next run."""
        if not chained(self.cfg):
            return
        for p in dict.fromkeys(q.label for q in group):
            path = self.dir / "carry" / f"{p}.npz"
            arrays = read_npz(path) if path.exists() else {}
            for i, q in enumerate(group):
                if q.label == p:
                    arrays.update({f"trial{q.trial}/{k}": v for k, v in biases[i].items()})
            write_npz(path, arrays)

    def _metric_rows(self, group: list[ModelPlan], dens: list[float], epoch: int, loss, test_loss, acc) -> list[dict]:
        return [self._row(condition=p.label, condition_name=p.condition, round=p.round, density=dens[i], trial=p.trial, epoch=epoch,
                          train_loss=float(loss[i]), test_loss=float(test_loss[i]), test_acc=float(acc[i]))
                for i, p in enumerate(group)]

    @staticmethod
    def _members(group: list[ModelPlan]) -> list[str]:
        """A piece's models as its done marker and checkpoint name them."""
        return [f"{p.label}/trial{p.trial}" for p in group]

    def piece_done(self, name: str, group: list[ModelPlan]) -> bool:
        """Is condition piece `name` finished on disk (made with this very stack)?"""
        done = self.dir / "done" / f"{name}.json"
        if done.exists() and read_json(done)["members"] != self._members(group):
            raise DnError(f"{self.dir} was trained with another --stack-size; resume with the same one")
        return done.exists()

    def piece_job(self, name: str, group: list[ModelPlan], thetas: list[dict],
                  masks: list[list[dict]]) -> PieceJob:
        """Everything a condition piece needs, in memory: its models' starts and any checkpoint.

        Needs the pieces before it in a chain to be written (their carried biases).
        """
        members = self._members(group)
        inits = [self._initial(p, thetas, masks) for p in group]
        state_path = self.dir / "state" / f"{name}.npz"
        state = None
        if state_path.exists():
            state = read_npz(state_path)
            if json.loads(str(state["members"])) != members:
                raise DnError(f"{self.dir} was trained with another --stack-size; resume with the same one")
        return PieceJob(name, group, members, inits, state)

    def train_piece(self, job: PieceJob, state_path: Path | None = None,
                    note: str = "") -> tuple[list[dict], list[dict[str, np.ndarray]]]:
        """Train one condition piece: (metric rows, each model's final biases).

        Touches no file unless `state_path` is given (the local executor's checkpoints), so a
        Ray worker computes a piece from its job alone.
        """
        cfg, group, inits = self.cfg, job.group, job.inits
        stack = self._stack([i[0] for i in inits], [i[1] for i in inits])
        dens = [density(i[1]) for i in inits]
        keys = [self._key("order", "train", p.trial) for p in group]
        rows: list[dict] = []
        first = 1
        if job.state is not None:
            state = job.state
            import_state(stack, {k: torch.tensor(v) for k, v in state.items() if "/" in k})  # a copy: Ray's arrays are read-only
            rows, first = json.loads(str(state["rows"])), int(state["epochs_done"]) + 1
            for row in rows:  # the divergence rule compares with each model's first epoch
                self._divergence.see(row)
        elif cfg.eval_epoch_zero:
            rows += self._metric_rows(group, dens, 0, self._train_loss_pass(stack), *self._evaluate(stack))
        last_save = time.monotonic()
        for epoch in range(first, cfg.epochs + 1):
            rows += self._metric_rows(group, dens, epoch, *self._train(stack, keys, epoch))
            stop = signals.requested() is not None  # SIGINT/SIGTERM: save now, then stop
            if state_path is not None and epoch < cfg.epochs and (
                    stop or time.monotonic() - last_save >= self.ctx.checkpoint_seconds):
                self._checkpoint(state_path, stack, job.members, rows, epoch)
                last_save = time.monotonic()
            self._tick(len(group), f"{note} epoch {epoch}/{cfg.epochs}")
            if stop and epoch < cfg.epochs:
                signals.check()  # raises Stopped: the checkpoint above holds this epoch
        biases = [{spec.bias: stack.params[spec.bias][i].detach().cpu().numpy() for spec in self.layers}
                  for i in range(len(group))]
        return rows, biases

    def finish_piece(self, job: PieceJob, rows: list[dict], biases: list[dict[str, np.ndarray]]) -> None:
        """Write a trained piece: carried biases, then its done/ marker (the piece counts as done)."""
        self._save_carry(job.group, biases)
        write_json(self.dir / "done" / f"{job.name}.json",
                   {"members": job.members, "rows": rows, "starts_sha256": [start_digest(*i) for i in job.inits]})
        (self.dir / "state" / f"{job.name}.npz").unlink(missing_ok=True)
        if self.ctx.on_piece_done:
            self.ctx.on_piece_done()

    def train_conditions(self, thetas: list[dict], masks: list[list[dict]]) -> None:
        groups = self.pieces()
        for g, (name, group) in enumerate(groups):
            if self.piece_done(name, group):
                continue
            signals.check()
            job = self.piece_job(name, group, thetas, masks)
            rows, biases = self.train_piece(job, self.dir / "state" / f"{name}.npz", f"stack {g + 1}/{len(groups)}")
            self.finish_piece(job, rows, biases)

    def _checkpoint(self, path: Path, stack, members: list[str], rows: list[dict], epoch: int) -> None:
        arrays = {k: v.numpy() for k, v in export_state(stack).items()}
        arrays.update(members=np.array(json.dumps(members)), rows=np.array(json.dumps(rows)),
                      epochs_done=np.array(epoch))
        write_npz(path, arrays)

    # ---------------------------------------------------------------- all
    def total_work(self) -> int:
        cfg = self.cfg
        return cfg.trials * cfg.prune_rounds * len(self.prune_segments) + len(self.plan()) * cfg.epochs

    def done_work(self) -> int:
        """Model-epochs already finished on disk (for the progress bar)."""
        cfg, work = self.cfg, 0
        if (self.dir / "done" / "pruning.json").exists():
            work += cfg.trials * cfg.prune_rounds * len(self.prune_segments)
        elif (self.dir / "state" / "pruning.json").exists():
            rounds = int(read_json(self.dir / "state" / "pruning.json")["rounds_done"])
            work += cfg.trials * len(self.prune_segments) * rounds
        for marker in (self.dir / "done").glob("train-*.json"):
            work += len(read_json(marker)["members"]) * cfg.epochs
        for state in (self.dir / "state").glob("train-*.npz"):
            arrays = read_npz(state)
            work += len(json.loads(str(arrays["members"]))) * int(arrays["epochs_done"])
        return work

    def run(self, executor: Executor | None = None) -> None:
        """Every piece not yet done; in this process, or by `executor` (train/ray_executor.py)."""
        self.write_layers()
        if self.ctx.tickets is not None:
            adopt(self.ctx.tickets, self.cfg, self.layers, self.dir)
        check_experiment(self)  # damaged files: recompute what can be, one line each (train/recovery.py)
        thetas = self.starts()
        with tqdm(total=self.total_work(), initial=self.done_work(), desc=self.cfg.name, unit="model-epoch",
                  disable=not self.ctx.progress, dynamic_ncols=True) as bar:
            self._bar = bar
            if executor is None:
                masks = self.prune(thetas)
                self.train_conditions(thetas, masks)
            else:
                executor.run(self, thetas)
            self._bar = None
        for leftover in (self.dir / "state").glob("*"):
            leftover.unlink()
