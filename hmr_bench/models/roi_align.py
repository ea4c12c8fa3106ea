"""RoIAlign in plain PyTorch (torchvision `roi_align` semantics), for the shared-backbone mode: one backbone
pass over the full image, then one feature crop per RoI.

Per box, the RoI in feature pixels is [x1·scale − δ, x2·scale − δ] × [y1·scale − δ, y2·scale − δ] with δ = 0.5
when aligned (pixel centres at integer + 0.5), else δ = 0 and the RoI is at least 1×1. It is cut into
ph × pw bins; each bin averages sampling_ratio² bilinear samples at its regular sub-grid centres. A sample
outside [−1, h] × [−1, w] counts as 0; one inside that range but beyond the border takes the border value.
Vectorised over boxes (no python loop), differentiable in the features (and, almost everywhere, the boxes).
"""

from __future__ import annotations

import torch

from hmr_bench.errors import InputError


def _axis_samples(start: torch.Tensor, end: torch.Tensor, bins: int, ratio: int, aligned: bool) -> torch.Tensor:
    """start, end: (K,) RoI limits on one axis in feature pixels. Returns (K, bins·ratio) sample coordinates."""
    size = end - start
    if not aligned:
        size = size.clamp(min=1.0)
    bin_size = size / bins
    steps = torch.arange(bins * ratio, device=start.device, dtype=start.dtype)
    # sample t of bin p = p·ratio + i sits at start + p·bin + (i + 0.5)·bin/ratio = start + (t + 0.5)·bin/ratio
    return start[:, None] + (steps[None, :] + 0.5) * (bin_size / ratio)[:, None]


def _axis_weights(coord: torch.Tensor, size: int):
    """coord: (K, S) sample coordinates on an axis of `size` pixels.

    Returns (low, high) (K, S) int64 indices, (w_low, w_high) (K, S) weights and (K, S) bool validity,
    following torchvision's `bilinear_interpolate`.
    """
    valid = (coord >= -1.0) & (coord <= size)
    coord = coord.clamp(min=0.0)
    low = coord.floor().long()
    at_edge = low >= size - 1
    low = torch.where(at_edge, torch.full_like(low, size - 1), low)
    high = torch.where(at_edge, low, low + 1)
    coord = torch.where(at_edge, low.to(coord.dtype), coord)
    frac = coord - low.to(coord.dtype)
    return low, high, 1.0 - frac, frac, valid


def roi_align(features: torch.Tensor, boxes: torch.Tensor, output_size: int | tuple[int, int],
              spatial_scale: float = 1.0, sampling_ratio: int = 2, aligned: bool = True) -> torch.Tensor:
    """Crops `features` at `boxes`.

    features: (N, C, h, w). boxes: (K, 5) as (batch_index, x1, y1, x2, y2) in input-image pixels.
    output_size: (ph, pw) or an int. spatial_scale: feature pixels per input pixel (1 / backbone stride).
    sampling_ratio: samples per bin and axis (≥ 1; torchvision's adaptive ≤ 0 is not supported).
    Returns (K, C, ph, pw).
    """
    if features.dim() != 4:
        raise InputError("roi_align", "features", found=f"shape {tuple(features.shape)}", expected="(N, C, h, w)")
    if boxes.dim() != 2 or boxes.shape[1] != 5:
        raise InputError("roi_align", "boxes", found=f"shape {tuple(boxes.shape)}",
                         expected="(K, 5) as (batch_index, x1, y1, x2, y2)")
    ph, pw = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    if ph < 1 or pw < 1:
        raise InputError("roi_align", "output_size", found=output_size, expected="(ph, pw) with ph, pw ≥ 1")
    if not isinstance(sampling_ratio, int) or sampling_ratio < 1:
        raise InputError("roi_align", "sampling_ratio", found=sampling_ratio, expected="an int ≥ 1")
    n, c, h, w = features.shape
    boxes = boxes.to(features.dtype)
    batch = boxes[:, 0].round().long()
    if boxes.shape[0] and (batch.min() < 0 or batch.max() >= n):
        raise InputError("roi_align", "boxes[:, 0] (batch index)",
                         found=f"range [{int(batch.min())}, {int(batch.max())}]", expected=f"indices in [0, {n - 1}]")
    k, r = boxes.shape[0], sampling_ratio
    shift = 0.5 if aligned else 0.0
    x1, y1, x2, y2 = (boxes[:, i] * spatial_scale - shift for i in range(1, 5))
    ys = _axis_samples(y1, y2, ph, r, aligned)                      # (K, ph·r)
    xs = _axis_samples(x1, x2, pw, r, aligned)                      # (K, pw·r)
    y_lo, y_hi, wy_lo, wy_hi, y_ok = _axis_weights(ys, h)
    x_lo, x_hi, wx_lo, wx_hi, x_ok = _axis_weights(xs, w)

    flat = features.permute(0, 2, 3, 1).reshape(n * h * w, c)       # one row per feature pixel
    base = (batch * (h * w))[:, None, None]                          # (K, 1, 1)
    mask = (y_ok[:, :, None] & x_ok[:, None, :]).to(features.dtype)  # (K, ph·r, pw·r)
    out = 0
    for yi, wy in ((y_lo, wy_lo), (y_hi, wy_hi)):
        for xi, wx in ((x_lo, wx_lo), (x_hi, wx_hi)):
            idx = base + yi[:, :, None] * w + xi[:, None, :]        # (K, ph·r, pw·r)
            weight = wy[:, :, None] * wx[:, None, :] * mask
            out = out + flat[idx.reshape(-1)].reshape(k, ph * r, pw * r, c) * weight[..., None]
    out = out.reshape(k, ph, r, pw, r, c).mean(dim=(2, 4))           # average the r × r samples of each bin
    return out.permute(0, 3, 1, 2).contiguous()
