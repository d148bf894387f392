"""Training backend of `dn`: lottery tickets (Algorithm 1) and the paper's conditions.

Public API: :func:`open_run` to read a results folder (the :mod:`results` reader, with each
condition's start re-derivable through ``initial_weights``), :func:`train_run` to make one.
"""

from results.errors import DnError
from results.run import ExperimentResult, Run


def open_run(path):
    """See :func:`train.replay.open_run` (imported lazily: it pulls in torch)."""
    from train.replay import open_run as _open_run

    return _open_run(path)


def train_run(*args, **kwargs):
    """See :func:`train.runner.train_run` (imported lazily: it pulls in torch and the data layer)."""
    from train.runner import train_run as _train_run

    return _train_run(*args, **kwargs)


__all__ = ["DnError", "ExperimentResult", "Run", "open_run", "train_run"]
