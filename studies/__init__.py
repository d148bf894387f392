"""Studies: benchmarks and side experiments built on `train`, `dn_analysis` and `results`.

Each runs as ``python -m studies.NAME`` (``dn bench`` is :mod:`studies.bench`). They sit above the
packages they use and below `reports` and `dn`.
"""
