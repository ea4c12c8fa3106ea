"""cameras.py against the spec's worked examples (§2.2, §2.4) and hand-derived formulas."""

import math

import numpy as np
import pytest
import torch

from hmr_bench.errors import InputError
from hmr_bench.geometry.cameras import (
    bbox_info,
    crop_camera_translation,
    crop_to_full,
    estimate_focal,
    full_to_crop,
    project_full,
    weak_perspective,
)

W, H = 1000.0, 800.0
F = 1280.6248  # sqrt(1000² + 800²), spec §2.2
CENTER = torch.tensor([600.0, 300.0], dtype=torch.float64)
B = 400.0


def test_estimate_focal_example():
    assert estimate_focal(W, H).item() == pytest.approx(F, abs=1e-4)
    assert torch.allclose(estimate_focal(torch.tensor([3.0, 5.0]), torch.tensor([4.0, 12.0])),
                          torch.tensor([5.0, 13.0]))


def test_bbox_info_spec_example():
    info = bbox_info(CENTER, B, W, H, estimate_focal(W, H))
    assert info.tolist() == pytest.approx([0.218643, -0.218643, 1.205792], abs=1e-6)


def test_crop_to_full_spec_example():
    cam = torch.tensor([0.8, 0.1, -0.2], dtype=torch.float64)
    t_full = crop_to_full(cam, CENTER, B, W, H, estimate_focal(W, H))
    assert t_full.tolist() == pytest.approx([0.725, -0.825, 8.003905], abs=1e-6)


def test_consistent_shifted_rescaled_roi():
    """Spec §2.4: the RoI shifted by +0.1b in x and scaled ×1.5 must predict s = 8/15, tx = −0.15."""
    f = estimate_focal(W, H)
    t_full = crop_to_full(torch.tensor([0.8, 0.1, -0.2], dtype=torch.float64), CENTER, B, W, H, f)
    cam = full_to_crop(t_full, torch.tensor([640.0, 300.0], dtype=torch.float64), 600.0, W, H, f)
    assert cam.tolist() == pytest.approx([0.533333, -0.15, -0.2], abs=1e-6)


def test_round_trip_batched():
    g = torch.Generator().manual_seed(0)
    cam = torch.rand(4, 5, 3, generator=g, dtype=torch.float64) + torch.tensor([0.3, -0.5, -0.5])
    center = torch.rand(4, 5, 2, generator=g, dtype=torch.float64) * 900
    b = torch.rand(4, 5, generator=g, dtype=torch.float64) * 500 + 50
    w, h = torch.full((4, 1), 1920.0, dtype=torch.float64), torch.full((4, 1), 1080.0, dtype=torch.float64)
    f = estimate_focal(w, h)
    back = full_to_crop(crop_to_full(cam, center, b, w, h, f), center, b, w, h, f)
    assert torch.allclose(back, cam, atol=1e-12)


def test_project_full_by_hand():
    pts = torch.tensor([[[0.0, 0.0, 0.0], [0.1, -0.2, 0.5]]], dtype=torch.float64)
    t = torch.tensor([[0.5, 0.25, 10.0]], dtype=torch.float64)
    uv = project_full(pts, t, 1000.0, 640.0, 480.0)
    expected = [[[1000 * 0.5 / 10 + 320, 1000 * 0.25 / 10 + 240],
                 [1000 * 0.6 / 10.5 + 320, 1000 * 0.05 / 10.5 + 240]]]
    np.testing.assert_allclose(uv.numpy(), expected, rtol=1e-12)


def test_weak_perspective_and_crop_camera_by_hand():
    pts = torch.tensor([[1.0, 2.0, 3.0]])
    cam = torch.tensor([0.5, 0.1, -0.3])
    np.testing.assert_allclose(weak_perspective(pts, cam).numpy(), [[0.55, 0.85]], rtol=1e-6)
    assert crop_camera_translation(cam).tolist() == pytest.approx([0.1, -0.3, 2 * 5000 / 128], rel=1e-6)


def test_gradcheck_crop_to_full():
    g = torch.Generator().manual_seed(1)
    cam = (torch.rand(3, 3, generator=g, dtype=torch.float64) + 0.5).requires_grad_()
    center = (torch.rand(3, 2, generator=g, dtype=torch.float64) * 500).requires_grad_()
    b = (torch.rand(3, generator=g, dtype=torch.float64) * 300 + 100).requires_grad_()
    f = math.hypot(W, H)
    assert torch.autograd.gradcheck(lambda c, x, s: crop_to_full(c, x, s, W, H, f), (cam, center, b))


@pytest.mark.parametrize("call, name", [
    (lambda: crop_to_full(torch.zeros(4, 2), torch.zeros(4, 2), 1.0, W, H, F), "cam"),
    (lambda: crop_to_full(torch.zeros(4, 3), torch.zeros(4, 3), 1.0, W, H, F), "center"),
    (lambda: bbox_info(torch.zeros(4, 3), 1.0, W, H, F), "center"),
    (lambda: project_full(torch.zeros(4, 5, 2), torch.zeros(4, 3), F, W, H), "points"),
    (lambda: full_to_crop(torch.zeros(4, 2), torch.zeros(4, 2), 1.0, W, H, F), "t_full"),
    (lambda: weak_perspective(torch.zeros(5, 3), torch.zeros(2)), "cam"),
])
def test_bad_shapes_name_argument(call, name):
    with pytest.raises(InputError, match=rf"'{name}'.*found shape \("):
        call()
