"""Loading a saved sampler (``DnSampler.save``) back as the right class: no code runs from the file."""

from __future__ import annotations

from pathlib import Path

from dn_analysis.samplers._base import DnSampler
from dn_analysis.samplers.empirical import EmpiricalDn
from dn_analysis.samplers.format import read_state
from dn_analysis.samplers.gmm import GMMDn
from dn_analysis.samplers.kde import KDEDn

KINDS: dict[str, type[DnSampler]] = {cls.kind: cls for cls in (EmpiricalDn, KDEDn, GMMDn)}


def load_dn(path: str | Path) -> DnSampler:
    """Load a sampler written by ``save``: same draws for the same seed, same pdf and cdf."""
    meta, arrays = read_state(path)
    kind = meta.get("kind")
    if kind not in KINDS:
        raise ValueError(f"{path} holds an unknown sampler kind {kind!r}; expected one of {sorted(KINDS)}.")
    sampler = KINDS[kind](**meta["params"])
    sampler._set_state(meta["fitted"], arrays)
    return sampler
