"""rois.py against the spec's regression numbers (§10) and hand-computed boxes (§1.1)."""

import numpy as np
import pytest
import torch

from hmr_bench.data.rois import box_corners, box_from_keypoints, roi_set
from hmr_bench.errors import InputError
from hmr_bench.registry import UnknownNameError


def test_spec_regression_numbers():
    # spec §10: c = (500, 400), S = 2 (b = 400)
    centers, bs = roi_set(np.array([500.0, 400.0]), 400.0)
    np.testing.assert_allclose(centers, [[500, 400], [540, 400], [460, 400], [500, 440], [500, 360]])
    np.testing.assert_allclose(bs, [400, 600, 500, 320, 260])


def test_torch_and_batched_inputs():
    c = torch.tensor([[500.0, 400.0], [100.0, 50.0]], dtype=torch.float64)
    b = torch.tensor([400.0, 100.0], dtype=torch.float64)
    centers, bs = roi_set(c, b)
    assert isinstance(centers, torch.Tensor) and centers.shape == (2, 5, 2) and bs.shape == (2, 5)
    # second box by hand: shifts of 0.1·100 = 10 px, heights 100·ρ
    torch.testing.assert_close(centers[1], torch.tensor([[100, 50], [110, 50], [90, 50], [100, 60], [100, 40.0]],
                                                        dtype=torch.float64))
    torch.testing.assert_close(bs[1], torch.tensor([100, 150, 125, 80, 65.0], dtype=torch.float64))


@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_fewer_rois_take_the_first_rows(m):
    centers, bs = roi_set(np.array([500.0, 400.0]), 400.0, num_rois=m)
    np.testing.assert_allclose(centers, np.array([[500, 400], [540, 400], [460, 400], [500, 440]])[:m])
    np.testing.assert_allclose(bs, np.array([400, 600, 500, 320])[:m])


def test_more_rois_use_the_eight_extra_table():
    centers, bs = roi_set(np.array([0.0, 0.0]), 100.0, num_rois=9)
    np.testing.assert_allclose(centers, 10 * np.array([[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1], [1, 1], [-1, -1],
                                                       [1, -1], [-1, 1]]), atol=1e-12)
    np.testing.assert_allclose(bs, [100, 160, 145, 130, 115, 85, 70, 55, 40])
    c6, b6 = roi_set(np.array([0.0, 0.0]), 100.0, num_rois=6)
    np.testing.assert_allclose(b6, [100, 160, 145, 130, 115, 85])
    np.testing.assert_allclose(c6, centers[:6])


@pytest.mark.parametrize("m", [0, 10, 2.5])
def test_bad_num_rois(m):
    with pytest.raises(InputError, match="num_rois"):
        roi_set(np.zeros(2), 1.0, num_rois=m)


def test_random_variant_is_seeded_and_in_range():
    c = np.array([300.0, 200.0])
    a = roi_set(c, 100.0, 5, "random", rng=np.random.default_rng(3))
    b = roi_set(c, 100.0, 5, "random", rng=np.random.default_rng(3))
    other = roi_set(c, 100.0, 5, "random", rng=np.random.default_rng(4))
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.allclose(a[0], other[0])
    np.testing.assert_allclose(a[0][0], c)
    assert a[1][0] == 100.0
    assert np.all(np.abs(a[0][1:] - c) <= 10.0) and np.all((a[1][1:] >= 65) & (a[1][1:] <= 150))
    with pytest.raises(InputError, match="rng"):
        roi_set(c, 100.0, 5, "random")


def test_unknown_variant_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match="fixed, random"):
        roi_set(np.zeros(2), 1.0, variant="fixd")


def test_shape_mismatch():
    with pytest.raises(InputError, match="'b'"):
        roi_set(np.zeros((3, 2)), np.ones(2))


def test_box_from_keypoints_height_dominates():
    kp = np.array([[10, 20, 1], [50, 100, 1], [500, 500, 0], [30, 60, 0.5]], float)
    c, b = box_from_keypoints(kp)
    # w = 40 → 40·256/192 = 53.3 < h = 80; b = 1.2·80
    np.testing.assert_allclose(c, [30, 60])
    assert b == pytest.approx(96.0)


def test_box_from_keypoints_width_dominates_and_batches():
    kp = np.array([[[0, 0, 1], [90, 60, 1]], [[5, 5, 1], [5, 45, 1]]], float)
    c, b = box_from_keypoints(kp)
    np.testing.assert_allclose(c, [[45, 30], [5, 25]])
    np.testing.assert_allclose(b, [1.2 * 90 * 256 / 192, 1.2 * 40])  # 144, 48


def test_box_from_keypoints_needs_a_visible_keypoint():
    kp = np.zeros((2, 24, 3))
    kp[0, 3, 2] = 1
    with pytest.raises(InputError, match="no visible keypoint"):
        box_from_keypoints(kp)


def test_box_corners():
    np.testing.assert_allclose(box_corners([100.0, 50.0], 80.0), [70, 10, 130, 90])
