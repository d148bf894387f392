"""The results format in one place: file names, table columns and .npz keys (docs/run-format.md).

Writers (``train``, ``dn import``, ``dn export``) and readers (:mod:`results.run`, the analysis,
the report) take names from here, so a file or key is spelled once.
"""

from __future__ import annotations

from pathlib import Path

# ------------------------------------------------------------------ files of a run folder
CONFIG = "config.json"
METRICS = "metrics.csv"
PRUNING_METRICS = "pruning_metrics.csv"
SUMMARY = "summary.csv"
PAIRED = "paired.csv"
LAYERS = "layers.json"  # per experiment: each weight layer's name, param, shape, init_std, init_bound
TICKETS = "tickets"  # per experiment: trial<t>.npz, θ0 and every round's mask
TRAINED = "trained"  # per experiment: trial<t>.npz, every round's trained weights (or the compact pool)
DONE = "done"  # per experiment: pruning.json and train-*.json markers of finished pieces
STATE = "state"  # per experiment: resume checkpoints of unfinished pieces
CARRY = "carry"  # per experiment: biases handed from one chained condition run to the next
STATS_FILE = "training_stats.npz"  # per experiment (compact runs): what DnModel needs of trained/
FITTED = "fitted"  # per experiment: the DnModel JSON behind `fitted` starts
THETA_LT_SUMMARY = "theta_lt_summary.csv"  # per experiment (tables-only exports): θ_LT per trial, round, layer
THETA_LT_HIST = "theta_lt_hist.csv"  # per experiment (tables-only exports): its histogram in init-std units

# ------------------------------------------------------------------ table columns
METRIC_COLUMNS = [
    "experiment", "model", "dataset", "condition", "condition_name", "round", "density",
    "trial", "epoch", "train_loss", "test_loss", "test_acc",
]
PRUNE_COLUMNS = [
    "experiment", "model", "dataset", "trial", "round", "density",
    "epoch", "train_loss", "test_loss", "test_acc",
]
SUMMARY_COLUMNS = [
    "experiment", "condition", "condition_name", "round", "density", "trials",
    "max_avg_acc", "max_avg_acc_epoch", "min_avg_train_loss", "min_avg_train_loss_epoch",
    "acc_at_max_min", "acc_at_max_max", "loss_at_min_min", "loss_at_min_max", "diverged", "spiked",
]
QUANTILES = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)
THETA_LT_SUMMARY_COLUMNS = [
    "experiment", "trial", "round", "layer", "weights", "kept", "density", "init_std", "mean", "std",
    "share_positive", "min_abs_std", "max_abs_std", *(f"q{round(100 * q):02d}_std" for q in QUANTILES),
]
THETA_LT_HIST_COLUMNS = ["experiment", "trial", "round", "layer", "bin_low_std", "bin_high_std", "count"]
PAIRED_COLUMNS = [
    "experiment", "density", "condition", "condition_name", "round", "reference", "reference_name",
    "metric", "n_trials", "mean_diff", "ci_low", "ci_high", "p_value", "p_signflip",
    # results.contrasts: the contrast's name and Holm family, the adjusted p, equivalence at the
    # margin, the verdict; censored epochs_to_target: share that reached the target, KM medians
    "contrast", "family", "p_holm", "margin", "p_tost", "verdict",
    "n_censored", "reached", "reached_reference", "km_median", "km_median_reference",
]


# ------------------------------------------------------------------ .npz keys
THETA0, MASK, MASKBITS, MASKCOUNT, TRAINED_KEY, POOL = "theta0/", "mask/", "maskbits/", "maskcount/", "trained/", "pool/"


def key_round(key: str) -> int:
    """The round of a per-round key (``mask/6/fc1.weight`` -> 6)."""
    return int(key.split("/")[1])


def trained_prefix(round: int) -> str:
    """What every array of round `round` in trained/trial<t>.npz starts with (weights and biases)."""
    return f"{TRAINED_KEY}{round}/"


def theta0_key(param: str) -> str:
    return f"{THETA0}{param}"


REWIND = "rewind/"  # θ_k of a run with a rewind step: what every round and condition starts from


def rewind_key(param: str) -> str:
    return f"{REWIND}{param}"


def mask_key(round: int, param: str) -> str:
    """A mask as float32 0/1 (runs as `dn train` writes them)."""
    return f"{MASK}{round}/{param}"


def maskbits_key(round: int, param: str) -> str:
    """A mask as packed bits (compact runs of older exports)."""
    return f"{MASKBITS}{round}/{param}"


def maskcount_key(param: str) -> str:
    """Nested masks as one count per weight: kept in rounds 0..count-1 (compact runs)."""
    return f"{MASKCOUNT}{param}"


MASKCOUNT_ROUNDS = "maskcount_rounds"


def trained_key(round: int, param: str) -> str:
    return f"{trained_prefix(round)}{param}"


def pool_key(round: int, param: str) -> str:
    """Round round-1's trained weights where mask `round` keeps them (compact runs)."""
    return f"{POOL}{round}/{param}"


def tickets_file(experiment_dir: Path, trial: int) -> Path:
    return Path(experiment_dir) / TICKETS / f"trial{trial}.npz"


def trained_file(experiment_dir: Path, trial: int) -> Path:
    return Path(experiment_dir) / TRAINED / f"trial{trial}.npz"


def trial_of(path: Path) -> int:
    """The trial of a tickets/ or trained/ file (``trial3.npz`` -> 3)."""
    return int(Path(path).stem[len("trial"):])
