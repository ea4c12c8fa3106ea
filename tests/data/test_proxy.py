"""Proxy inputs: keypoint heatmaps at hand-computed values, cut with each RoI's affine."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hmr_bench.data.proxy import PROXY_CHANNELS, SIGMA_REL, keypoint_heatmaps, roi_sigmas


def test_one_keypoint_by_hand():
    kp = np.zeros((1, 49, 3))
    kp[0, 25] = [10.5, 20.5, 1.0]  # part keypoint 0 at the centre of pixel (row 20, col 10)
    kp[0, 26] = [3.0, 4.0, 0.0]  # absent: an empty channel
    hm = keypoint_heatmaps(kp, (16, 32), np.array([2.0]))
    assert hm.shape == (1, PROXY_CHANNELS, 32, 16) and hm.dtype == np.uint8
    assert hm[0, 0, 20, 10] == 255
    # one pixel right: d = 1, exp(-1/8) = 0.8825 → 225; one right and one down: d² = 2 → exp(-1/4) → 199
    assert hm[0, 0, 20, 11] == round(255 * math.exp(-1 / 8))
    assert hm[0, 0, 21, 11] == round(255 * math.exp(-2 / 8))
    assert hm[0, 1].max() == 0 and hm[0, 2:].max() == 0


def test_sigma_follows_each_roi_scale():
    """σ is SIGMA_REL × the base box height in the full image, seen through each RoI's scale H_c / b_m."""
    b = np.array([200.0, 300.0, 100.0])
    np.testing.assert_allclose(roi_sigmas(b, 64), SIGMA_REL * 200 * 64 / b)


@pytest.mark.parametrize("rotation", ["official", "exact"])
def test_proxy_sample_peaks_at_the_crop_keypoints(rotation):
    """A proxy sample's channels peak where keypoints_crop puts the visible keypoints (within a pixel)."""
    from hmr_bench.data.augment import AugmentParams
    from hmr_bench.data.samples import Annotation, SampleConfig, build_sample

    rng = np.random.default_rng(0)
    kp = np.zeros((49, 3))
    kp[25:] = np.c_[rng.uniform(300, 340, 24), rng.uniform(180, 380, 24), np.ones(24)]
    ann = Annotation(center=np.array([320.0, 280.0]), b=240.0, keypoints=kp, pose=np.zeros(72), betas=np.zeros(10),
                     joints3d=np.zeros((24, 4)), has_smpl=True, has_3d=False, focal=800.0, img_w=640, img_h=480)
    cfg = SampleConfig(num_rois=3, crop_size=(48, 64), rotation=rotation, input="proxy")
    params = AugmentParams(flip=False, rot=15.0, sc=1.0, pn=(1.0, 1.0, 1.0))
    s = build_sample(np.zeros((480, 640, 3), np.uint8), np.array([[1.0, 0, 0], [0, 1.0, 0]]), ann, params, cfg)
    assert s["crops"].shape == (3, PROXY_CHANNELS, 64, 48)
    for m in range(3):
        for j in range(PROXY_CHANNELS):
            x, y = s["keypoints_crop"][m, 25 + j, :2]
            if 1 <= x < 47 and 1 <= y < 63:
                r, c = np.unravel_index(np.argmax(s["crops"][m, j]), (64, 48))
                assert abs(c + 0.5 - x) <= 1 and abs(r + 0.5 - y) <= 1
