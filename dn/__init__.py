"""`dn`: study D_n, the distribution of lottery-ticket initial weights.

The work is split in three packages: `train` (tickets and conditions), `dn_analysis` (densities,
samplers, tests) and `reports` (the Markdown/PDF report). This package only holds the CLI.
"""

__version__ = "0.1.0"
