"""`dn`: study D_n, the distribution of lottery-ticket initial weights.

The work is split in rooms (README, "Layout"): `results` (the results format), `dn_data` (the
datasets), `train` (tickets and conditions), `dn_analysis` (densities, samplers, tests),
`studies` (benchmarks and side experiments) and `reports` (the Markdown/PDF report). This package
only holds the CLI, on top of them all.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dn")
except PackageNotFoundError:  # a checkout on sys.path, not installed
    __version__ = "unknown"
