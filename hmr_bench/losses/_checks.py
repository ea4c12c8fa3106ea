"""Argument checks shared by the loss functions."""

from __future__ import annotations

import torch

from hmr_bench.errors import InputError, require_shape


def valid_rows(mask, B: int, M: int, source: str, field: str, device=None) -> torch.Tensor:
    """A (B, M) bool / 0-1 flag tensor as a bool mask (True = the row takes part), shape-checked."""
    mask = torch.as_tensor(mask, device=device)
    require_shape(mask, (B, M), source, field, "one flag per RoI")
    return mask > 0


def per_sample(x, like: torch.Tensor, source: str, field: str) -> torch.Tensor:
    """A per-sample scalar (float, 0-d or (B,) tensor) as a tensor broadcasting over (B, M): () or (B, 1)."""
    t = torch.as_tensor(x, dtype=like.dtype, device=like.device)
    if t.ndim == 0:
        return t
    if t.shape != like.shape[:1]:
        raise InputError(source, field, found=f"shape {tuple(t.shape)}",
                         expected=f"a float or shape ({like.shape[0]},), one value per sample")
    return t[:, None]
