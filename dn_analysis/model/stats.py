"""Compact training statistics: what DnModel needs of the trained weights θ' of each pruning round.

The model learns, per layer, how θ' moves away from θ0 between rewinds. Its likelihood only needs
each weight's trajectory (θ0, θ'_0, ..., θ'_R) up to the last round it was alive, and the pruning
decisions depend only on those observed values, so a weighted sample of trajectories gives the same
fit as all of them up to sampling error. The sample is stratified by the last mask a weight was in
(every stratum keeps up to `per_stratum` weights, each with weight N_stratum / kept), so the few
survivors of late rounds are all kept while the many weights pruned in round 1 are subsampled.

File (``dn-training-stats/1``, an ``.npz`` without pickles, see docs/dn-model.md):

- ``meta``: JSON text: schema, experiment, layers (layers.json), prune_rate, prune_scope,
  prune_rounds, init, trials, per_stratum, seed, bins.
- ``traj/<trial>/<param>/theta0`` (S,) float32, ``.../trained`` (S, n) float32 with NaN after the
  last round the weight was alive in, ``.../weight`` (S,) float32.
- ``binned/<trial>/<param>``: (n, bins, 3) float32: count, mean θ', sd θ' of the weights alive in
  training round r, binned by θ0 on ``bins`` equal bins over [-init_bound, init_bound] (or ±4 std).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from results.schema import STATS_FILE

SCHEMA = "dn-training-stats/1"


@dataclass
class Trajectories:
    """Weighted trajectories of one layer: θ0 (S,), θ' (S, n) with NaN when pruned, weights (S,)."""

    theta0: np.ndarray
    trained: np.ndarray
    weight: np.ndarray

    def truncate(self, n_train: int) -> Trajectories:
        """Only the first `n_train` training rounds (what a fit on pruning rounds 1..n_train may see)."""
        return Trajectories(self.theta0, self.trained[:, :n_train], self.weight)

    @staticmethod
    def concat(parts: list[Trajectories]) -> Trajectories:
        return Trajectories(*(np.concatenate([getattr(p, k) for p in parts])
                              for k in ("theta0", "trained", "weight")))


@dataclass
class TrainingStats:
    """Trajectory samples and binned moments of every trial and layer of one experiment."""

    meta: dict[str, Any]
    trajectories: dict[tuple[int, str], Trajectories] = field(default_factory=dict)
    binned: dict[tuple[int, str], np.ndarray] = field(default_factory=dict)

    @property
    def trials(self) -> list[int]:
        return list(self.meta["trials"])

    def layer(self, param: str, trials: list[int] | None = None) -> Trajectories:
        """The trajectories of `param` pooled over `trials` (default all)."""
        return Trajectories.concat([self.trajectories[(t, param)] for t in (trials or self.trials)])


def _bin_edges(layer: dict, bins: int) -> np.ndarray:
    half = layer.get("init_bound") or 4.0 * layer["init_std"]
    return np.linspace(-half, half, bins + 1)


def _layer_stats(theta0: np.ndarray, masks: list[np.ndarray], trained: list[np.ndarray],
                 per_stratum: int, rng: np.random.Generator, edges: np.ndarray
                 ) -> tuple[Trajectories, np.ndarray]:
    x = theta0.ravel().astype(np.float64)
    n = len(trained)
    alive = np.stack([m.ravel() for m in masks[:n]], axis=1)          # alive in training round r
    y = np.stack([w.ravel().astype(np.float64) for w in trained], axis=1)
    y = np.where(alive, y, np.nan)
    last = alive.sum(axis=1)                                          # masks are nested
    keep, weight = [], []
    for s in np.unique(last):
        idx = np.flatnonzero(last == s)
        take = idx if idx.size <= per_stratum else np.sort(rng.choice(idx, per_stratum, replace=False))
        keep.append(take)
        weight.append(np.full(take.size, idx.size / take.size))
    keep_idx = np.concatenate(keep)
    traj = Trajectories(x[keep_idx].astype(np.float32), y[keep_idx].astype(np.float32),
                        np.concatenate(weight).astype(np.float32))
    which = np.clip(np.digitize(x, edges) - 1, 0, len(edges) - 2)
    binned = np.zeros((n, len(edges) - 1, 3), dtype=np.float32)
    for r in range(n):
        m = alive[:, r]
        cnt = np.bincount(which[m], minlength=len(edges) - 1).astype(np.float64)
        s1 = np.bincount(which[m], y[m, r], minlength=len(edges) - 1)
        s2 = np.bincount(which[m], y[m, r] ** 2, minlength=len(edges) - 1)
        mean = np.divide(s1, cnt, out=np.zeros_like(s1), where=cnt > 0)
        var = np.divide(s2, cnt, out=np.zeros_like(s2), where=cnt > 0) - mean**2
        binned[r] = np.stack([cnt, mean, np.sqrt(np.maximum(var, 0.0))], axis=1)
    return traj, binned


def _protocol(exp: Any) -> dict[str, Any]:
    cfg = exp.config
    return {"prune_rate": float(cfg.get("prune_rate", 0.2)), "prune_scope": cfg.get("prune_scope", "global"),
            "prune_rates": str(cfg.get("prune_rates") or ""),
            "prune_rounds": int(cfg.get("prune_rounds", max(exp.rounds))), "init": cfg.get("init", "xavier_uniform"),
            "protocol": cfg.get("protocol", "text")}


def training_stats(exp: Any, trials: list[int] | None = None, per_stratum: int = 4000,
                   bins: int = 40, seed: int = 0) -> TrainingStats:
    """Compute the statistics from a run's θ0, masks and trained weights (`open_run(...).experiment`)."""
    trials = list(exp.trials if trials is None else trials)
    meta = {"schema": SCHEMA, "experiment": exp.name, "layers": exp.layers, **_protocol(exp),
            "trials": trials, "per_stratum": per_stratum, "seed": seed, "bins": bins}
    out = TrainingStats(meta)
    n = meta["prune_rounds"]
    for t in trials:
        rng = np.random.default_rng([seed, t])
        theta0 = exp.theta0(t)
        masks = [exp.mask(t, r) for r in range(n)]
        trained = [exp.trained(t, r) for r in range(n)]
        for layer in exp.layers:
            p = layer["param"]
            traj, binned = _layer_stats(theta0[p], [m[p] for m in masks], [w[p] for w in trained],
                                        per_stratum, rng, _bin_edges(layer, bins))
            out.trajectories[(t, p)] = traj
            out.binned[(t, p)] = binned
    return out


def write_training_stats(exp: Any, path: str | Path, **kwargs: Any) -> Path:
    """Write the statistics of `exp` to `path` (default name: <experiment folder>/training_stats.npz).

    A committed run can carry this file instead of its ``trained/`` weights; DnModel.fit finds it.
    """
    from results.store import atomic_write_bytes

    stats = exp if isinstance(exp, TrainingStats) else training_stats(exp, **kwargs)
    arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(stats.meta))}
    for (t, p), traj in stats.trajectories.items():
        for name in ("theta0", "trained", "weight"):
            arrays[f"traj/{t}/{p}/{name}"] = getattr(traj, name)
        arrays[f"binned/{t}/{p}"] = stats.binned[(t, p)]
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    path = Path(path)
    atomic_write_bytes(path, buf.getvalue())
    return path


def read_training_stats(path: str | Path) -> TrainingStats:
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        if meta.get("schema") != SCHEMA:
            raise ValueError(f"{path} is not a {SCHEMA} file (schema {meta.get('schema')!r})")
        out = TrainingStats(meta)
        for t in meta["trials"]:
            for layer in meta["layers"]:
                p = layer["param"]
                out.trajectories[(t, p)] = Trajectories(*(data[f"traj/{t}/{p}/{k}"]
                                                          for k in ("theta0", "trained", "weight")))
                out.binned[(t, p)] = data[f"binned/{t}/{p}"]
    return out


def why_not_fittable(exp: Any) -> str | None:
    """Why DnModel cannot be fitted from `exp` (no trained weights nor their statistics), or None.

    The same decision as stats_for, without reading anything: SoftThresholdDn, which needs only θ0
    and the masks, still fits such a run.
    """
    if isinstance(exp, TrainingStats | str | Path) or not hasattr(exp, "dir"):
        return None
    compact = bool(exp.run.config.get("compact"))
    if ((exp.dir / "trained").is_dir() and not compact) or (exp.dir / STATS_FILE).exists():
        return None
    kept = "keeps only the tickets' weights" if compact else "has no trained/ weights"
    return (f"DnModel not fitted: {exp.name} in {exp.run.path} {kept} and no {STATS_FILE}, and DnModel "
            "learns from the trained weights of every round")


def stats_for(exp: Any, trials: list[int] | None = None, per_stratum: int = 4000, seed: int = 0
              ) -> TrainingStats:
    """The statistics of a run: from its trained weights when stored, else from its stats file."""
    if isinstance(exp, TrainingStats):
        return exp
    if isinstance(exp, str | Path):
        return read_training_stats(exp)
    trials = list(exp.trials if trials is None else trials)
    compact = bool(exp.run.config.get("compact"))  # a compact run keeps only the tickets' pools of trained/
    if (exp.dir / "trained").is_dir() and not compact:
        return training_stats(exp, trials, per_stratum=per_stratum, seed=seed)
    path = exp.dir / STATS_FILE
    if path.exists():
        return read_training_stats(path)
    raise ValueError(f"{exp.name} in {exp.run.path} has neither trained/ weights nor {STATS_FILE}; "
                     "DnModel needs one of them (dn_analysis.model.stats.write_training_stats)")
