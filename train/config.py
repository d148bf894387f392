"""Hyperparameters as dataclasses: they fill the CLI, name the run and are saved with it.

The paper (Section 4.1) fixes Adam, weight decay 1e-4, batch 1024, 100 (FC-1) / 300 (LeNet5)
epochs and Algorithm 1 with j=5, s=20%, n=6 and 10. It gives no learning rate: we use 1e-3,
Adam's default. Presets shrink the paper's settings for quick looks and tests.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field

from train.errors import DnError

PAPER_EXPERIMENTS = ("fc1-mnist", "lenet5-cifar10")


@dataclass(frozen=True)
class ExperimentConfig:
    """One architecture on one dataset: pruning (Algorithm 1) and the condition runs."""

    model: str = field(default="fc1", metadata={"help": "architecture: fc1 or lenet5"})
    dataset: str = field(default="mnist", metadata={"help": "mnist, fashion-mnist, cifar10, digits, digits32"})
    epochs: int = field(default=100, metadata={"help": "epochs of each condition run"})
    batch_size: int = field(default=1024, metadata={"help": "minibatch size"})
    lr: float = field(default=1e-3, metadata={"help": "Adam learning rate (the paper gives none)"})
    weight_decay: float = field(default=1e-4, metadata={"help": "Adam (L2) weight decay"})
    prune_epochs: int = field(default=5, metadata={"help": "j: epochs of training per pruning round"})
    prune_rate: float = field(default=0.2, metadata={"help": "s: fraction of remaining weights pruned per round"})
    prune_rounds: int = field(default=10, metadata={"help": "n: pruning rounds"})
    ticket_rounds: tuple[int, ...] = field(default=(6, 10), metadata={"help": "rounds whose tickets get condition runs"})
    prune_scope: str = field(default="global", metadata={"help": "global or layerwise magnitude pruning"})
    init: str = field(default="xavier_uniform", metadata={"help": "xavier_uniform or xavier_normal"})
    reinit_pool: str = field(default="pooled", metadata={"help": "draw reinit weights from the pooled θ_LT or per layer"})
    conditions: tuple[str, ...] = field(default=("full", "pruned", "reinit", "remask"), metadata={
        "help": "conditions to train: paper (the paper's four), all (every registered one) or names (dn conditions)"})
    fitted_sampler: str = field(default="kde", metadata={"help": "density of the fitted condition: kde, gmm or model (DnModel fitted to the trial's pruning rounds)"})
    # --- how the paper was run (docs/protocols.md): each setting alone, `protocol` bundles them
    protocol: str = field(default="text", metadata={"help": "text (the paper's text) or authors (its authors' code): a bundle of the settings below"})
    bias_init: str = field(default="zeros", metadata={"help": "zeros, or torch_default: U(±1/sqrt(fan_in)) as torch.nn.Linear/Conv2d"})
    prune_rule: str = field(default="rank", metadata={"help": "rank: drop the round(s·k) smallest; percentile: drop |w| < np.percentile(|w|, 100·s)"})
    prune_optimizer: str = field(default="fresh", metadata={"help": "fresh Adam each pruning round, or shared across rounds (pruned weights then drift)"})
    rewind_biases: bool = field(default=True, metadata={"help": "rewind biases with the weights; false: biases carry over rounds and condition runs"})
    dn_pool: str = field(default="theta_lt", metadata={"help": "what reinit-style conditions draw from: theta_lt or trained (the ticket's trained weights)"})
    normalization: str = field(default="dataset", metadata={"help": "dataset (per-channel train statistics), mnist (MNIST's 0.1307/0.3081 for every dataset), pixel-centered or double-centered (train/sign_experiment.py)"})
    test_drop_last: bool = field(default=False, metadata={"help": "evaluate only full test batches but divide by the whole test set (authors)"})
    train_loss: str = field(default="running", metadata={"help": "running (mean over the epoch's minibatches) or pass (a separate pass after the epoch)"})
    eval_epoch_zero: bool = field(default=False, metadata={"help": "evaluate every condition before training (epoch 0)"})
    trials: int = field(default=5, metadata={"help": "independent trials (different θ0)"})
    train_subset: int | None = field(default=None, metadata={"help": "use a seeded subset of the training set"})
    test_subset: int | None = field(default=None, metadata={"help": "use a seeded subset of the test set"})

    @property
    def name(self) -> str:
        return f"{self.model}-{self.dataset}"

    def density(self, rounds: int) -> float:
        """Nominal density after `rounds` prunings: (1-s)^rounds."""
        return (1.0 - self.prune_rate) ** rounds

    def validate(self) -> ExperimentConfig:
        """Raise DnError for settings that cannot run; return self."""
        problems = []
        if not 0.0 < self.prune_rate < 1.0:
            problems.append(f"prune_rate (s) must be in (0, 1) as a fraction, got {self.prune_rate} (20% is 0.2)")
        if self.prune_rounds < 0:
            problems.append(f"prune_rounds (n) must be >= 0, got {self.prune_rounds}")
        if self.batch_size < 1:
            problems.append(f"batch_size must be >= 1, got {self.batch_size}")
        if self.epochs < 1:
            problems.append(f"epochs must be >= 1, got {self.epochs}")
        if self.prune_epochs < 1 and self.prune_rounds > 0:
            problems.append(f"prune_epochs (j) must be >= 1, got {self.prune_epochs}")
        if self.trials < 1:
            problems.append(f"trials must be >= 1, got {self.trials}")
        if not math.isfinite(self.lr) or self.lr <= 0:
            problems.append(f"lr must be > 0, got {self.lr}")
        if self.weight_decay < 0:
            problems.append(f"weight_decay must be >= 0, got {self.weight_decay}")
        bad_rounds = [r for r in self.ticket_rounds if not 1 <= r <= self.prune_rounds]
        if bad_rounds:
            problems.append(f"ticket_rounds {bad_rounds} must lie in 1..prune_rounds={self.prune_rounds}")
        if self.prune_scope not in ("global", "layerwise"):
            problems.append(f"prune_scope must be global or layerwise, got {self.prune_scope!r}")
        choices = {"protocol": PROTOCOLS, "bias_init": ("zeros", "torch_default"), "prune_rule": ("rank", "percentile"),
                   "prune_optimizer": ("fresh", "shared"), "dn_pool": ("theta_lt", "trained"),
                   "normalization": ("dataset", "mnist", "pixel-centered", "double-centered"), "train_loss": ("running", "pass"),
                   "init": ("xavier_uniform", "xavier_normal", "torch_default")}
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                problems.append(f"{key} must be one of {', '.join(allowed)}, got {getattr(self, key)!r}")
        if self.fitted_sampler not in ("kde", "gmm", "model"):
            problems.append(f"fitted_sampler must be kde, gmm or model, got {self.fitted_sampler!r}")
        if self.reinit_pool not in ("pooled", "layer"):
            problems.append(f"reinit_pool must be pooled or layer, got {self.reinit_pool!r}")
        for subset in (self.train_subset, self.test_subset):
            if subset is not None and subset < 1:
                problems.append(f"subsets must be >= 1, got {subset}")
        if problems:
            raise DnError(f"{self.name}: " + "; ".join(problems))
        from train.conditions import expand_conditions  # registry check

        if expand_conditions(self.conditions) != tuple(self.conditions):
            raise DnError(f"{self.name}: conditions must be explicit names, got {self.conditions}")
        return self


# The protocols: `text` is every field's default (the paper's words); `authors` is what the
# authors' published code does (docs/protocols.md gives each difference with file and line).
PROTOCOLS: dict[str, dict[str, object]] = {
    "text": {},
    "authors": {
        "init": "torch_default", "bias_init": "torch_default", "prune_scope": "layerwise",
        "prune_rule": "percentile", "prune_optimizer": "shared", "rewind_biases": False,
        "dn_pool": "trained", "normalization": "mnist", "test_drop_last": True,
        "train_loss": "pass", "eval_epoch_zero": True,
    },
}


def _experiment(name: str, **changes) -> ExperimentConfig:
    model, _, dataset = name.partition("-")
    if not dataset:
        raise DnError(f"experiment names are MODEL-DATASET (e.g. fc1-mnist), got {name!r}")
    return dataclasses.replace(ExperimentConfig(model=model, dataset=dataset), **changes)


def _paper(name: str) -> ExperimentConfig:
    epochs = 300 if name.startswith("lenet5") else 100
    return _experiment(name, epochs=epochs)


def _quick(name: str) -> ExperimentConfig:
    return _experiment(name, epochs=20, prune_epochs=2, trials=3, train_subset=20000)


def _smoke(name: str) -> ExperimentConfig:
    small = name.endswith(("-digits", "-digits32"))  # already tiny: no subset
    return _experiment(
        name, epochs=2, prune_epochs=1, trials=2, batch_size=256,
        train_subset=None if small else 2048, test_subset=None if small else 512,
    )


def _demo(name: str) -> ExperimentConfig:
    return _experiment(name, epochs=30, prune_epochs=3, trials=3, batch_size=128)


PRESETS = {"paper": _paper, "quick": _quick, "smoke": _smoke, "demo": _demo}
DEMO_EXPERIMENTS = ("fc1-digits", "lenet5-digits32")


def preset_experiment(preset: str, name: str, **overrides) -> ExperimentConfig:
    """The experiment `name` at `preset`, with explicit `overrides` (None values ignored)."""
    if preset not in PRESETS:
        raise DnError(f"unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    from train.conditions import expand_conditions

    changes = {k: v for k, v in overrides.items() if v is not None}
    if "conditions" in changes:
        changes["conditions"] = expand_conditions(changes["conditions"])
    protocol = changes.get("protocol", "text")
    if protocol not in PROTOCOLS:
        raise DnError(f"unknown protocol {protocol!r}; choose one of: {', '.join(PROTOCOLS)}")
    bundle = {k: v for k, v in PROTOCOLS[protocol].items() if k not in changes}
    return dataclasses.replace(PRESETS[preset](name), **bundle, **changes).validate()


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run's numbers (device and versions are recorded, not keyed)."""

    experiments: tuple[ExperimentConfig, ...]
    seed: int = 0
    preset: str = "paper"

    def identity(self) -> dict:
        return {
            "seed": self.seed,
            "experiments": [dataclasses.asdict(e) for e in self.experiments],
        }

    @property
    def protocol(self) -> str:
        names = sorted({e.protocol for e in self.experiments})
        return "+".join(names)

    @property
    def name(self) -> str:
        digest = hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()
        return f"{self.preset}-{self.protocol}-{digest[:8]}"

    def to_json(self) -> dict:
        return {"name": self.name, "preset": self.preset, "protocol": self.protocol, **self.identity()}

    @staticmethod
    def from_json(data: dict) -> RunConfig:
        fields = {f.name for f in dataclasses.fields(ExperimentConfig)}
        exps = []
        for raw in data["experiments"]:
            values = {k: v for k, v in raw.items() if k in fields}
            for key in ("ticket_rounds", "conditions"):
                if key in values:
                    values[key] = tuple(values[key])
            exps.append(ExperimentConfig(**values))
        return RunConfig(tuple(exps), seed=int(data["seed"]), preset=data.get("preset", "paper"))
