"""Full-image focal length, bbox_info and the crop ↔ full-image camera conversion (spec §2).

Image coordinates: origin top-left, x right, y down, principal point (W/2, H/2). A box is given by its centre
(cx, cy) and its HEIGHT b = 200·S; a crop camera cam = (s, tx, ty) is weak-perspective in box-normalised
units, i.e. a full-image offset of b/2 pixels from the box centre is 1 on both axes.

Everything is torch, batched over arbitrary leading dims and differentiable. img_w, img_h and focal may be
python floats or tensors broadcasting over the leading dims.
"""

from __future__ import annotations

import torch

from hmr_bench.errors import require_last_dims

BS_EPS = 1e-9  # added to b·s in cam_crop2full [C:utils/geometry.py], kept for bit-compatibility


def _tensor(x, like: torch.Tensor | None = None) -> torch.Tensor:
    """x as a floating tensor (dtype/device of `like` when given; float32 for non-float input otherwise)."""
    if like is not None:
        return torch.as_tensor(x, dtype=like.dtype, device=like.device)
    t = torch.as_tensor(x)
    return t if t.is_floating_point() else t.to(torch.get_default_dtype())



def estimate_focal(img_w, img_h) -> torch.Tensor:
    """Focal length of a full image without calibration: f = sqrt(W² + H²) (spec §2.1, CLIFF).

    img_w, img_h: float or (...) tensors. Returns (...).
    """
    w, h = _tensor(img_w), _tensor(img_h)
    return torch.sqrt(w * w + h * h)


def bbox_info(center, b, img_w, img_h, focal) -> torch.Tensor:
    """Normalised box descriptor fed to the network (spec §2.2, CLIFF).

    center: (..., 2) as (cx, cy) in full-image pixels; b: (...) box height (200·S).
    Returns (..., 3) = [2.8(cx − W/2)/f, 2.8(cy − H/2)/f, (b − 0.24f)/(0.06f)].
    """
    center = _tensor(center)
    require_last_dims(center, (2,), "bbox_info", "center", "as (cx, cy)")
    b, w, h, f = (_tensor(x, center) for x in (b, img_w, img_h, focal))
    return torch.stack([2.8 * (center[..., 0] - w / 2) / f,
                        2.8 * (center[..., 1] - h / 2) / f,
                        (b - 0.24 * f) / (0.06 * f)], dim=-1)


def crop_to_full(cam, center, b, img_w, img_h, focal) -> torch.Tensor:
    """Crop camera → full-image translation (spec §2.4, `cam_crop2full`).

    cam: (..., 3) as (s, tx, ty); center: (..., 2) box centre in full-image pixels; b: (...) box height.
    Returns t_full: (..., 3) as (tx + 2(cx − W/2)/bs, ty + 2(cy − H/2)/bs, 2f/bs) with bs = b·s + 1e-9.
    """
    cam = _tensor(cam)
    require_last_dims(cam, (3,), "crop_to_full", "cam", "as (s, tx, ty)")
    center = _tensor(center, cam)
    require_last_dims(center, (2,), "crop_to_full", "center", "as (cx, cy)")
    b, w, h, f = (_tensor(x, cam) for x in (b, img_w, img_h, focal))
    bs = b * cam[..., 0] + BS_EPS
    return torch.stack([cam[..., 1] + 2 * (center[..., 0] - w / 2) / bs,
                        cam[..., 2] + 2 * (center[..., 1] - h / 2) / bs,
                        2 * f / bs], dim=-1)


def full_to_crop(t_full, center, b, img_w, img_h, focal) -> torch.Tensor:
    """Full-image translation → crop camera of a given box; the exact inverse of `crop_to_full`.

    Used to make ground-truth crop cameras. t_full: (..., 3) as (tx, ty, tz) with tz > 0;
    center: (..., 2); b: (...) box height. Returns cam: (..., 3) as (s, tx, ty).
    """
    t_full = _tensor(t_full)
    require_last_dims(t_full, (3,), "full_to_crop", "t_full", "as (tx, ty, tz)")
    center = _tensor(center, t_full)
    require_last_dims(center, (2,), "full_to_crop", "center", "as (cx, cy)")
    b, w, h, f = (_tensor(x, t_full) for x in (b, img_w, img_h, focal))
    bs = 2 * f / t_full[..., 2]
    return torch.stack([(bs - BS_EPS) / b,
                        t_full[..., 0] - 2 * (center[..., 0] - w / 2) / bs,
                        t_full[..., 1] - 2 * (center[..., 1] - h / 2) / bs], dim=-1)


def project_full(points, t_full, focal, img_w, img_h) -> torch.Tensor:
    """Perspective projection into full-image pixels (spec §2.5), K = [[f,0,W/2],[0,f,H/2],[0,0,1]], R = I.

    points: (..., N, 3) root-relative; t_full: (..., 3); focal, img_w, img_h: float or (...).
    Returns (..., N, 2). Depth is not clamped (as in the official code): a point at Z = 0 gives inf.
    """
    points = _tensor(points)
    require_last_dims(points, (3,), "project_full", "points", "as (X, Y, Z)")
    t_full = _tensor(t_full, points)
    require_last_dims(t_full, (3,), "project_full", "t_full", "as (tx, ty, tz)")
    f, w, h = (_tensor(x, points)[..., None] for x in (focal, img_w, img_h))  # (..., 1) against N
    p = points + t_full[..., None, :]
    return torch.stack([f * p[..., 0] / p[..., 2] + w / 2,
                        f * p[..., 1] / p[..., 2] + h / 2], dim=-1)


def weak_perspective(points, cam) -> torch.Tensor:
    """Weak-perspective projection in box-normalised crop units: s·(X_xy + (tx, ty)).

    points: (..., N, 3); cam: (..., 3) as (s, tx, ty). Returns (..., N, 2); 1 = b/2 full-image pixels on BOTH
    axes (see `crops.box_to_crop_pixels` for crop pixels).
    """
    points = _tensor(points)
    require_last_dims(points, (3,), "weak_perspective", "points", "as (X, Y, Z)")
    cam = _tensor(cam, points)
    require_last_dims(cam, (3,), "weak_perspective", "cam", "as (s, tx, ty)")
    cam = cam[..., None, :]
    return cam[..., :1] * (points[..., :2] + cam[..., 1:])


def crop_camera_translation(cam, crop_size: float = 256.0, crop_focal: float = 5000.0) -> torch.Tensor:
    """Crop-perspective translation used only for rendering crops (spec §2.3, SPIN `pred_cam_t`).

    cam: (..., 3) as (s, tx, ty). Returns (..., 3) = (tx, ty, 2·crop_focal/(crop_size·s + 1e-9)); with the
    principal point at the crop centre this reproduces `weak_perspective` scaled by crop_size/2 (= H_c/2).
    """
    cam = _tensor(cam)
    require_last_dims(cam, (3,), "crop_camera_translation", "cam", "as (s, tx, ty)")
    return torch.stack([cam[..., 1], cam[..., 2],
                        2 * crop_focal / (crop_size * cam[..., 0] + BS_EPS)], dim=-1)
