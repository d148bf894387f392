"""The stacked training engine: M models of one architecture trained as one.

Every model has its own weights, mask and optimizer state (Adam, or SGD with momentum:
train/optimizers.py), and its own data order or one shared with the whole stack; the models
share only the batched kernels (bmm, grouped conv). The loss is the sum of the models' mean
losses, so each model's gradient is exactly what it would get alone.

Pruned weights: the stack starts with them at exactly zero and every gradient is masked before
the optimizer step, so with coupled weight decay (wd * 0 = 0) their gradient, Adam's moments or
SGD's momentum buffer, and their update are exactly zero, and they stay zero in every forward
pass without a mask multiply on the hot path.

Parameters that are no layer's weight or bias (BatchNorm's scale and shift) are trained and
never pruned; they start where the network says (`StackedNet.fixed_start`). Buffers (BatchNorm's
running statistics) are per model, part of the stack, updated in training and read in evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from train.memory import keep_freed_memory
from train.models.base import StackedNet
from train.optimizers import optimizer_kind
from train.seeding import generator


@dataclass
class Stack:
    """The trainable state of M models: stacked parameters, masks and their optimizer.

    Invariant: `params[k]` is exactly zero wherever `masks[k]` is zero, as long as the optimizer
    state starts fresh (an optimizer carried over pruning rounds moves pruned weights: that
    is the authors' protocol, `prune_optimizer="shared"`).
    """

    params: dict[str, torch.Tensor]
    masks: dict[str, torch.Tensor]
    optimizer: torch.optim.Optimizer
    buffers: dict[str, torch.Tensor] = field(default_factory=dict)  # (M, ...) each: running statistics
    optimizer_name: str = "adam"  # its train/optimizers.py entry: what a checkpoint saves of it

    @property
    def size(self) -> int:
        return next(iter(self.params.values())).shape[0]

    def set_lr(self, lr: float) -> None:
        """The learning rate of the next steps (the epoch's, train/optimizers.py `lr_at`)."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def mask_gradients(self) -> None:
        """Zero the gradient of every pruned weight (before each optimizer step)."""
        for name, mask in self.masks.items():
            self.params[name].grad.mul_(mask)


def build_stack(
    net: StackedNet,
    thetas: Sequence[dict[str, torch.Tensor]],
    masks: Sequence[dict[str, torch.Tensor]],
    lr: float,
    weight_decay: float,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
    *,
    optimizer: str = "adam",
    momentum: float = 0.0,
) -> Stack:
    """Stack per-model weights and masks; masked-out weights start (and stay) at exactly zero.

    `optimizer` names a train/optimizers.py entry (`momentum`: SGD's). `dtype` float64 serves
    the tests: the same code paths with rounding 2^29 times smaller.
    """
    kind = optimizer_kind(optimizer)
    keep_freed_memory()  # the training steps reuse their activations' pages (train/memory.py)
    stacked_masks = {
        layer.param: torch.stack([m[layer.param] for m in masks]).to(device, dtype)
        for layer in net.layers
    }
    params = {}
    fixed = net.fixed_start()  # BatchNorm's scale and shift: not in θ0, the same for every model
    for name in net.param_shapes():
        value = torch.stack([theta[name] if name in theta else fixed[name] for theta in thetas])
        value = value.to(device, dtype)
        if name in stacked_masks:
            value = value * stacked_masks[name]
        params[name] = value.contiguous().requires_grad_(True)
    # elementwise: a model's update never reads another model's values (train/optimizers.py). The
    # fused kernels round a tensor's last few elements without FMA, so a model's place in the stack
    # may change its last bits (tests/test_optimizers.py bounds that against torch's reference SGD).
    built = kind.build(list(params.values()), lr, weight_decay, momentum)
    buffers = {name: torch.stack([value] * len(thetas)).to(
                   device=device, dtype=dtype if value.is_floating_point() else value.dtype)
               for name, value in net.initial_buffers().items()}
    return Stack(params, stacked_masks, built, buffers, kind.name)


def epoch_order(seeds: Sequence[tuple], epoch: int, n: int, device: torch.device) -> torch.Tensor:
    """(M, N) data permutations; model i's depends only on its own seed key and the epoch.

    When every model has the same key (a trial's conditions share their data order: common
    random numbers), the result is a single (1, N) row: the engine then gathers each minibatch
    once and the models read it together (one wide matmul for FC-1's first layer).
    """
    if len(set(seeds)) == 1:
        seeds = seeds[:1]
    rows = [torch.randperm(n, generator=generator(*key, "epoch", epoch)) for key in seeds]
    return torch.stack(rows).to(device)


def train_epoch(
    net: StackedNet,
    stack: Stack,
    x: torch.Tensor,
    y: torch.Tensor,
    order: torch.Tensor,
    batch_size: int,
) -> torch.Tensor:
    """One epoch over the data; returns the (M,) mean train loss.

    `order` is (M, N), each model's own order, or (1, N), one order shared by every model.
    """
    n = order.shape[1]
    total = torch.zeros(stack.size, device=x.device)
    for start in range(0, n, batch_size):
        index = order[:, start : start + batch_size]
        logits = net.forward_with(stack.params, stack.buffers, net.stack_input(x, index), training=True)
        target = y.index_select(0, index.reshape(-1)).view(index.shape).expand(logits.shape[:2])
        losses = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), target.reshape(-1), reduction="none"
        ).view(target.shape).mean(dim=1)
        stack.optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()
        stack.mask_gradients()
        stack.optimizer.step()
        total += losses.detach() * index.shape[1]
    return total / n


@torch.no_grad()
def evaluate(
    net: StackedNet, stack: Stack, x: torch.Tensor, y: torch.Tensor, batch_size: int = 2000,
    denominator: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(M,) mean loss and accuracy over `x`: sums divided by `denominator` (default len(x))."""
    params = stack.params
    loss = torch.zeros(stack.size, device=x.device)
    correct = torch.zeros(stack.size, device=x.device)
    for start in range(0, x.shape[0], batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        logits = net.forward_with(params, stack.buffers, net.shared_input(xb, stack.size), training=False)
        target = yb.unsqueeze(0).expand(stack.size, -1)
        loss += F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), target.reshape(-1), reduction="none"
        ).view(target.shape).sum(dim=1)
        correct += (logits.argmax(dim=-1) == target).sum(dim=1)
    n = x.shape[0] if denominator is None else denominator
    return loss / n, correct / n


def optimizer_state(stack: Stack) -> dict[str, torch.Tensor]:
    """The optimizer's per-parameter state, as `<optimizer>/<param>/<entry>` (Adam: `adam/...`,
    the keys of every checkpoint written before SGD existed; SGD: `sgd/<param>/momentum_buffer`)."""
    kind = optimizer_kind(stack.optimizer_name)
    state: dict[str, torch.Tensor] = {}
    for name, p in stack.params.items():
        opt = stack.optimizer.state.get(p) or {}
        for entry in kind.state:
            value = opt.get(entry)
            if value is None:  # never stepped, or SGD without momentum: nothing to carry
                continue
            value = torch.as_tensor(value)
            state[f"{kind.name}/{name}/{entry}"] = (value.reshape(1) if entry in kind.scalars else value).cpu()
    return state


def export_state(stack: Stack) -> dict[str, torch.Tensor]:
    """Everything needed to continue training bit-for-bit: weights, optimizer state and buffers."""
    state: dict[str, torch.Tensor] = {f"buffer/{name}": b.cpu() for name, b in stack.buffers.items()}
    for name, p in stack.params.items():
        state[f"param/{name}"] = p.detach().cpu()
    state.update(optimizer_state(stack))
    return state


def import_state(stack: Stack, state: dict[str, torch.Tensor], params: bool = True) -> None:
    """Restore what :func:`export_state` saved into a freshly built stack (`params=False`:
    only the optimizer's state, for an optimizer that carries over pruning rounds).

    A scalar (Adam's step) goes where torch's own `load_state_dict` puts a fused optimizer's: on
    the parameter's device, in float32.
    """
    kind = optimizer_kind(stack.optimizer_name)
    with torch.no_grad():
        for name, b in stack.buffers.items():
            if params and f"buffer/{name}" in state:
                b.copy_(state[f"buffer/{name}"])
        for name, p in stack.params.items():
            if params:
                p.copy_(state[f"param/{name}"])
            entries = {e: state[f"{kind.name}/{name}/{e}"] for e in kind.state if f"{kind.name}/{name}/{e}" in state}
            if entries:
                stack.optimizer.state[p] = {
                    e: v.reshape(()).to(p.device, torch.float32).clone() if e in kind.scalars
                    else v.to(p.device).clone()
                    for e, v in entries.items()}
