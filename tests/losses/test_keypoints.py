"""2D reprojection loss (spec §2.5, §4.3) and 3D joint loss (spec §4.4) against hand computations."""

import numpy as np
import pytest
import torch

from hmr_bench.errors import InputError
from hmr_bench.geometry.crops import crop_transform
from hmr_bench.losses.keypoints import keypoint_3d_loss, reprojection_loss_2d

W, H = 1000.0, 800.0
F = float(np.hypot(W, H))
WC, HC = 192, 256


def scene(seed=0, B=2, M=3, J=49, b=None):
    """Random root-relative joints, crop cameras and boxes, and the GT made by a hand-written projection."""
    rng = np.random.default_rng(seed)
    joints = rng.normal(0, 0.4, (B, M, J, 3))
    joints[:, :, 0] = 0
    cam = np.stack([rng.uniform(0.7, 1.1, (B, M)), rng.uniform(-0.3, 0.3, (B, M)),
                    rng.uniform(-0.3, 0.3, (B, M))], -1)
    center = np.stack([rng.uniform(300, 700, (B, M)), rng.uniform(250, 550, (B, M))], -1)
    b = rng.uniform(250, 500, (B, M)) if b is None else np.full((B, M), b)
    crop_trans = crop_transform(center, b, (WC, HC))  # (B, M, 2, 3), non-rotated full → crop
    gt = np.zeros((B, M, J, 3))
    for i in range(B):
        for m in range(M):
            s, tx, ty = cam[i, m]
            bs = b[i, m] * s
            t = np.array([tx + 2 * (center[i, m, 0] - W / 2) / bs, ty + 2 * (center[i, m, 1] - H / 2) / bs, 2 * F / bs])
            for j in range(J):
                X, Y, Z = joints[i, m, j] + t
                p = np.array([F * X / Z + W / 2, F * Y / Z + H / 2, 1.0])
                gt[i, m, j, :2] = crop_trans[i, m] @ p
    gt[..., 2] = rng.uniform(0.2, 1.0, (B, M, J))
    return {k: torch.tensor(v, dtype=torch.float64) for k, v in
            dict(joints3d=joints, cam=cam, center=center, b=b, crop_trans=crop_trans, gt_kp_crop=gt).items()}


def loss(s, **kw):
    return reprojection_loss_2d(s["joints3d"], s["cam"], s["center"], s["b"], W, H, F, s["crop_trans"],
                                s["gt_kp_crop"], **kw)


@pytest.mark.parametrize("kw", [{}, {"frame": "full"}, {"keypoint_weighting": "spin"},
                                {"keypoint_weighting": "spin", "openpose_weight": 1.0, "frame": "full"}])
def test_zero_for_gt_projected_through_same_camera_and_crop(kw):
    s = scene()
    assert loss(s, **kw).item() < 1e-20
    s["gt_kp_crop"][1, 2, 30, 0] += 1.0
    assert loss(s, **kw).item() > 1e-8


def test_known_offsets_hand_values():
    s = scene(seed=1, B=1, M=2, b=400.0)
    s["gt_kp_crop"][0, 1, 30, :] += torch.tensor([9.6, 0.0, 0.0])  # x: 2·9.6/192 = 0.1
    s["gt_kp_crop"][0, 1, 30, 2] = 0.5
    s["gt_kp_crop"][0, 1, 40, :] += torch.tensor([0.0, 12.8, 0.0])  # y: 2·12.8/256 = 0.1
    s["gt_kp_crop"][0, 1, 40, 2] = 1.0
    n = 1 * 2 * 49 * 2
    assert loss(s).item() == pytest.approx((0.5 * 0.1**2 + 1.0 * 0.1**2) / n, rel=1e-7)
    # full frame: a crop pixel is b/H_c = 400/256 full pixels; x' uses W, y' uses H
    dx_full, dy_full = 9.6 * 400 / 256, 12.8 * 400 / 256  # 15 px, 20 px
    expected = (0.5 * (2 * dx_full / W) ** 2 + 1.0 * (2 * dy_full / H) ** 2) / n
    assert loss(s, frame="full").item() == pytest.approx(expected, rel=1e-7)


def test_openpose_switch_changes_only_joints_0_to_24():
    s = scene(seed=2, B=1, M=1)
    s["gt_kp_crop"][..., 2] = 1.0
    s["gt_kp_crop"][0, 0, 3, 0] += 9.6  # OpenPose joint: normalised error 0.1
    s["gt_kp_crop"][0, 0, 30, 0] += 19.2  # GT joint: normalised error 0.2
    n = 49 * 2
    assert loss(s).item() == pytest.approx((0.01 + 0.04) / n, rel=1e-9)  # official: raw confidences
    assert loss(s, keypoint_weighting="spin").item() == pytest.approx(0.04 / n, rel=1e-9)  # SPIN 0 / 1
    spin = loss(s, keypoint_weighting="spin", openpose_weight=0.3, gt_weight=2.0).item()
    assert spin == pytest.approx((0.3 * 0.01 + 2.0 * 0.04) / n, rel=1e-9)


def test_weights_with_official_and_spin_without_49_joints_are_errors():
    s = scene(seed=3, B=1, M=1)
    with pytest.raises(InputError, match="spin"):
        loss(s, openpose_weight=0.0)
    s14 = scene(seed=3, B=1, M=1, J=14)
    with pytest.raises(InputError, match="49"):
        loss(s14, keypoint_weighting="spin")
    with pytest.raises(InputError, match="crop.*full"):
        loss(s, frame="image")
    with pytest.raises(InputError, match="crop_trans"):
        reprojection_loss_2d(s["joints3d"], s["cam"], s["center"], s["b"], W, H, F, s["crop_trans"][:, :, :1],
                             s["gt_kp_crop"])


def test_gradients_reach_every_roi_camera_and_joints():
    s = scene(seed=4)
    s["gt_kp_crop"][..., :2] += 3.0
    s["cam"].requires_grad_(True)
    s["joints3d"].requires_grad_(True)
    loss(s).backward()
    assert (s["cam"].grad.abs().sum(-1) > 0).all()
    assert torch.isfinite(s["joints3d"].grad).all() and s["joints3d"].grad.abs().sum() > 0


# ------------------------------------------------------------------ 3D joints


def test_keypoint_3d_hand_values():
    rng = np.random.default_rng(5)
    gt = np.zeros((2, 2, 24, 4))
    gt[..., :3] = rng.normal(0, 0.3, (2, 2, 24, 3))
    gt[..., 3] = rng.uniform(0.2, 1, (2, 2, 24))
    gt[1, 1, :, 3] = 1.0
    pred = gt[..., :3] + np.array([1.0, 2.0, 3.0])  # a global translation is removed by the pelvis centring
    pred[0, 0, 5, 0] += 0.1  # joint 5: Δ = 0.1 in x, conf c5
    pred[1, 1, 2, 2] += 0.2  # hip joint 2: pelvis moves 0.1 in z → joint 2 Δ = +0.1, every other joint −0.1
    pred[0, 1] = np.nan  # invalid rows never enter
    has = torch.tensor([[1, 0], [0, 1]])
    out = keypoint_3d_loss(torch.tensor(pred), torch.tensor(gt), has)
    expected = (gt[0, 0, 5, 3] * 0.01 + 24 * 0.01) / (2 * 24 * 3)
    assert out.item() == pytest.approx(expected, rel=1e-9)


def test_keypoint_3d_empty_mask_is_exact_zero_with_finite_gradient():
    pred = torch.randn(2, 3, 24, 3, dtype=torch.float64, requires_grad=True)
    out = keypoint_3d_loss(pred, torch.randn(2, 3, 24, 4, dtype=torch.float64), torch.zeros(2, 3, dtype=torch.bool))
    assert out.item() == 0.0
    out.backward()
    assert torch.equal(pred.grad, torch.zeros_like(pred))


def test_keypoint_3d_shape_errors():
    with pytest.raises(InputError, match="gt"):
        keypoint_3d_loss(torch.zeros(2, 3, 24, 3), torch.zeros(2, 3, 24, 3), torch.ones(2, 3))
    with pytest.raises(InputError, match="has_3d"):
        keypoint_3d_loss(torch.zeros(2, 3, 24, 3), torch.zeros(2, 3, 24, 4), torch.ones(2))


def test_weak_perspective_frame_is_hmr_crop_projection():
    """HMR's 2D loss: s·(X + t) in box units; one box unit is H_c/2 crop pixels on both axes (hand computed)."""
    import torch

    from hmr_bench.losses.keypoints import reprojection_loss_2d

    joints = torch.tensor([[[[0.1, -0.2, 0.3]]]], dtype=torch.float64)  # (1, 1, 1, 3)
    cam = torch.tensor([[[0.8, 0.05, 0.1]]], dtype=torch.float64)
    u, v = 0.8 * (0.1 + 0.05), 0.8 * (-0.2 + 0.1)  # box units
    x, y = 96 + u * 128, 128 + v * 128  # crop pixels of a 192 x 256 crop
    gt = torch.tensor([[[[x + 4.0, y, 1.0]]]], dtype=torch.float64)  # 4 px off in x
    args = dict(center=torch.zeros(1, 1, 2), b=torch.ones(1, 1), img_w=100.0, img_h=100.0, focal=100.0,
                crop_trans=torch.zeros(1, 1, 2, 3), gt_kp_crop=gt, crop_size=(192, 256), frame="weak-perspective")
    loss = reprojection_loss_2d(joints, cam, **args)
    assert abs(float(loss) - (2 * 4.0 / 192) ** 2 / 2) < 1e-12  # mean over x and y
