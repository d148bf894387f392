"""Algorithm 1 for every trial of an experiment: the pruning rounds, their tickets and trained weights.

A mixin of `train.experiment.Experiment` (which supplies the network, data, config and the
training step `_train`), kept apart so that each phase reads on its own. Rewinding: every round
starts from θ0, or from θ_k, the dense network after `rewind_step` (Frankle et al. 2020).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from results.schema import REWIND, mask_key, rewind_key, theta0_key, trained_key, trained_prefix
from results.store import read_json, read_npz, write_json, write_npz
from train import signals
from train.engine import import_state, optimizer_state
from train.models.base import LayerSpec
from train.pruning import density, prune_masks
from train.starts import chunks


class Pruning:
    """The pruning phase; `Experiment` provides the attributes declared here."""

    cfg: Any
    ctx: Any
    net: Any
    dir: Path
    layers: list[LayerSpec]
    rates: dict[str, float] | None
    prune_segments: list[int]
    rewind_segments: list[int]
    _layer_params: set[str]
    _trained: dict[tuple[int, int], dict[str, torch.Tensor]]

    def theta0(self, trial: int) -> dict[str, torch.Tensor]: ...
    def _key(self, *parts: object) -> tuple: ...
    def _row(self, **values: Any) -> dict: ...
    def _tick(self, models: int, note: str) -> None: ...
    def _stack(self, starts: list[dict[str, torch.Tensor]], masks: list[dict[str, torch.Tensor]]) -> Any: ...
    def _train(self, stack: Any, keys: list[tuple], epoch: int, batches: int | None = None) -> tuple: ...

    def _save_tickets(self, thetas: list[dict], masks: list[list[dict]]) -> None:
        """θ0 and every round's mask per trial, and θ_k (`thetas`) when the run rewinds."""
        for t, (theta, rounds) in enumerate(zip(thetas, masks, strict=True)):
            arrays = {theta0_key(k): v.numpy() for k, v in self.theta0(t).items()}
            if self.rewind_segments:
                arrays.update({rewind_key(k): v.numpy() for k, v in theta.items()})
            for r, mask in enumerate(rounds):
                arrays.update({mask_key(r, k): v.numpy().astype(np.uint8) for k, v in mask.items()})
            write_npz(self.dir / "tickets" / f"trial{t}.npz", arrays)

    def _save_trained(self, trial: int, r: int, params: dict[str, torch.Tensor]) -> None:
        """θ' of pruning round r (trained with mask r, before pruning), biases included."""
        path = self.dir / "trained" / f"trial{trial}.npz"
        arrays = read_npz(path) if path.exists() else {}
        arrays = {k: v for k, v in arrays.items() if int(k.split("/")[1]) < r}
        arrays.update({trained_key(r, k): v.numpy() for k, v in params.items()})
        write_npz(path, arrays)

    def trained(self, trial: int, r: int) -> dict[str, torch.Tensor]:
        """Round r's trained parameters of `trial` (weights and biases), from disk."""
        if (trial, r) not in self._trained:
            arrays = read_npz(self.dir / "trained" / f"trial{trial}.npz")
            prefix = trained_prefix(r)
            self._trained[(trial, r)] = {k[len(prefix):]: torch.from_numpy(v) for k, v in arrays.items()
                                         if k.startswith(prefix)}
        return self._trained[(trial, r)]

    def _biases(self, params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {spec.bias: params[spec.bias] for spec in self.layers}

    def _load_masks(self, trials: int, rounds: int) -> list[list[dict]]:
        out = []
        for t in range(trials):
            arrays = read_npz(self.dir / "tickets" / f"trial{t}.npz")
            out.append([
                {spec.param: torch.from_numpy(arrays[mask_key(r, spec.param)].astype(np.float32)) for spec in self.layers}
                for r in range(rounds + 1)
            ])
        return out

    def starts(self) -> list[dict[str, torch.Tensor]]:
        """Per trial, what every round and condition starts from: θ0, or θ_k when the run rewinds.

        θ_k is the dense network after `rewind_step` of training from θ0 with a fresh optimizer (its
        own data order), stored in the tickets beside θ0 (Frankle et al. 2020's late rewinding).
        """
        theta0s = [self.theta0(t) for t in range(self.cfg.trials)]
        if not self.rewind_segments:
            return theta0s
        path = self.dir / "tickets" / "trial0.npz"
        if path.exists():  # pruning has started: θ_k is stored
            stored = [read_npz(self.dir / "tickets" / f"trial{t}.npz") for t in range(self.cfg.trials)]
            return [{k[len(REWIND):]: torch.from_numpy(v) for k, v in arrays.items() if k.startswith(REWIND)}
                    for arrays in stored]
        out: list[dict[str, torch.Tensor]] = []
        dense = {spec.param: torch.ones(spec.shape) for spec in self.layers}
        for group in chunks(list(range(self.cfg.trials)), self.ctx.stack_size):
            stack = self._stack([theta0s[t] for t in group], [dense] * len(group))
            keys = [self._key("order", "rewind", t) for t in group]
            for epoch, batches in enumerate(self.rewind_segments, 1):
                self._train(stack, keys, epoch, batches)
                signals.check()
            out += [{k: v[i].detach().cpu().clone() for k, v in stack.params.items() if k in self._layer_params}
                    for i in range(len(group))]
        return out

    def _round_start(self, thetas: list[dict], t: int, r: int) -> dict[str, torch.Tensor]:
        """Round r starts at θ0 or θ_k (weights rewound); biases too, or those round r-1 ended with."""
        if self.cfg.rewind_biases or r == 0:
            return thetas[t]
        return {**thetas[t], **self._biases(self.trained(t, r - 1))}

    def prune(self, thetas: list[dict]) -> list[list[dict]]:
        """Algorithm 1 for every trial; returns masks[trial][round] for rounds 0..n.

        With `prune_optimizer="shared"` one optimizer runs through all rounds, as in the authors'
        code (Adam): its state (moments and step, or SGD's momentum buffer) carries over, so
        weights pruned at the end of a round still move (masked gradient, nonzero momentum) until
        the next pruning zeroes them again.
        """
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
        groups = chunks(list(range(cfg.trials)), self.ctx.stack_size)
        for r in range(start, cfg.prune_rounds):
            signals.check()
            for g, group in enumerate(groups):
                stack = self._stack([self._round_start(thetas, t, r) for t in group], [masks[t][r] for t in group])
                # the shared optimizer's state (the file name predates SGD; resumed runs read it)
                opt_path = self.dir / "state" / f"pruning-adam-{g:02d}-r{r:02d}.npz"
                if cfg.prune_optimizer == "shared" and r > 0:
                    before = opt_path.with_name(f"pruning-adam-{g:02d}-r{r - 1:02d}.npz")
                    import_state(stack, {k: torch.from_numpy(v) for k, v in read_npz(before).items()},
                                 params=False)
                keys = [self._key("order", "prune", t, r) for t in group]
                for epoch, batches in enumerate(self.prune_segments, 1):
                    loss, test_loss, acc = self._train(stack, keys, epoch, batches)
                    for i, t in enumerate(group):
                        rows.append(self._row(trial=t, round=r, density=density(masks[t][r]), epoch=epoch,
                                              train_loss=float(loss[i]), test_loss=float(test_loss[i]),
                                              test_acc=float(acc[i])))
                    self._tick(len(group), f"prune round {r + 1}/{cfg.prune_rounds}")
                    if epoch < len(self.prune_segments):
                        signals.check()  # a signal abandons this round; the rounds before it are saved
                if cfg.prune_optimizer == "shared":
                    write_npz(opt_path, {k: v.numpy() for k, v in optimizer_state(stack).items()})
                # the layers' weights and biases (BatchNorm's scale and shift restart every round)
                trained = {k: v.detach().cpu() for k, v in stack.params.items() if k in self._layer_params}
                for i, t in enumerate(group):
                    params = {k: v[i].clone() for k, v in trained.items()}
                    weights = {spec.param: params[spec.param] for spec in self.layers}
                    masks[t].append(prune_masks(self.layers, weights, masks[t][r], cfg.prune_rate,
                                                cfg.prune_scope, cfg.prune_rule, self.rates))
                    self._save_trained(t, r, params)
                    self._trained[(t, r)] = params
            self._save_tickets(thetas, masks)
            write_json(state_path, {"rounds_done": r + 1, "rows": rows})
        write_json(done, {"rows": rows})
        state_path.unlink(missing_ok=True)
        return masks
