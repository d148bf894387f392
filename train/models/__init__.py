"""Model registry: a new architecture is one builder and one `ModelInfo` line here.

Each registered network carries its own defaults (`ModelInfo`): the training recipe the presets
start from (`train/config.py`) and where it comes from. fc1 and lenet5 have hand-written stacked
layouts; the standard lottery-ticket networks (`train/models/standard.py`) and user models run
through the generic stacked path (`train/models/generic.py`).

User models: `dn train --model package.module:function --dataset ...` imports `package.module`
(it must be importable: on PYTHONPATH, or installed) and calls

    function(input_shape: tuple[int, ...], num_classes: int) -> torch.nn.Module

with the dataset's image shape (C, H, W) and its number of classes; the module maps a batch
(B, C, H, W) to logits (B, num_classes) and is built of the layers the generic path supports
(Linear, Conv2d, ReLU, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Flatten, BatchNorm1d/2d,
Identity; `GenericNet`). Its Linear and Conv2d weights are pruned; θ0 comes from the run's
`init`, not from the module. Such a model takes the defaults of `ModelInfo()` (those of
`ExperimentConfig`), and its name may not contain "-" (experiment names are MODEL-DATASET).
Built as an `nn.Sequential` (rather than with a `forward` of its own), a network whose
convolutions are thin conv -> ReLU [-> max-pool] stages runs on a CPU in the hand-written
LeNet5's fused layout (`train/models/conv_stages.py` says which qualify).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import reduce

from torch import nn

from results.errors import DnError
from train.models import standard
from train.models.base import LayerSpec, StackedNet
from train.models.fc1 import FC1
from train.models.generic import GenericNet, weight_count
from train.models.lenet5 import LeNet5

Builder = Callable[[tuple[int, ...], int], StackedNet]


@dataclass(frozen=True)
class ModelInfo:
    """A network and its defaults; the presets (train/config.py) read them from here.

    `optimizer`, `momentum`, `lr`, `lr_drops`, `batch_size` and `weight_decay` are the config
    values every preset starts from (`config_defaults`), `epochs` the epochs of each condition run
    at the `paper` preset (the presets move `lr_drops` with the epochs they set). `init` records
    what the network's source used: it is a protocol setting (the protocol chooses it; `--init`
    overrides it).
    """

    build: Builder | None = None
    epochs: int = 100
    lr: float = 1e-3
    batch_size: int = 1024
    weight_decay: float = 1e-4
    init: str = "xavier_uniform"
    optimizer: str = "adam"
    momentum: float = 0.0
    lr_drops: str = ""  # epochs after which the lr is divided by 10, of `epochs` (train/optimizers.py)
    prune_rates: str = ""  # per-layer rates per round (results/rates.py); empty: the run's one rate
    source: str = "the D_n paper's defaults (ExperimentConfig)"
    notes: tuple[str, ...] = field(default=())

    def config_defaults(self) -> dict[str, object]:
        """The ExperimentConfig values this model's recipe sets for every preset."""
        return {"optimizer": self.optimizer, "momentum": self.momentum, "lr": self.lr, "lr_drops": self.lr_drops,
                "batch_size": self.batch_size, "weight_decay": self.weight_decay, "prune_rates": self.prune_rates}


def generic(builder: Callable[[tuple[int, ...], int], nn.Module], name: str) -> Builder:
    """A builder of nn.Modules made a builder of stacked networks (the generic path)."""
    def build(input_shape: tuple[int, ...], num_classes: int) -> StackedNet:
        return GenericNet(builder(tuple(input_shape), num_classes), tuple(input_shape), name)
    return build


FRANKLE_CARBIN = "Frankle & Carbin 2019, Figure 2 (epochs: its iterations at batch 60)"
FC_RATES = "fc=0.2,output=0.1"  # Frankle & Carbin's rates per round by layer kind (results/rates.py)
CONV_RATES = "conv=0.1,fc=0.2,output=0.1"

MODELS: dict[str, ModelInfo] = {
    "fc1": ModelInfo(FC1, epochs=100, source="the D_n paper, Section 4.1"),
    "lenet5": ModelInfo(LeNet5, epochs=300, source="the D_n paper, Section 4.1"),
    "lenet300": ModelInfo(generic(standard.lenet300, "lenet300"), epochs=50, lr=1.2e-3, batch_size=60,
                          weight_decay=0.0, init="xavier_normal", prune_rates=FC_RATES, source=FRANKLE_CARBIN,
                          notes=("50K iterations on MNIST",)),
    "conv2": ModelInfo(generic(standard.conv2, "conv2"), epochs=24, lr=2e-4, batch_size=60,
                       weight_decay=0.0, init="xavier_normal", prune_rates=CONV_RATES, source=FRANKLE_CARBIN,
                       notes=("20K iterations on CIFAR-10",)),
    "conv4": ModelInfo(generic(standard.conv4, "conv4"), epochs=30, lr=3e-4, batch_size=60,
                       weight_decay=0.0, init="xavier_normal", prune_rates=CONV_RATES, source=FRANKLE_CARBIN,
                       notes=("25K iterations on CIFAR-10",)),
    "conv6": ModelInfo(generic(standard.conv6, "conv6"), epochs=36, lr=3e-4, batch_size=60,
                       weight_decay=0.0, init="xavier_normal", prune_rates="conv=0.15,fc=0.2,output=0.1",
                       source=FRANKLE_CARBIN,
                       notes=("30K iterations on CIFAR-10",)),
    "resnet20": ModelInfo(generic(standard.resnet20, "resnet20"), epochs=160, lr=0.1, batch_size=128,
                          weight_decay=1e-4, init="kaiming_normal", optimizer="sgd", momentum=0.9,
                          lr_drops="80,120", source="open_lth's cifar_resnet_20"),
}
USER_MODEL = ModelInfo()  # a package.module:function model: ExperimentConfig's defaults


def model_info(name: str) -> ModelInfo:
    """The defaults of model `name`: its registry entry, else those of a user model."""
    return MODELS.get(name, USER_MODEL)


def user_model(name: str, input_shape: tuple[int, ...], num_classes: int) -> StackedNet:
    """`package.module:function`: import it, call function(input_shape, num_classes), stack it."""
    if "-" in name:
        raise DnError(f"model {name!r}: a user model's name may not contain '-' (experiments are named "
                      "MODEL-DATASET and split at the first '-'); rename the module or function")
    module_name, _, attr = name.partition(":")
    if not module_name or not attr or ":" in attr:
        raise DnError(f"model {name!r}: a user model is named package.module:function")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise DnError(f"model {name!r}: cannot import {module_name!r} ({err}); "
                      "put it on PYTHONPATH or install it") from None
    try:
        function = reduce(getattr, attr.split("."), module)
    except AttributeError:
        raise DnError(f"model {name!r}: {module_name} has no {attr!r}") from None
    if not callable(function):
        raise DnError(f"model {name!r}: {attr} is not a function")
    built = function(tuple(input_shape), num_classes)
    if not isinstance(built, nn.Module):
        raise DnError(f"model {name!r}: {attr}(input_shape, num_classes) must return a torch.nn.Module, "
                      f"it returned {type(built).__name__}")
    return GenericNet(built, tuple(input_shape), f"model {name!r}")


@functools.cache
def layer_shapes(name: str, dataset: str) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """(layer name, weight shape) of model `name` on `dataset`, without reading any data."""
    from dn_data.registry import SHAPES, check_name

    shape, classes = SHAPES[check_name(dataset)]
    return tuple((spec.name, spec.shape) for spec in build_model(name, shape, classes).layers)


def build_model(name: str, input_shape: tuple[int, ...], num_classes: int) -> StackedNet:
    """The stacked network `name` for inputs of `input_shape` (C, H, W): a registered name, or
    `package.module:function` (a user model, see the module docstring)."""
    if ":" in name:
        return user_model(name, tuple(input_shape), num_classes)
    if name not in MODELS:
        raise DnError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}, "
                      "or package.module:function (your own nn.Module)")
    return MODELS[name].build(tuple(input_shape), num_classes)


__all__ = ["MODELS", "GenericNet", "LayerSpec", "ModelInfo", "StackedNet", "build_model", "layer_shapes", "model_info",
           "weight_count"]
