"""Reading another tool's files without running code from them: no pickle, ever.

A ``.pth`` is read with ``torch.load(weights_only=True)``, which unpickles only tensors and plain
containers and refuses anything else before it runs; ``.npy``/``.npz`` with ``allow_pickle=False``.
A file that needs a pickle is refused in one line, and nothing in it runs.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import numpy as np

from results.errors import DnError


def state_dict(path: Path) -> dict[str, np.ndarray]:
    """{key: array} of a torch state dict (or a dict of tensors) saved with torch.save."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise DnError(f"{path} is missing")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, AttributeError, TypeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DnError(f"{path} cannot be read as tensors only ({first[:160]}); it may need a pickle to load, "
                      "which dn refuses: nothing in it was run. Save plain state dicts "
                      "(torch.save(model.state_dict(), path))") from None
    if not isinstance(data, dict):
        raise DnError(f"{path} holds a {type(data).__name__}, not a dict of tensors (a state dict)")
    out = {}
    for key, value in data.items():
        if isinstance(value, torch.Tensor):
            out[str(key)] = value.detach().cpu().numpy()
    return out


def array(path: Path) -> np.ndarray:
    """One .npy array, never unpickled."""
    path = Path(path)
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as err:
        raise DnError(f"{path} holds Python objects that need a pickle to load ({err}); dn refuses them: "
                      "nothing in it was run. Save plain numeric arrays") from None
    except (OSError, EOFError) as err:
        raise DnError(f"{path} is not a readable .npy file ({err})") from None


def arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of an .npz file, never unpickled."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except ValueError as err:
        raise DnError(f"{path} holds Python objects that need a pickle to load ({err}); dn refuses them: "
                      "nothing in it was run. Save plain numeric arrays") from None
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise DnError(f"{path} is not a readable .npz file ({err})") from None
