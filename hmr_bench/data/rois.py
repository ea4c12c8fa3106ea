"""The RoI set: the base box from GT keypoints (spec §1.1) and the M shifted/rescaled RoIs (spec §1.2).

One function, `roi_set`, serves training and evaluation alike. A box is its centre c = (cx, cy) in full-image
pixels and its HEIGHT b = 200·S (S = SPIN ``scale``); its width is b·W_c/H_c (0.75·b for 192×256 crops).

Extra RoI i: c_i = c + b·δ_i, b_i = ρ_i·b. Both x and y shifts are in units of b (the height, spec §1.2).

Variants (registry `ROI_VARIANTS`):

- ``fixed`` (the paper's method): the table below. M ≤ 5 takes RoI 0 and the first M − 1 rows of the 4-extra
  table; 6 ≤ M ≤ 9 takes the first M − 1 rows of the 8-extra table of the Jittor port (a documented
  extension: the paper did not run M ≥ 6).
- ``random`` (paper supplementary: "random shifts/rescales", reported worse than fixed): RoI 0 unchanged,
  each extra δ ~ U(−max_shift, max_shift)² and ρ ~ U(min_rescale, max_rescale), drawn from a seeded
  ``numpy.random.Generator``. The paper does not give its ranges; the defaults span the fixed table's
  (|δ| ≤ 0.1, ρ ∈ [0.65, 1.5]).

    4-extra table (M ≤ 5)            8-extra table (6 ≤ M ≤ 9)
    RoI  δ           ρ               RoI  δ              ρ
    1    (+0.1, 0)   1.5             1    (+0.1, 0)      1.6      5  (+0.1, +0.1)   0.85
    2    (−0.1, 0)   1.25            2    (−0.1, 0)      1.45     6  (−0.1, −0.1)   0.7
    3    (0, +0.1)   0.8             3    (0, +0.1)      1.3      7  (+0.1, −0.1)   0.55
    4    (0, −0.1)   0.65            4    (0, −0.1)      1.15     8  (−0.1, +0.1)   0.4
"""

from __future__ import annotations

import math

import numpy as np
import torch

from hmr_bench.errors import InputError, require_last_dims
from hmr_bench.registry import Registry

ROI_VARIANTS = Registry("RoI variant")

EXTRA_SHIFTS_4 = ((0.1, 0.0), (-0.1, 0.0), (0.0, 0.1), (0.0, -0.1))
EXTRA_RESCALES_4 = (1.5, 1.25, 0.8, 0.65)
EXTRA_SHIFTS_8 = ((0.1, 0.0), (-0.1, 0.0), (0.0, 0.1), (0.0, -0.1), (0.1, 0.1), (-0.1, -0.1), (0.1, -0.1),
                  (-0.1, 0.1))
EXTRA_RESCALES_8 = (1.6, 1.45, 1.3, 1.15, 0.85, 0.7, 0.55, 0.4)
MAX_ROIS = 1 + len(EXTRA_SHIFTS_8)

CROP_ASPECT = 192 / 256  # W_c / H_c of the rect crop
BOX_SCALE = 1.2  # spec §1.1


def _check_num_rois(num_rois: int) -> None:
    if not isinstance(num_rois, (int, np.integer)) or not 1 <= num_rois <= MAX_ROIS:
        raise InputError("roi_set", "num_rois", found=repr(num_rois), expected=f"an integer in 1..{MAX_ROIS}")


@ROI_VARIANTS.register("fixed")
def fixed_offsets(num_rois: int, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """δ: (M, 2) and ρ: (M,) of the fixed table (RoI 0 = (0, 0), 1). `rng` is unused."""
    _check_num_rois(num_rois)
    shifts, rescales = (EXTRA_SHIFTS_4, EXTRA_RESCALES_4) if num_rois <= 5 else (EXTRA_SHIFTS_8, EXTRA_RESCALES_8)
    delta = np.array(((0.0, 0.0),) + shifts[:num_rois - 1])
    rho = np.array((1.0,) + rescales[:num_rois - 1])
    return delta, rho


@ROI_VARIANTS.register("random")
def random_offsets(num_rois: int, rng: np.random.Generator | None = None, max_shift: float = 0.1,
                   min_rescale: float = 0.65, max_rescale: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """δ: (M, 2) and ρ: (M,) drawn from `rng` (required); RoI 0 stays (0, 0), 1."""
    _check_num_rois(num_rois)
    if rng is None:
        raise InputError("roi_set", "rng", found="None", expected="a numpy.random.Generator for variant 'random'")
    delta = np.zeros((num_rois, 2))
    rho = np.ones(num_rois)
    delta[1:] = rng.uniform(-max_shift, max_shift, size=(num_rois - 1, 2))
    rho[1:] = rng.uniform(min_rescale, max_rescale, size=num_rois - 1)
    return delta, rho


def roi_set(center, b, num_rois: int = 5, variant: str = "fixed", rng: np.random.Generator | None = None):
    """The M RoIs of a base box (spec §1.2).

    center: (..., 2) base centre (cx, cy), pixels; b: (...) base box height (200·S, after scale augmentation);
    num_rois: M in 1..9; variant: a name in `ROI_VARIANTS` ("fixed" | "random"); rng: for "random".
    numpy or torch (torch if center is a tensor). Returns centres (..., M, 2) and heights (..., M); RoI 0 is
    the base box itself.
    """
    delta, rho = ROI_VARIANTS.get(variant)(num_rois, rng=rng)
    require_last_dims(center, (2,), "roi_set", "center", "as (cx, cy)")
    if isinstance(center, torch.Tensor):
        b = torch.as_tensor(b, dtype=center.dtype, device=center.device)
        delta = torch.as_tensor(delta, dtype=center.dtype, device=center.device)
        rho = torch.as_tensor(rho, dtype=center.dtype, device=center.device)
    else:
        center, b = np.asarray(center, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if tuple(b.shape) != tuple(center.shape[:-1]):
        raise InputError("roi_set", "b", found=f"shape {tuple(b.shape)}",
                         expected=f"shape {tuple(center.shape[:-1])} (center without its last dim)")
    centers = center[..., None, :] + b[..., None, None] * delta
    return centers, b[..., None] * rho


def box_from_keypoints(keypoints, aspect: float = CROP_ASPECT, scale: float = BOX_SCALE,
                       source: str = "box_from_keypoints"):
    """Base box from 2D keypoints with confidence > 0 (spec §1.1, SPIN/Jittor `bbox_from_keypoint`).

    keypoints: (..., J, 3) as (x, y, conf), numpy. Tight box of the visible ones, centre = its midpoint,
    bbox_size = max(w / aspect, h) (aspect = W_c/H_c, so w·256/192 for rect crops), S = scale·bbox_size/200.
    Returns center (..., 2) and b = 200·S = scale·bbox_size (...). Raises `InputError` when a keypoint set has
    no visible keypoint.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    require_last_dims(kp, (3,), source, "keypoints", "as (x, y, conf)")
    vis = kp[..., 2] > 0
    if not np.all(vis.any(-1)):
        bad = np.argwhere(~vis.any(-1))
        raise InputError(source, "keypoints", found=f"no visible keypoint (conf > 0) at index {tuple(bad[0])}",
                         expected="at least one visible keypoint")
    x, y = kp[..., 0], kp[..., 1]
    x1, x2 = np.where(vis, x, np.inf).min(-1), np.where(vis, x, -np.inf).max(-1)
    y1, y2 = np.where(vis, y, np.inf).min(-1), np.where(vis, y, -np.inf).max(-1)
    center = np.stack([(x1 + x2) / 2, (y1 + y2) / 2], -1)
    return center, scale * np.maximum((x2 - x1) / aspect, y2 - y1)


def box_corners(center, b, aspect: float = CROP_ASPECT) -> np.ndarray:
    """Axis-aligned box (x1, y1, x2, y2) of width aspect·b and height b. center: (..., 2); b: (...)."""
    center, b = np.asarray(center, dtype=np.float64), np.asarray(b, dtype=np.float64)
    half = np.stack([aspect * b / 2, b / 2], -1)
    return np.concatenate([center - half, center + half], -1)


UNION_SCALE = 1.5  # the fixed RoI set (M ≤ 5) spans ≈ 1.5 b high around the base box (ρ up to 1.5, |δ| ≤ 0.1)


def default_union(crop_size: tuple[int, int], multiple: int = 1) -> tuple[int, int]:
    """(W_u, H_u) union image of the shared-backbone mode: UNION_SCALE × the crop (W_c, H_c), rounded up to a
    multiple of max(8, `multiple`) (the backbone's size multiple); e.g. 48×64 → 72×96, 192×256 → 288×384 (and with
    HRNet's 32 too), 96×128 → 144×192 (HRNet: 160×192)."""
    m = max(8, multiple)
    return tuple(int(math.ceil(UNION_SCALE * s / m) * m) for s in crop_size)
