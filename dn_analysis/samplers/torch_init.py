"""init_from_dn_: initialize a weight tensor from D_n, in torch.nn.init's in-place style.

The paper's "reinit" and "remask" conditions fill the kept weights of a mask with fresh
draws from D_n. Reproducibility comes from torch's generator: one numpy seed is drawn from it
(or from torch's global generator, so ``torch.manual_seed`` also works), and the sampler's
``rvs`` does the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

    from dn_analysis.samplers._base import DnSampler


def init_from_dn_(
    tensor: torch.Tensor,
    dn: DnSampler,
    mask: torch.Tensor | np.ndarray | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Fill `tensor` in place with draws from `dn` and return it.

    With a `mask` (bool or 0/1, the tensor's shape), only the entries where the mask is true
    are filled; all others are left untouched. Draws come in row-major order of the filled
    entries, from the numpy seed ``torch.randint(0, 2**63 - 1, (1,), generator=generator)``:
    the same generator state gives the same tensor.
    """
    import torch

    if not isinstance(tensor, torch.Tensor):
        raise ValueError(f"tensor must be a torch.Tensor, got {type(tensor).__name__}.")
    if not tensor.is_floating_point():
        raise ValueError(f"tensor must have a floating dtype, got {tensor.dtype}.")
    if not hasattr(dn, "rvs"):
        raise ValueError(
            f"dn must be a fitted D_n sampler with an rvs method, got {type(dn).__name__}."
        )
    with torch.no_grad():
        if mask is None:
            sel = None
            n = tensor.numel()
        else:
            m: Any = mask if isinstance(mask, torch.Tensor) else torch.as_tensor(np.asarray(mask))
            if tuple(m.shape) != tuple(tensor.shape):
                raise ValueError(
                    f"mask has shape {tuple(m.shape)} but the tensor has shape {tuple(tensor.shape)}."
                )
            if m.dtype != torch.bool:
                if not bool(((m == 0) | (m == 1)).all()):
                    raise ValueError("mask must be boolean or contain only 0 and 1.")
                m = m != 0
            sel = m.to(tensor.device)
            n = int(sel.sum())
        seed = int(torch.randint(0, 2**63 - 1, (1,), generator=generator).item())
        draws = np.asarray(dn.rvs(n, random_state=seed), dtype=np.float64)
        values = torch.as_tensor(draws, dtype=tensor.dtype, device=tensor.device)
        if sel is None:
            tensor.copy_(values.reshape(tensor.shape))
        elif n:
            tensor[sel] = values
    return tensor
