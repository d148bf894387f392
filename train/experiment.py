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

import numpy as np
import torch
from tqdm.auto import tqdm

from train.conditions import CONDITIONS, Ticket, label
from train.config import ExperimentConfig
from train.data import Dataset
from train.engine import build_stack, epoch_order, evaluate, export_state, import_state, train_epoch
from train.errors import DnError
from train.init import init_bound, init_std, initial_weights
from train.models import build_model
from train.pruning import density, prune_masks
from train.recovery import check_experiment
from train.seeding import generator
from train.store import read_json, read_npz, write_json, write_npz

METRIC_COLUMNS = [
    "experiment", "model", "dataset", "condition", "round", "density",
    "trial", "epoch", "train_loss", "test_loss", "test_acc",
]
PRUNE_COLUMNS = [
    "experiment", "model", "dataset", "trial", "round", "density",
    "epoch", "train_loss", "test_loss", "test_acc",
]


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


@dataclass(frozen=True)
class ModelPlan:
    """One model of the condition phase."""

    condition: str
    label: str
    round: int
    trial: int


def chunks(items: list, size: int) -> list[list]:
    """Split into the fewest pieces of at most `size`, as even as possible."""
    count = max(1, -(-len(items) // size))
    bounds = np.linspace(0, len(items), count + 1).round().astype(int)
    return [items[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


@dataclass
class Experiment:
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

    # ---------------------------------------------------------------- helpers
    def _key(self, *parts: object) -> tuple:
        return (self.ctx.seed, self.cfg.name, *parts)

    def theta0(self, trial: int) -> dict[str, torch.Tensor]:
        return initial_weights(self.cfg.init, self.layers, generator(*self._key("theta0", trial)))

    def _row(self, **values) -> dict:
        return {"experiment": self.cfg.name, "model": self.cfg.model, "dataset": self.cfg.dataset, **values}

    def _tick(self, models: int, note: str) -> None:
        if self._bar is not None:
            self._bar.update(models)
            self._bar.set_postfix_str(note, refresh=False)
        if self.ctx.on_epoch is not None:
            self.ctx.on_epoch()

    def _train(self, stack, keys: list[tuple], epoch: int) -> tuple[np.ndarray, ...]:
        order = epoch_order(keys, epoch, self.data.x_train.shape[0], self.ctx.device)
        loss = train_epoch(self.net, stack, self.data.x_train, self.data.y_train, order, self.cfg.batch_size)
        test_loss, test_acc = evaluate(self.net, stack, self.data.x_test, self.data.y_test)
        return loss.cpu().numpy(), test_loss.cpu().numpy(), test_acc.cpu().numpy()

    def write_layers(self) -> None:
        write_json(self.dir / "layers.json", [
            {"name": spec.name, "param": spec.param, "shape": list(spec.shape), "fan_in": spec.fan_in,
             "fan_out": spec.fan_out, "init_std": init_std(self.cfg.init, spec),
             "init_bound": init_bound(self.cfg.init, spec)}
            for spec in self.layers
        ])

    # ---------------------------------------------------------------- pruning
    def _save_tickets(self, thetas: list[dict], masks: list[list[dict]]) -> None:
        for t, (theta, rounds) in enumerate(zip(thetas, masks, strict=True)):
            arrays = {f"theta0/{k}": v.numpy() for k, v in theta.items()}
            for r, mask in enumerate(rounds):
                arrays.update({f"mask/{r}/{k}": v.numpy().astype(np.uint8) for k, v in mask.items()})
            write_npz(self.dir / "tickets" / f"trial{t}.npz", arrays)

    def _load_masks(self, trials: int, rounds: int) -> list[list[dict]]:
        out = []
        for t in range(trials):
            arrays = read_npz(self.dir / "tickets" / f"trial{t}.npz")
            out.append([
                {spec.param: torch.from_numpy(arrays[f"mask/{r}/{spec.param}"].astype(np.float32)) for spec in self.layers}
                for r in range(rounds + 1)
            ])
        return out

    def prune(self, thetas: list[dict]) -> list[list[dict]]:
        """Algorithm 1 for every trial; returns masks[trial][round] for rounds 0..n."""
        cfg, done = self.cfg, self.dir / "done" / "pruning.json"
        if done.exists():
            return self._load_masks(cfg.trials, cfg.prune_rounds)
        state_path = self.dir / "state" / "pruning.json"
        ones = {spec.param: torch.ones(spec.shape) for spec in self.layers}
        masks: list[list[dict]] = [[ones] for _ in range(cfg.trials)]
        rows: list[dict] = []
        start = 0
        if state_path.exists():
            state = read_json(state_path)
            start, rows = int(state["rounds_done"]), list(state["rows"])
            masks = self._load_masks(cfg.trials, start)
        else:
            self._save_tickets(thetas, masks)
        for r in range(start, cfg.prune_rounds):
            for group in chunks(list(range(cfg.trials)), self.ctx.stack_size):
                stack = build_stack(self.net, [thetas[t] for t in group], [masks[t][r] for t in group],
                                    cfg.lr, cfg.weight_decay, self.ctx.device)
                keys = [self._key("order", "prune", t, r) for t in group]
                for epoch in range(1, cfg.prune_epochs + 1):
                    loss, test_loss, acc = self._train(stack, keys, epoch)
                    for i, t in enumerate(group):
                        rows.append(self._row(trial=t, round=r, density=density(masks[t][r]), epoch=epoch,
                                              train_loss=float(loss[i]), test_loss=float(test_loss[i]),
                                              test_acc=float(acc[i])))
                    self._tick(len(group), f"prune round {r + 1}/{cfg.prune_rounds}")
                trained = {k: v.detach().cpu() for k, v in stack.params.items()}
                for i, t in enumerate(group):
                    weights = {spec.param: trained[spec.param][i] for spec in self.layers}
                    masks[t].append(prune_masks(self.layers, weights, masks[t][r], cfg.prune_rate, cfg.prune_scope))
            self._save_tickets(thetas, masks)
            write_json(state_path, {"rounds_done": r + 1, "rows": rows})
        write_json(done, {"rows": rows})
        state_path.unlink(missing_ok=True)
        return masks

    # ---------------------------------------------------------------- conditions
    def plan(self) -> list[ModelPlan]:
        cfg, plans = self.cfg, []
        for t in range(cfg.trials):
            for c in cfg.conditions:
                if not CONDITIONS[c].uses_ticket:
                    plans.append(ModelPlan(c, label(c, 1.0), 0, t))
            for r in cfg.ticket_rounds:
                for c in cfg.conditions:
                    if CONDITIONS[c].uses_ticket:
                        plans.append(ModelPlan(c, label(c, cfg.density(r)), r, t))
        return plans

    def _initial(self, plan: ModelPlan, thetas: list[dict], masks: list[list[dict]]) -> tuple[dict, dict]:
        ticket = Ticket(self.layers, thetas[plan.trial], masks[plan.trial][plan.round], self.cfg.reinit_pool)
        gen = generator(*self._key("condition", plan.label, plan.trial))
        return CONDITIONS[plan.condition].build(ticket, gen)

    def train_conditions(self, thetas: list[dict], masks: list[list[dict]]) -> None:
        cfg = self.cfg
        groups = chunks(self.plan(), self.ctx.stack_size)
        for g, group in enumerate(groups):
            name = f"train-{g:02d}"
            members = [f"{p.label}/trial{p.trial}" for p in group]
            done = self.dir / "done" / f"{name}.json"
            if done.exists():
                if read_json(done)["members"] != members:
                    raise DnError(f"{self.dir} was trained with another --stack-size; resume with the same one")
                continue
            inits = [self._initial(p, thetas, masks) for p in group]
            stack = build_stack(self.net, [i[0] for i in inits], [i[1] for i in inits],
                                cfg.lr, cfg.weight_decay, self.ctx.device)
            dens = [density(i[1]) for i in inits]
            keys = [self._key("order", "train", p.trial) for p in group]
            state_path = self.dir / "state" / f"{name}.npz"
            rows: list[dict] = []
            first = 1
            if state_path.exists():
                state = read_npz(state_path)
                if json.loads(str(state["members"])) != members:
                    raise DnError(f"{self.dir} was trained with another --stack-size; resume with the same one")
                import_state(stack, {k: torch.from_numpy(v) for k, v in state.items() if "/" in k})
                rows, first = json.loads(str(state["rows"])), int(state["epochs_done"]) + 1
            last_save = time.monotonic()
            for epoch in range(first, cfg.epochs + 1):
                loss, test_loss, acc = self._train(stack, keys, epoch)
                for i, p in enumerate(group):
                    rows.append(self._row(condition=p.label, round=p.round, density=dens[i], trial=p.trial,
                                          epoch=epoch, train_loss=float(loss[i]),
                                          test_loss=float(test_loss[i]), test_acc=float(acc[i])))
                if epoch < cfg.epochs and time.monotonic() - last_save >= self.ctx.checkpoint_seconds:
                    self._checkpoint(state_path, stack, members, rows, epoch)
                    last_save = time.monotonic()
                self._tick(len(group), f"stack {g + 1}/{len(groups)} epoch {epoch}/{cfg.epochs}")
            write_json(done, {"members": members, "rows": rows})
            state_path.unlink(missing_ok=True)
            if self.ctx.on_piece_done:
                self.ctx.on_piece_done()

    def _checkpoint(self, path: Path, stack, members: list[str], rows: list[dict], epoch: int) -> None:
        arrays = {k: v.numpy() for k, v in export_state(stack).items()}
        arrays.update(members=np.array(json.dumps(members)), rows=np.array(json.dumps(rows)),
                      epochs_done=np.array(epoch))
        write_npz(path, arrays)

    # ---------------------------------------------------------------- all
    def total_work(self) -> int:
        cfg = self.cfg
        return cfg.trials * cfg.prune_rounds * cfg.prune_epochs + len(self.plan()) * cfg.epochs

    def done_work(self) -> int:
        """Model-epochs already finished on disk (for the progress bar)."""
        cfg, work = self.cfg, 0
        if (self.dir / "done" / "pruning.json").exists():
            work += cfg.trials * cfg.prune_rounds * cfg.prune_epochs
        elif (self.dir / "state" / "pruning.json").exists():
            work += cfg.trials * cfg.prune_epochs * int(read_json(self.dir / "state" / "pruning.json")["rounds_done"])
        for marker in (self.dir / "done").glob("train-*.json"):
            work += len(read_json(marker)["members"]) * cfg.epochs
        for state in (self.dir / "state").glob("train-*.npz"):
            arrays = read_npz(state)
            work += len(json.loads(str(arrays["members"]))) * int(arrays["epochs_done"])
        return work

    def run(self) -> None:
        self.write_layers()
        check_experiment(self)  # damaged files: recompute what can be, one line each (train/recovery.py)
        thetas = [self.theta0(t) for t in range(self.cfg.trials)]
        with tqdm(total=self.total_work(), initial=self.done_work(), desc=self.cfg.name, unit="model-epoch",
                  disable=not self.ctx.progress, dynamic_ncols=True) as bar:
            self._bar = bar
            masks = self.prune(thetas)
            self.train_conditions(thetas, masks)
            self._bar = None
        for leftover in (self.dir / "state").glob("*"):
            leftover.unlink()
