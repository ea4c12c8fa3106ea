"""Proxy inputs (STRAPS-style): each RoI sees Gaussian heatmaps of the person's 2D keypoints instead of RGB.

    hm = keypoint_heatmaps(kp_crop, crop_size=(48, 64), sigma_px=sigma)   # uint8 (M, 24, 64, 48)

The heatmaps are drawn as if in the full image, with a blob size tied to the person (σ = `SIGMA_REL` × the
base box height b₀), and cut with each RoI's own affine: in RoI m's crop pixels σ_m = SIGMA_REL · b₀ · H_c / b_m.
So boxes, bbox_info, crop affines and cameras are exactly those of the RGB crops, a larger RoI sees smaller
blobs (as it sees a smaller person), and a keypoint outside a RoI's crop is cut off as it is in RGB.

Channels: the 24 SPIN ``part`` keypoints (LSP-14 + extras, SPIN-49 indices 25..48), in that order; a keypoint
with confidence 0 (absent, or occluded when the data says so) gives an empty channel. Stored as uint8
(255 = peak) like RGB crops; `images.normalize_inputs` maps it to [0, 1].
"""

from __future__ import annotations

import numpy as np

PROXY_KEYPOINTS = slice(25, 49)  # SPIN-49 → the 24 `part` keypoints
PROXY_CHANNELS = 24
SIGMA_REL = 0.02  # heatmap σ as a fraction of the person's base box height, in the full image
INPUTS = ("rgb", "proxy")  # data.input
CHANNELS = {"rgb": 3, "proxy": PROXY_CHANNELS}


def roi_sigmas(b: np.ndarray, crop_h: int) -> np.ndarray:
    """σ in each RoI's crop pixels, (M,), for RoI heights b (M,) (RoI 0 = the base box)."""
    b = np.asarray(b, np.float64)
    return SIGMA_REL * b[0] * crop_h / b


def keypoint_heatmaps(kp_crop: np.ndarray, crop_size: tuple[int, int], sigma_px: np.ndarray) -> np.ndarray:
    """kp_crop: (M, 49, 3) SPIN-49 keypoints in each crop's pixels (continuous coordinates: pixel (i, j) covers
    [j, j+1) × [i, i+1)) + confidence; crop_size: (W_c, H_c); sigma_px: (M,). Returns uint8 (M, 24, H_c, W_c),
    exp(−d²/2σ²) at pixel centres, rounded to 1/255."""
    w, h = crop_size
    kp = np.asarray(kp_crop, np.float64)[:, PROXY_KEYPOINTS]  # (M, 24, 3)
    xs = np.arange(w) + 0.5
    ys = np.arange(h) + 0.5
    s2 = 2.0 * np.asarray(sigma_px, np.float64)[:, None, None] ** 2  # (M, 1, 1)
    gx = np.exp(-((xs[None, None, :] - kp[..., 0:1]) ** 2) / s2)  # (M, 24, W)
    gy = np.exp(-((ys[None, None, :] - kp[..., 1:2]) ** 2) / s2)  # (M, 24, H)
    gy = gy * (kp[..., 2:3] > 0)
    return np.rint(255.0 * gy[..., :, None] * gx[..., None, :]).astype(np.uint8)
