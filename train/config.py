"""Hyperparameters as dataclasses: they fill the CLI, name the run and are saved with it.

The paper (Section 4.1) fixes Adam, weight decay 1e-4, batch 1024, 100 (FC-1) / 300 (LeNet5)
epochs and Algorithm 1 with j=5, s=20%, n=6 and 10. It gives no learning rate: we use 1e-3,
Adam's default. Other networks bring their own recipe (train/models: resnet20 trains with SGD).
Presets shrink the paper's settings for quick looks and tests.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field

from results import rates
from results.errors import DnError
from results.labels import experiment_name, split_experiment
from train import settings
from train.optimizers import choices_help, format_drops, optimizer_kind, parse_drops, scale_drops
from train.settings import add_setting_fields, field_for
from train.steps import Steps, parse_steps

PAPER_EXPERIMENTS = ("fc1-mnist", "lenet5-cifar10")


@dataclass(frozen=True)
@add_setting_fields
class ExperimentConfig:
    """One architecture on one dataset: pruning (Algorithm 1) and the condition runs.

    The protocol settings (train/settings.py) are written here only to keep their place: a run's
    name hashes the fields in order. A setting declared after them gets its field at the end.
    """

    model: str = field(default="fc1", metadata={"help": "architecture: fc1, lenet5, lenet300, conv2, conv4, conv6, resnet20, or package.module:function (a function(input_shape, num_classes) returning an nn.Module)"})
    dataset: str = field(default="mnist", metadata={"help": "mnist, fashion-mnist, cifar10, digits, digits32"})
    epochs: int = field(default=100, metadata={"help": "epochs of each condition run"})
    batch_size: int = field(default=1024, metadata={"help": "minibatch size"})
    lr: float = field(default=1e-3, metadata={"help": "learning rate (the paper gives none for Adam: 1e-3, its default); the model's recipe sets its own (resnet20: 0.1)"})
    weight_decay: float = field(default=1e-4, metadata={"help": "L2 weight decay, added to the gradient (coupled: pruned weights stay zero)"})
    prune_epochs: int = field(default=5, metadata={"help": "j: epochs of training per pruning round"})
    prune_rate: float = field(default=0.2, metadata={"help": "s: fraction of remaining weights pruned per round"})
    prune_rounds: int = field(default=10, metadata={"help": "n: pruning rounds"})
    ticket_rounds: tuple[int, ...] = field(default=(6, 10), metadata={"help": "rounds whose tickets get condition runs"})
    prune_scope: str = field_for("prune_scope")
    init: str = field_for("init")
    reinit_pool: str = field(default="pooled", metadata={"help": "draw reinit weights from the pooled θ_LT or per layer"})
    conditions: tuple[str, ...] = field(default=("full", "pruned", "reinit", "remask"), metadata={
        "help": "conditions to train: paper (the paper's four), all (every registered one) or names (dn conditions)"})
    fitted_sampler: str = field(default="kde", metadata={"help": "density of the fitted condition: kde, gmm or model (DnModel fitted to the trial's pruning rounds)"})
    # --- how the paper was run (docs/protocols.md): each setting alone, `protocol` names the bundle
    protocol: str = field(default="text", metadata={"help": (
        "text (the paper's text) or authors (its authors' code): the values of the settings below that are "
        "not given; the recorded protocol is derived from the final values, custom when they match neither"),
        "panel": settings.PANEL})
    bias_init: str = field_for("bias_init")
    prune_rule: str = field_for("prune_rule")
    prune_optimizer: str = field_for("prune_optimizer")
    rewind_biases: bool = field_for("rewind_biases")
    dn_pool: str = field_for("dn_pool")
    normalization: str = field_for("normalization")
    test_drop_last: bool = field_for("test_drop_last")
    train_loss: str = field_for("train_loss")
    eval_epoch_zero: bool = field_for("eval_epoch_zero")
    trials: int = field(default=5, metadata={"help": "independent trials (different θ0)"})
    train_subset: int | None = field(default=None, metadata={"help": "use a seeded subset of the training set"})
    test_subset: int | None = field(default=None, metadata={"help": "use a seeded subset of the test set"})
    prune_rates: str = field(default="", metadata={"help": (
        "per-layer rates per round, e.g. conv=0.1,fc=0.2,output=0.1 (kinds: conv, fc = hidden Linear, output "
        "= last layer) or by layer name; each layer is then pruned on its own (prune_scope layerwise). "
        "Empty: prune_rate for every layer. Default: the model's (train/models)")})
    prune_steps: str = field(default="", metadata={"help": (
        "training per pruning round as iterations or epochs, e.g. 500it or 2ep; empty: prune_epochs epochs")})
    rewind_step: str = field(default="", metadata={"help": (
        "rewind to θ_k, the dense network after k steps (e.g. 500it, 1ep) instead of θ0: every round and "
        "every condition then starts from θ_k, and D_n is defined there (docs/rewinding.md). Empty or 0: θ0")})
    optimizer: str = field(default="adam", metadata={"help": (
        f"{choices_help()}; each adds the weight decay to the gradient. Default: the model's (train/models)")})
    momentum: float = field(default=0.0, metadata={"help": "SGD's momentum, in [0, 1); adam takes none (0)"})
    lr_drops: str = field(default="", metadata={"help": (
        "epochs after which the lr is divided by 10, e.g. 80,120 (open_lth's resnet20 of 160 epochs); counted "
        "within each training segment (every pruning round, condition run and the rewind). The model's drops "
        "scale with the epochs when a preset or --epochs changes them (80,120 of 160 -> 10,15 of 20); given "
        "here, they are used as given. Empty: a constant lr")})

    @property
    def name(self) -> str:
        return experiment_name(self.model, self.dataset)

    @property
    def protocol_name(self) -> str:
        """The protocol the settings' values follow: text, authors, or custom (derived, never trusted)."""
        return settings.protocol_of(vars(self))

    def density(self, rounds: int) -> float:
        """Nominal density after `rounds` prunings: (1-s)^rounds, or with per-layer rates each
        layer's (1-s_l)^rounds weighted by its size (results/rates.py)."""
        if not self.prune_rates:
            return (1.0 - self.prune_rate) ** rounds
        from train.models import layer_shapes

        return rates.nominal_density(vars(self), rounds, layer_shapes(self.model, self.dataset))

    @property
    def prune_length(self) -> Steps:
        """Training per pruning round: `prune_steps`, else `prune_epochs` epochs."""
        return parse_steps(self.prune_steps) if self.prune_steps else Steps(self.prune_epochs, "ep")

    @property
    def drops(self) -> tuple[int, ...]:
        """`lr_drops` as epochs (train/optimizers.py `lr_at` reads them)."""
        return parse_drops(self.lr_drops)

    @property
    def rewind(self) -> Steps | None:
        """The rewinding point θ_k as steps of dense training, or None: rewind to θ0."""
        steps = parse_steps(self.rewind_step) if self.rewind_step else None
        return steps if steps and steps.count > 0 else None

    def validate(self) -> ExperimentConfig:
        """Raise DnError for settings that cannot run, or a `protocol` the settings contradict; return self.

        A config built directly with protocol="authors" keeps the values it was given (the
        constructor fills nothing in), so it must also be given the authors' values, or say
        protocol="custom"; preset_experiment does both for the caller.
        """
        problems = []
        if not 0.0 < self.prune_rate < 1.0:
            problems.append(f"prune_rate (s) must be in (0, 1) as a fraction, got {self.prune_rate} (20% is 0.2)")
        if self.prune_rounds < 0:
            problems.append(f"prune_rounds (n) must be >= 0, got {self.prune_rounds}")
        if self.batch_size < 1:
            problems.append(f"batch_size must be >= 1, got {self.batch_size}")
        if self.epochs < 1:
            problems.append(f"epochs must be >= 1, got {self.epochs}")
        for name in ("prune_steps", "rewind_step"):
            try:
                value = getattr(self, name)
                if value and parse_steps(value).count < (name == "prune_steps"):
                    problems.append(f"{name} must be at least one step, got {value!r}")
            except ValueError as err:
                problems.append(str(err))
        try:
            rates.parse_rates(self.prune_rates)
        except ValueError as err:
            problems.append(str(err))
        if self.prune_rates and self.prune_scope != "layerwise":
            problems.append("per-layer prune_rates prune each layer on its own: prune_scope must be layerwise")
        if self.prune_epochs < 1 and self.prune_rounds > 0 and not self.prune_steps:
            problems.append(f"prune_epochs (j) must be >= 1, got {self.prune_epochs}")
        if self.trials < 1:
            problems.append(f"trials must be >= 1, got {self.trials}")
        if not math.isfinite(self.lr) or self.lr <= 0:
            problems.append(f"lr must be > 0, got {self.lr}")
        if self.weight_decay < 0:
            problems.append(f"weight_decay must be >= 0, got {self.weight_decay}")
        problems += self._optimizer_problems()
        bad_rounds = [r for r in self.ticket_rounds if not 1 <= r <= self.prune_rounds]
        if bad_rounds:
            problems.append(f"ticket_rounds {bad_rounds} must lie in 1..prune_rounds={self.prune_rounds}")
        problems += settings.check(vars(self))
        problems += self._protocol_problems()
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

    def _optimizer_problems(self) -> list[str]:
        problems = []
        try:
            kind = optimizer_kind(self.optimizer)
        except ValueError as err:
            problems.append(str(err))
            kind = None
        if not (isinstance(self.momentum, (int, float)) and 0.0 <= self.momentum < 1.0):
            problems.append(f"momentum must be in [0, 1), got {self.momentum}")
        elif kind is not None and not kind.momentum and self.momentum != 0:
            problems.append(f"momentum is SGD's: {self.optimizer} takes none; say momentum 0 (or optimizer sgd)")
        try:
            parse_drops(self.lr_drops)
        except ValueError as err:
            problems.append(str(err))
        return problems

    def _protocol_problems(self) -> list[str]:
        names = (*settings.PROTOCOL_NAMES, settings.CUSTOM)
        if self.protocol not in names:
            return [f"protocol must be one of {', '.join(names)}, got {self.protocol!r}"]
        if self.protocol in (settings.CUSTOM, self.protocol_name):
            return []
        differ = ", ".join(f"{k}={settings.show(getattr(self, k))}" for k, v in settings.bundle(self.protocol).items()
                           if getattr(self, k, v) != v)
        return [f"protocol is {self.protocol!r} but the settings are {self.protocol_name!r} (not {self.protocol}'s: "
                f"{differ}); say protocol={self.protocol_name!r}, or build it with preset_experiment"]


# Each protocol as its changes to the defaults: `text` is every field's default (the paper's words),
# `authors` what the authors' published code does (train/settings.py declares both).
PROTOCOLS: dict[str, dict[str, object]] = {
    p: {k: v for k, v in settings.bundle(p).items() if v != settings.SETTINGS[k].text} for p in settings.PROTOCOL_NAMES
}


def _split(name: str) -> tuple[str, str]:
    try:
        return split_experiment(name)
    except ValueError as err:
        raise DnError(str(err)) from None


def _model_info(name: str):
    """The model's own defaults (its registry entry, train/models); imported here: torch."""
    from train.models import model_info

    return model_info(_split(name)[0])


def _experiment(name: str, **changes) -> ExperimentConfig:
    """The experiment at the model's own training recipe (optimizer, lr and its drops, batch size,
    weight decay), then `changes`."""
    model, dataset = _split(name)
    base = ExperimentConfig(model=model, dataset=dataset, **_model_info(name).config_defaults())
    return dataclasses.replace(base, **changes)


def _paper(name: str) -> ExperimentConfig:
    return _experiment(name, epochs=_model_info(name).epochs)


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
    """The experiment `name` at `preset`, with explicit `overrides` (None values ignored).

    `protocol` (text or authors) supplies the settings not given; custom supplies none. The
    recorded `protocol` is then what the final values are: `--protocol authors --prune-rule rank`
    is custom.
    """
    if preset not in PRESETS:
        raise DnError(f"unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    from train.conditions import expand_conditions

    changes = {k: v for k, v in overrides.items() if v is not None}
    if "conditions" in changes:
        changes["conditions"] = expand_conditions(changes["conditions"])
    protocol = changes.pop("protocol", "text")
    if protocol not in (*settings.PROTOCOL_NAMES, settings.CUSTOM):
        raise DnError(f"unknown protocol {protocol!r}; choose one of: {', '.join(settings.PROTOCOL_NAMES)} "
                      "(custom is what any other mix of settings is called)")
    bundle = {} if protocol == settings.CUSTOM else settings.bundle(protocol)
    exp = dataclasses.replace(PRESETS[preset](name), **{k: v for k, v in bundle.items() if k not in changes}, **changes)
    if exp.prune_rates and "prune_scope" not in changes:  # per-layer rates prune each layer on its own
        exp = dataclasses.replace(exp, prune_scope="layerwise")
    if "lr_drops" not in changes:
        exp = _scaled_drops(exp, name)
    return dataclasses.replace(exp, protocol=exp.protocol_name).validate()


def _scaled_drops(exp: ExperimentConfig, name: str) -> ExperimentConfig:
    """The model's lr drops at the same fractions of a shorter (or longer) run: a preset or
    --epochs that changes the recipe's epochs moves them along (resnet20's 80,120 of 160)."""
    recipe = _model_info(name)
    try:
        drops = parse_drops(exp.lr_drops)
    except ValueError:
        return exp  # validate says why
    if not drops or exp.epochs == recipe.epochs:
        return exp
    return dataclasses.replace(exp, lr_drops=format_drops(scale_drops(drops, exp.epochs, recipe.epochs)))


# Fields added after runs were committed: left out of a run's identity while at their default, so
# every earlier run keeps its name (a new field with a default value changes no run).
LATER_FIELDS = ("prune_rates", "prune_steps", "rewind_step", "optimizer", "momentum", "lr_drops")


def _identity(exp: ExperimentConfig) -> dict:
    values = dataclasses.asdict(exp)
    defaults = {f.name: f.default for f in dataclasses.fields(ExperimentConfig)}
    return {k: v for k, v in values.items() if not (k in LATER_FIELDS and v == defaults[k])}


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run's numbers (device and versions are recorded, not keyed)."""

    experiments: tuple[ExperimentConfig, ...]
    seed: int = 0
    preset: str = "paper"
    tickets: dict | None = None  # imported tickets the conditions start from (train/tickets.py), else None

    def identity(self) -> dict:
        out = {"seed": self.seed, "experiments": [_identity(e) for e in self.experiments]}
        if self.tickets is not None:  # only then: the names of runs that prune stay as they were
            out["tickets"] = self.tickets
        return out

    @property
    def protocol(self) -> str:
        """The experiments' protocols as their settings say (ExperimentConfig.protocol_name)."""
        names = sorted({e.protocol_name for e in self.experiments})
        return "+".join(names)

    @property
    def name(self) -> str:
        digest = hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()
        return f"{self.preset}-{self.protocol}-{digest[:8]}"

    def to_json(self) -> dict:
        """The record of config.json: the identity, and each round's nominal density where per-layer
        rates make it depend on the network's layer sizes (the reader names labels by it)."""
        record = {"name": self.name, "preset": self.preset, "protocol": self.protocol, **self.identity()}
        for entry, exp in zip(record["experiments"], self.experiments, strict=True):
            if exp.prune_rates:
                entry["nominal_densities"] = [exp.density(r) for r in range(exp.prune_rounds + 1)]
        return record

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
        return RunConfig(tuple(exps), seed=int(data["seed"]), preset=data.get("preset", "paper"),
                         tickets=data.get("tickets"))
