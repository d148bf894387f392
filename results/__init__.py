"""The results format of `dn` (docs/run-format.md): files, labels, tables and trial statistics.

The bottom of the house: it imports nothing of `train`, `dn_analysis`, `reports` or `dn`, and
every other package reads and writes results through it.

>>> from results import open_run
>>> run = open_run("docs/runs/fc1-mnist-text")                      # doctest: +SKIP
>>> run.experiment("fc1-mnist").theta_lt(trial=0, round=6).size      # doctest: +SKIP
"""

from results.errors import DnError
from results.labels import Label, experiment_name
from results.run import ExperimentResult, Run, open_run

__all__ = ["DnError", "ExperimentResult", "Label", "Run", "experiment_name", "open_run"]
