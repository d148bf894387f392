"""Any `torch.nn.Module` of the supported layers as a stacked network (one vmap over the models).

The module's own `forward` runs once per model under `torch.vmap` over the stack dimension,
through `torch.func.functional_call` with that model's parameters and buffers. PyTorch's
batching rules turn it into the stacked kernels by themselves: a batched matmul per Linear, one
grouped convolution per Conv2d (`groups=M`), and, for a batch shared by every model (x of
(1, B, ...)), one wide convolution or matmul against all M weights side by side. On a CPU a
network with convolutions runs model by model instead (a loop of `functional_call`s over views
of the stack), where oneDNN's grouped convolutions are the slower choice, except for the
leading conv stages of an `nn.Sequential` (`train/models/conv_stages.py`): those run as the
hand-written LeNet5's do (`train/models/shared_conv.py`), every model's first convolution one wide
convolution over a shared batch (or the models' own batches side by side), the later ones grouped,
in cache-sized pieces; the rest of the Sequential then runs as above.

* `layers`: one `LayerSpec` per Linear/Conv2d, named by its module path ("blocks.0.conv1"), so its
  weight is "<path>.weight" and its bias "<path>.bias", in the module's order. A layer built
  without a bias (bias=False) still has a "<path>.bias" entry, as every layer of a stacked
  network does (θ0, carried biases); the forward leaves it out, so it gets no gradient and keeps
  its start.
* BatchNorm: its scale and shift are trained and never pruned; they are not in `layers` (nor in
  θ0) but in `param_shapes`, and every model starts them where the module was built (1 and 0).
  Its running statistics are per model, the stack's buffers: updated in training mode (batch
  statistics), read in evaluation.

Supported modules: Linear, Conv2d, ReLU, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Flatten,
BatchNorm1d/2d, Identity, and containers (Sequential, ModuleList, ModuleDict, or a module of
your own that holds no parameters itself: its `forward` may add, concatenate, call torch.relu).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call

from results.errors import DnError
from train.models.base import LayerSpec, StackedNet, gather_rows
from train.models.conv_stages import ConvStages, conv_stages
from train.models.shared_conv import shared_conv_stack, side_by_side

Tensors = dict[str, torch.Tensor]
PRUNABLE = (nn.Linear, nn.Conv2d)
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
STATELESS = (nn.ReLU, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.Flatten, nn.Identity)
CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
SUPPORTED = "Linear, Conv2d, ReLU, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Flatten, BatchNorm1d, BatchNorm2d, Identity"


def _check(module: nn.Module, what: str) -> None:
    """Refuse a module the stacked path cannot train faithfully, in one line."""
    for path, mod in module.named_modules():
        kind = type(mod).__name__
        where = f"{what}: module {path or '(top)'} ({kind})"
        if isinstance(mod, (*PRUNABLE, *NORMS, *STATELESS, *CONTAINERS)):
            if isinstance(mod, nn.Conv2d) and mod.padding_mode != "zeros":
                raise DnError(f"{where} pads with {mod.padding_mode!r}; only zero padding is supported")
            continue
        if any(True for _ in mod.children()):  # a container of the user's own
            own = [n for n, _ in mod.named_parameters(recurse=False)]
            own += [n for n, _ in mod.named_buffers(recurse=False)]
            if not own:
                continue
            raise DnError(f"{where} holds parameters or buffers of its own ({', '.join(own)}); "
                          f"put them in supported layers: {SUPPORTED}")
        raise DnError(f"{where} is not supported by the stacked path; supported: {SUPPORTED} "
                      "and containers of them")


class GenericNet(StackedNet):
    """The stacked version of `module` (see the module docstring); `module` is kept as a template:
    its own parameter values are never read (θ0 comes from the init), its BatchNorm scales,
    shifts and buffers are every model's start."""

    def __init__(self, module: nn.Module, input_shape: tuple[int, ...], what: str = "model"):
        if not isinstance(module, nn.Module):
            raise DnError(f"{what} must be a torch.nn.Module, got {type(module).__name__}")
        _check(module, what)
        self.module = module
        self.input_shape = tuple(input_shape)
        self.layers = []
        self._no_bias: set[str] = set()  # bias entries of layers built with bias=False
        self._fixed: dict[str, torch.Tensor] = {}
        for path, mod in module.named_modules():
            if isinstance(mod, PRUNABLE):
                spec = LayerSpec(path, tuple(mod.weight.shape))
                self.layers.append(spec)
                if mod.bias is None:
                    self._no_bias.add(spec.bias)
            elif isinstance(mod, NORMS):
                for name, p in mod.named_parameters(recurse=False):
                    self._fixed[f"{path}.{name}"] = p.detach().to(torch.float32).clone()
        if not self.layers:
            raise DnError(f"{what} has no Linear or Conv2d layer to prune")
        self._buffers = {k: v.detach().clone() for k, v in module.named_buffers()}
        # On a CPU, vmap makes a Conv2d of M models one grouped convolution (groups=M), which
        # oneDNN runs slower than the M convolutions one by one (`dn bench`: 1.1-1.7x for Conv-2/4/6
        # and LeNet5), so there a network with convolutions runs model by model. Linear layers
        # stay under vmap: a batched or wide matmul beats M thin ones.
        self.model_by_model = any(isinstance(m, nn.Conv2d) for m in module.modules())
        # leading conv stages that run fused on a CPU; `use_stages` False keeps the plain paths
        self.stages: ConvStages | None = conv_stages(module, self.input_shape)
        self.use_stages = self.stages is not None
        self._check_runs(what)

    def _check_runs(self, what: str) -> None:
        """One forward of two models on one image: shapes that do not fit fail here, clearly."""
        params = {k: torch.stack([v] * 2) for k, v in self._start().items()}
        buffers = {k: torch.stack([v] * 2) for k, v in self._buffers.items()}
        try:
            with torch.no_grad():
                out = self.forward_with(params, buffers, torch.zeros(1, 2, *self.input_shape), False)
        except RuntimeError as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise DnError(f"{what} does not run on inputs of shape {self.input_shape}: {first}") from None
        if out.dim() != 3:
            raise DnError(f"{what} must return logits (batch, classes), got shape {tuple(out.shape[1:])}")

    def _start(self) -> dict[str, torch.Tensor]:
        """Some start of one model (zeros for the layers), only for checking that it runs."""
        out = {name: torch.zeros(shape) for name, shape in self.param_shapes().items()}
        out.update(self._fixed)
        return out

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = super().param_shapes()
        shapes.update({name: tuple(value.shape) for name, value in self._fixed.items()})
        return shapes

    def fixed_start(self) -> dict[str, torch.Tensor]:
        return {name: value.clone() for name, value in self._fixed.items()}

    def initial_buffers(self) -> dict[str, torch.Tensor]:
        return {name: value.clone() for name, value in self._buffers.items()}

    def forward(self, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """Logits (M, B, classes); BatchNorm normalizes by the batch's statistics (as in training)
        and no running statistics are kept (the engine calls :meth:`forward_with`)."""
        first = next(iter(params.values()))  # `x` may be a SideBySide: the device from the weights
        buffers = {k: torch.stack([v] * first.shape[0]).to(first.device, first.dtype if v.is_floating_point() else v.dtype)
                   for k, v in self._buffers.items()}
        return self.forward_with(params, buffers, x, training=True)

    def _staged(self, data: torch.Tensor) -> bool:
        return self.use_stages and data.device.type == "cpu"

    def prepare_data(self, x: torch.Tensor) -> torch.Tensor:
        if self._staged(x) and x.dim() == 4:
            return x.contiguous(memory_format=torch.channels_last)
        return x

    def stack_input(self, data: torch.Tensor, index: torch.Tensor) -> torch.Tensor | SideBySide:
        if self._staged(data) and index.shape[0] > 1:
            return SideBySide(side_by_side(data, index))
        return gather_rows(data, index)

    def forward_with(self, params: Tensors, buffers: Tensors, x: torch.Tensor | SideBySide,
                     training: bool) -> torch.Tensor:
        models = next(iter(params.values())).shape[0]
        used = {k: v for k, v in params.items() if k not in self._no_bias}
        if isinstance(x, SideBySide) or self._staged(x):
            return self._forward_staged(used, buffers, x, training)
        shared = x.shape[0] == 1 and models > 1  # one batch read by every model
        self.module.train(training)
        return self._run(self.module, used, buffers, x[0] if shared else x, shared, self.model_by_model, models)

    def _forward_staged(self, used: Tensors, buffers: Tensors, x: torch.Tensor | SideBySide,
                        training: bool) -> torch.Tensor:
        """The leading conv stages fused (`shared_conv_stack`), then the rest of the Sequential."""
        stages = self.stages
        weights = [(used[f"{p}.weight"], used[f"{p}.bias"]) for p in stages.convs]
        models = weights[0][0].shape[0]
        if isinstance(x, SideBySide):
            h = shared_conv_stack(x.x, weights, own_inputs=True, plan=stages.plan)
        elif x.shape[0] == 1:  # one batch for every model
            h = shared_conv_stack(x[0], weights, plan=stages.plan)
        else:  # each model's own batch gathered by the caller, (M, B, C, H, W)
            b, c = x.shape[1], x.shape[2]
            rows = x.permute(1, 3, 4, 0, 2).reshape(b, *x.shape[3:], models * c).permute(0, 3, 1, 2)
            h = shared_conv_stack(rows, weights, own_inputs=True, plan=stages.plan)
        h = h.view(models, h.shape[1], *stages.output_shape)
        stages.rest.train(training)  # no convolutions in it: under vmap
        return self._run(stages.rest, stages.pick(used), stages.pick(buffers), h, False, False, models)

    @staticmethod
    def _run(module: nn.Module, used: Tensors, buffers: Tensors, x: torch.Tensor, shared: bool, by_model: bool,
             models: int) -> torch.Tensor:
        """`module` of every model: under vmap, or model by model (convolutions on a CPU)."""

        def one(p: dict[str, torch.Tensor], b: dict[str, torch.Tensor], h: torch.Tensor) -> torch.Tensor:
            return functional_call(module, (p, b), (h,), strict=True)

        if by_model and x.device.type == "cpu":
            # unbind, not v[m]: its backward stacks the M gradients once, where indexing would
            # add a zero-filled gradient of the whole stack per model
            parts = {k: v.unbind(0) for k, v in used.items()}
            return torch.stack([one({k: v[m] for k, v in parts.items()}, {k: v[m] for k, v in buffers.items()},
                                    x if shared else x[m]) for m in range(models)])
        return torch.vmap(one, in_dims=(0, 0, None if shared else 0))(used, buffers, x)


@dataclass(frozen=True)
class SideBySide:
    """Each model's minibatch with its channels beside the other models', (B, M*C, H, W)."""

    x: torch.Tensor


def weight_count(net: StackedNet) -> int:
    """Prunable weights of one model (the layers' weights, biases and BatchNorm left out)."""
    return sum(math.prod(spec.shape) for spec in net.layers)
