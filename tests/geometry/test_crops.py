"""crops.py against HRNet/SPIN's three-point `get_affine_transform`, re-derived with np.linalg.solve."""

import numpy as np
import pytest
import torch

from hmr_bench.errors import InputError
from hmr_bench.geometry.crops import (
    apply_affine,
    box_to_crop_pixels,
    compose_affine,
    crop_to_full_transform,
    crop_transform,
    denormalize_crop_points,
    invert_affine,
    normalize_crop_points,
)

OUT = (192, 256)


def three_point_affine(center, b, rot_deg, out_size, inv=False):
    """HRNet `get_affine_transform` with scale_tmp = (b·W_c/H_c, b), solved from 3 point pairs (no cv2)."""
    wc, hc = out_size
    src_w = b * wc / hc
    r = np.deg2rad(rot_deg)

    def rotate(p):
        return np.array([p[0] * np.cos(r) - p[1] * np.sin(r), p[0] * np.sin(r) + p[1] * np.cos(r)])

    def third(a, b_):
        d = a - b_
        return b_ + np.array([-d[1], d[0]])

    src0 = np.asarray(center, float)
    src1 = src0 + rotate([0.0, -0.5 * src_w])
    dst0 = np.array([wc * 0.5, hc * 0.5])
    dst1 = dst0 + np.array([0.0, -0.5 * wc])
    src = np.stack([src0, src1, third(src0, src1)])
    dst = np.stack([dst0, dst1, third(dst0, dst1)])
    if inv:
        src, dst = dst, src
    # [x y 1] @ Aᵀ = [x' y']
    return np.linalg.solve(np.hstack([src, np.ones((3, 1))]), dst).T


@pytest.mark.parametrize("rot", [0.0, 30.0, -47.5])
def test_crop_transform_equals_three_point_construction(rot):
    center, b = np.array([612.3, 288.1]), 347.0
    np.testing.assert_allclose(crop_transform(center, b, OUT, rot), three_point_affine(center, b, rot, OUT),
                               atol=1e-9)
    np.testing.assert_allclose(crop_to_full_transform(center, b, OUT, rot),
                               three_point_affine(center, b, rot, OUT, inv=True), atol=1e-9)


def test_crop_transform_batched_and_box_corners():
    centers = np.array([[[100.0, 200.0], [500.0, 50.0]]])
    bs = np.array([[400.0, 120.0]])
    A = crop_transform(centers, bs, OUT, rot=np.array([[0.0, 25.0]]))
    assert A.shape == (1, 2, 2, 3)
    for i in range(2):
        np.testing.assert_allclose(A[0, i], three_point_affine(centers[0, i], bs[0, i], [0.0, 25.0][i], OUT),
                                   atol=1e-9)
    # unrotated: the box corners (width 0.75b, height b) go to the crop corners
    corners = np.array([[100 - 150.0, 200 - 200.0], [100 + 150.0, 200 + 200.0]])
    np.testing.assert_allclose(apply_affine(A[0, 0], corners), [[0, 0], [192, 256]], atol=1e-9)


def test_rotated_crop_maps_box_centre_to_crop_centre():
    center = np.array([[321.0, 123.0]])
    A = crop_transform(center, 250.0, OUT, rot=40.0)
    np.testing.assert_allclose(apply_affine(A, center[:, None, :]), [[[96.0, 128.0]]], atol=1e-9)


def test_round_trips():
    rng = np.random.default_rng(0)
    center, b, rot = rng.uniform(0, 1000, (6, 2)), rng.uniform(50, 600, 6), rng.uniform(-60, 60, 6)
    fwd, back = crop_transform(center, b, OUT, rot), crop_to_full_transform(center, b, OUT, rot)
    ident = np.broadcast_to(np.eye(2, 3), (6, 2, 3))
    np.testing.assert_allclose(compose_affine(back, fwd), ident, atol=1e-9)
    np.testing.assert_allclose(compose_affine(fwd, back), ident, atol=1e-9)
    np.testing.assert_allclose(invert_affine(fwd), back, atol=1e-9)
    np.testing.assert_allclose(invert_affine(invert_affine(fwd)), fwd, atol=1e-9)
    pts = rng.uniform(0, 1000, (6, 7, 2))
    np.testing.assert_allclose(apply_affine(back, apply_affine(fwd, pts)), pts, atol=1e-9)


def test_compose_affine_order():
    shift = np.array([[1.0, 0.0, 5.0], [0.0, 1.0, 0.0]])
    double = np.array([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    p = np.array([[1.0, 1.0]])
    np.testing.assert_allclose(apply_affine(compose_affine(double, shift), p), [[12.0, 2.0]])  # 2·(p + 5)


def test_apply_affine_numpy_and_torch_agree():
    A = crop_transform(np.array([300.0, 400.0]), 200.0, OUT, 10.0)
    pts = np.array([[1.0, 2.0], [300.0, 400.0]])
    out_t = apply_affine(torch.tensor(A), torch.tensor(pts, requires_grad=True))
    assert isinstance(out_t, torch.Tensor) and out_t.requires_grad
    np.testing.assert_allclose(out_t.detach().numpy(), apply_affine(A, pts), rtol=1e-12)
    np.testing.assert_allclose(invert_affine(torch.tensor(A)).numpy(), invert_affine(A), rtol=1e-12)


def test_normalize_crop_points():
    q = np.array([[0.0, 0.0], [192.0, 256.0], [96.0, 64.0]])
    np.testing.assert_allclose(normalize_crop_points(q, OUT), [[-1, -1], [1, 1], [0, -0.5]])
    np.testing.assert_allclose(denormalize_crop_points(normalize_crop_points(q, OUT), OUT), q)
    # one box unit is H_c/2 = 128 crop px on both axes
    np.testing.assert_allclose(box_to_crop_pixels(np.array([[0.5, -0.5]]), OUT), [[96 + 64, 128 - 64]])


@pytest.mark.parametrize("call, name", [
    (lambda: crop_transform(np.zeros(3), 1.0, OUT), "center"),
    (lambda: apply_affine(np.zeros((3, 3)), np.zeros((4, 2))), "A"),
    (lambda: apply_affine(np.zeros((2, 3)), np.zeros((4, 3))), "points"),
    (lambda: invert_affine(np.zeros((2, 2))), "A"),
    (lambda: normalize_crop_points(np.zeros((4, 3)), OUT), "q"),
])
def test_bad_shapes_name_argument(call, name):
    with pytest.raises(InputError, match=rf"'{name}'.*found shape \("):
        call()
