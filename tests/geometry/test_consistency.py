"""The crop camera, the full camera and the crop affines describe the same picture (rect crop 192×256).

Hand derivation: with t_full = crop_to_full(cam), a point (X, Y, 0) in the root's depth plane projects to
x = f(X + tx')/tz + W/2 = cx + (b·s/2)(X + tx), y = cy + (b·s/2)(Y + ty), exactly (up to the 1e-9 in bs).
So one box-normalised unit is b/2 full pixels = H_c/2 crop pixels on both axes.
"""

import numpy as np
import torch

from hmr_bench.geometry.cameras import (
    crop_camera_translation,
    crop_to_full,
    estimate_focal,
    project_full,
    weak_perspective,
)
from hmr_bench.geometry.crops import (
    apply_affine,
    box_to_crop_pixels,
    crop_to_full_transform,
    crop_transform,
    normalize_crop_points,
)

OUT = (192, 256)
W, H = 1920.0, 1080.0


def random_setup(seed=0, n=5):
    g = torch.Generator().manual_seed(seed)
    cam = torch.rand(n, 3, generator=g, dtype=torch.float64) * torch.tensor([0.8, 1.0, 1.0]) + torch.tensor(
        [0.5, -0.5, -0.5])
    center = torch.rand(n, 2, generator=g, dtype=torch.float64) * torch.tensor([W, H])
    b = torch.rand(n, generator=g, dtype=torch.float64) * 600 + 100
    pts = torch.randn(n, 7, 3, generator=g, dtype=torch.float64) * 0.4
    pts[:, :, 2] = 0  # root depth plane: weak perspective is exact there
    pts[:, 0] = 0  # joint 0 is the root
    return cam, center, b, pts


def test_root_lands_on_hand_derived_pixel():
    cam, center, b, _ = random_setup()
    t_full = crop_to_full(cam, center, b, W, H, estimate_focal(W, H))
    root = project_full(torch.zeros(5, 1, 3, dtype=torch.float64), t_full, estimate_focal(W, H), W, H)[:, 0]
    expected = center + (b * cam[:, 0] / 2)[:, None] * cam[:, 1:]
    np.testing.assert_allclose(root.numpy(), expected.numpy(), atol=1e-6)


def test_full_projection_equals_weak_perspective_through_crop_to_full_transform():
    cam, center, b, pts = random_setup(seed=1)
    f = estimate_focal(W, H)
    full_px = project_full(pts, crop_to_full(cam, center, b, W, H, f), f, W, H)
    crop_px = box_to_crop_pixels(weak_perspective(pts, cam), OUT)
    via_crop = apply_affine(crop_to_full_transform(center.numpy(), b.numpy(), OUT), crop_px.numpy())
    np.testing.assert_allclose(full_px.numpy(), via_crop, atol=1e-6)
    # the 2D-loss path (spec §2.5): full pixels → crop_trans → [-1, 1] per axis
    crop_trans = crop_transform(center.numpy(), b.numpy(), OUT)
    q = normalize_crop_points(apply_affine(crop_trans, full_px.numpy()), OUT)
    np.testing.assert_allclose(q, normalize_crop_points(crop_px.numpy(), OUT), atol=1e-8)


def test_rect_box_unit_is_half_crop_height_not_half_width():
    """(u+1)/2·W_c would put u = 1 at the crop's right edge; it is H_c/2 = 128 px right of the centre."""
    cam, center, b, _ = random_setup(seed=2, n=1)
    cam = torch.tensor([[1.0, 1.0, 0.0]], dtype=torch.float64)  # root at u = 1: b/2 full px right of centre
    f = estimate_focal(W, H)
    t_full = crop_to_full(cam, center, b, W, H, f)
    root = project_full(torch.zeros(1, 1, 3, dtype=torch.float64), t_full, f, W, H)
    in_crop = apply_affine(crop_transform(center.numpy(), b.numpy(), OUT), root.numpy())
    np.testing.assert_allclose(in_crop, [[[96 + 128, 128]]], atol=1e-6)


def test_crop_render_camera_agrees_with_weak_perspective():
    cam, _, _, pts = random_setup(seed=3)
    t = crop_camera_translation(cam, crop_size=256.0, crop_focal=5000.0)
    render_px = project_full(pts, t, 5000.0, 192.0, 256.0)  # principal point at the crop centre
    np.testing.assert_allclose(render_px.numpy(), box_to_crop_pixels(weak_perspective(pts, cam), OUT).numpy(),
                               atol=1e-6)
