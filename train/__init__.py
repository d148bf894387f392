"""Training backend of `dn`: lottery tickets (Algorithm 1) and the paper's conditions.

Public API: :func:`open_run` to read a results folder, :func:`train_run` to make one.
"""

from train.errors import DnError
from train.run import ExperimentResult, Run, open_run


def train_run(*args, **kwargs):
    """See :func:`train.runner.train_run` (imported lazily: it pulls in torch and the data layer)."""
    from train.runner import train_run as _train_run

    return _train_run(*args, **kwargs)


__all__ = ["DnError", "ExperimentResult", "Run", "open_run", "train_run"]
