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


SCALES = ("xavier", "torch_default")


def init_scale(shape: tuple[int, ...], scale: str = "xavier") -> float:
    """The init standard deviation a layer of `shape` gets: Xavier's sqrt(2/(fan_in+fan_out)),
    or torch's default U(±1/sqrt(fan_in)), whose std is 1/sqrt(3·fan_in).

    Fans follow torch.nn.init: (out, in, *kernel) with the kernel's size multiplying both.
    """
    if len(shape) < 2:
        raise ValueError(f"a weight needs at least 2 dimensions (out, in, ...), got shape {tuple(shape)}.")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
    if scale == "xavier":
        return float(np.sqrt(2.0 / (fan_in + fan_out)))
    if scale == "torch_default":
        return float(1.0 / np.sqrt(3.0 * fan_in))
    raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}.")


def init_scaled_from_dn_(
    tensor: torch.Tensor,
    dn: DnSampler,
    scale: str = "xavier",
    mask: torch.Tensor | np.ndarray | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Fill `tensor` from a *standardized* D_n (θ_LT divided by its layer's init std), scaled
    to this tensor's own init std, in place.

    A D_n measured on one network (say FC-1's first layer) carries its shape in units of its
    layer's scale; multiplying by the target layer's scale (:func:`init_scale`, from the
    tensor's fan-in and fan-out) transfers that shape to a layer of any size. Fit `dn` to
    ``exp.theta_lt(trial, round, standardize=True)``.
    """
    import torch

    init_from_dn_(tensor, dn, mask=mask, generator=generator)
    with torch.no_grad():
        std = init_scale(tuple(tensor.shape), scale)
        if mask is None:
            tensor.mul_(std)
        else:
            sel = torch.as_tensor(np.asarray(mask)).to(tensor.device).bool()
            tensor[sel] = tensor[sel] * std
    return tensor
