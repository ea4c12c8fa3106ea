"""Crop affine transforms and crop-point normalisation (spec §1.3, §2.5).

A crop of size out_size = (W_c, H_c) (rect: (192, 256)) shows a box of height b and width b·W_c/H_c around
its centre, at a uniform scale of H_c/b crop pixels per full-image pixel. Affines are (..., 2, 3) matrices
acting on pixel coordinates (origin top-left, x right, y down) as q = A[:, :2] p + A[:, 2].

`crop_transform` builds them in numpy float64; `invert_affine`, `compose_affine`, `apply_affine` and the
point (de)normalisers work on numpy arrays and torch tensors alike (torch if any argument is a tensor).
"""

from __future__ import annotations

import numpy as np
import torch

from hmr_bench.errors import InputError, require_last_dims


def _stack(xs, axis: int):
    return torch.stack(xs, dim=axis) if isinstance(xs[0], torch.Tensor) else np.stack(xs, axis=axis)


def _same_backend(a, b):
    """(a, b) as numpy arrays, or both as torch tensors (b's dtype wins) when either is a tensor."""
    if isinstance(b, torch.Tensor):
        return torch.as_tensor(a, dtype=b.dtype, device=b.device), b
    if isinstance(a, torch.Tensor):
        return a, torch.as_tensor(b, dtype=a.dtype, device=a.device)
    return np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)


def _similarity(scale, cos, sin, tx, ty) -> np.ndarray:
    """(..., 2, 3) affine [[scale·cos, scale·sin, tx], [−scale·sin, scale·cos, ty]] from broadcast arrays."""
    row0 = np.stack(np.broadcast_arrays(scale * cos, scale * sin, tx), axis=-1)
    row1 = np.stack(np.broadcast_arrays(-scale * sin, scale * cos, ty), axis=-1)
    return np.stack([row0, row1], axis=-2)


def _box(center, b, out_size, rot, source: str):
    center = np.asarray(center, dtype=np.float64)
    require_last_dims(center, (2,), source, "center", "as (cx, cy)")
    if len(out_size) != 2:
        raise InputError(source, "out_size", found=repr(out_size), expected="(W_c, H_c)")
    r = np.deg2rad(np.asarray(rot, dtype=np.float64))
    return center[..., 0], center[..., 1], np.asarray(b, dtype=np.float64), float(out_size[0]), \
        float(out_size[1]), np.cos(r), np.sin(r)


def crop_transform(center, b, out_size, rot=0.0) -> np.ndarray:
    """Full-image → crop affine (HRNet/SPIN `get_affine_transform`, closed form).

    center: (..., 2) box centre; b: (...) box height; out_size: (W_c, H_c); rot: (...) degrees, the box is
    rotated by rot about its centre (the crop content turns by −rot). Maps the box centre to (W_c/2, H_c/2)
    at scale H_c/b. rot = 0 gives the spec's `crop_trans`, rot ≠ 0 its `full_trans`. Returns (..., 2, 3).
    """
    cx, cy, b, wc, hc, cos, sin = _box(center, b, out_size, rot, "crop_transform")
    s = hc / b
    # q = s·R(−rot)(p − c) + (W_c/2, H_c/2), R(−rot) = [[cos, sin], [−sin, cos]]
    return _similarity(s, cos, sin, wc / 2 - s * (cos * cx + sin * cy), hc / 2 - s * (-sin * cx + cos * cy))


def crop_to_full_transform(center, b, out_size, rot=0.0) -> np.ndarray:
    """Crop → full-image affine, the inverse of `crop_transform` (rot = 0: the spec's `inv_trans`).

    Same arguments as `crop_transform`. Returns (..., 2, 3).
    """
    cx, cy, b, wc, hc, cos, sin = _box(center, b, out_size, rot, "crop_to_full_transform")
    k = b / hc
    # p = k·R(rot)(q − (W_c/2, H_c/2)) + c, R(rot) = [[cos, −sin], [sin, cos]]
    qx, qy = wc / 2, hc / 2
    return _similarity(k, cos, -sin, cx - k * (cos * qx - sin * qy), cy - k * (sin * qx + cos * qy))


def invert_affine(A):
    """Inverse of an invertible affine. A: (..., 2, 3), numpy or torch. Returns (..., 2, 3)."""
    require_last_dims(A, (2, 3), "invert_affine", "A", "affine matrix")
    a, b, c, d, tx, ty = A[..., 0, 0], A[..., 0, 1], A[..., 1, 0], A[..., 1, 1], A[..., 0, 2], A[..., 1, 2]
    det = a * d - b * c
    ia, ib, ic, id_ = d / det, -b / det, -c / det, a / det
    row0 = _stack([ia, ib, -(ia * tx + ib * ty)], -1)
    row1 = _stack([ic, id_, -(ic * tx + id_ * ty)], -1)
    return _stack([row0, row1], -2)


def compose_affine(outer, inner):
    """Affine of p ↦ outer(inner(p)). outer, inner: (..., 2, 3), numpy or torch. Returns (..., 2, 3)."""
    require_last_dims(outer, (2, 3), "compose_affine", "outer", "affine matrix")
    require_last_dims(inner, (2, 3), "compose_affine", "inner", "affine matrix")
    outer, inner = _same_backend(outer, inner)
    lin = outer[..., :2]
    rows = [_stack([lin[..., i, 0] * inner[..., 0, j] + lin[..., i, 1] * inner[..., 1, j]
                    + (outer[..., i, 2] if j == 2 else 0.0) for j in range(3)], -1) for i in range(2)]
    return _stack(rows, -2)


def apply_affine(A, points):
    """Apply affine to points. A: (..., 2, 3); points: (..., N, 2); numpy or torch. Returns (..., N, 2)."""
    require_last_dims(A, (2, 3), "apply_affine", "A", "affine matrix")
    require_last_dims(points, (2,), "apply_affine", "points", "as (x, y)")
    A, points = _same_backend(A, points)
    A = A[..., None, :, :]  # against N
    x, y = points[..., 0], points[..., 1]
    return _stack([A[..., 0, 0] * x + A[..., 0, 1] * y + A[..., 0, 2],
                   A[..., 1, 0] * x + A[..., 1, 1] * y + A[..., 1, 2]], -1)


def normalize_crop_points(q, out_size):
    """Crop pixels → [−1, 1] per axis, as in the 2D loss (spec §2.5): x' = 2x/W_c − 1, y' = 2y/H_c − 1.

    q: (..., 2) numpy or torch; out_size: (W_c, H_c). Returns (..., 2).
    """
    require_last_dims(q, (2,), "normalize_crop_points", "q", "as (x, y)")
    wc, hc = float(out_size[0]), float(out_size[1])
    return _stack([2 * q[..., 0] / wc - 1, 2 * q[..., 1] / hc - 1], -1)


def denormalize_crop_points(q, out_size):
    """Inverse of `normalize_crop_points`: x = (x' + 1)·W_c/2, y = (y' + 1)·H_c/2. q: (..., 2)."""
    require_last_dims(q, (2,), "denormalize_crop_points", "q", "as (x', y')")
    wc, hc = float(out_size[0]), float(out_size[1])
    return _stack([(q[..., 0] + 1) * wc / 2, (q[..., 1] + 1) * hc / 2], -1)


def box_to_crop_pixels(uv, out_size):
    """Box-normalised weak-perspective coordinates (`cameras.weak_perspective`) → crop pixels.

    One box unit is b/2 full-image pixels on BOTH axes, i.e. H_c/2 crop pixels: x = W_c/2 + u·H_c/2,
    y = H_c/2 + v·H_c/2. For a rect crop this is NOT `denormalize_crop_points` in x (that uses W_c/2).
    uv: (..., 2) numpy or torch; out_size: (W_c, H_c). Returns (..., 2).
    """
    require_last_dims(uv, (2,), "box_to_crop_pixels", "uv", "as (u, v)")
    wc, hc = float(out_size[0]), float(out_size[1])
    return _stack([wc / 2 + uv[..., 0] * hc / 2, hc / 2 + uv[..., 1] * hc / 2], -1)
