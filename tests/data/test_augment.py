"""augment.py: parameter distributions, flips, the sign of the rotation (2D/3D consistency), pose rotation."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from hmr_bench.body.joint_sets import SMPL24_FLIP, SPIN49_FLIP
from hmr_bench.body.model import BodyModel
from hmr_bench.data.augment import (
    NO_AUGMENT,
    AugmentConfig,
    AugmentParams,
    flip_keypoints,
    flip_points3d,
    flip_pose,
    rotate_points3d,
    rotate_pose,
    sample_augment,
)
from hmr_bench.data.dataset import SpinDataset
from tests.data.fixtures import project, write_spin_fixture
from tests.toy_smpl import toy_smpl_arrays


def test_sample_augment_distribution():
    rng = np.random.default_rng(0)
    ps = [sample_augment(rng) for _ in range(4000)]
    flips = np.mean([p.flip for p in ps])
    rots = np.array([p.rot for p in ps])
    scs = np.array([p.sc for p in ps])
    pns = np.array([p.pn for p in ps])
    assert abs(flips - 0.5) < 0.03
    assert abs(np.mean(rots == 0) - 0.6) < 0.03  # N(0,1)·30 is never exactly 0
    assert rots.min() >= -60 and rots.max() <= 60 and np.any(np.abs(rots) == 60)  # clipped at 2σ
    nz = rots[rots != 0]
    assert abs(np.mean(np.abs(nz) == 60) - 0.0455) < 0.02  # P(|N| > 2) of the non-zero ones
    assert scs.min() == 0.75 and scs.max() == 1.25 and abs(np.mean(scs == 1.25) - 0.1587) < 0.02  # P(N > 1)
    assert pns.min() >= 0.6 and pns.max() <= 1.4 and abs(pns.mean() - 1.0) < 0.01


def test_sample_augment_is_seeded_and_follows_spin_draw_order():
    p = sample_augment(np.random.default_rng(5))
    assert p == sample_augment(np.random.default_rng(5))
    r = np.random.default_rng(5)  # SPIN augm_params order: flip, pn, rot, rot → 0, sc
    flip = r.random() < 0.5
    pn = r.uniform(0.6, 1.4, 3)
    rot = float(np.clip(r.standard_normal() * 30, -60, 60))
    rot = 0.0 if r.random() < 0.6 else rot
    sc = float(np.clip(r.standard_normal() * 0.25 + 1, 0.75, 1.25))
    assert (p.flip, p.rot, p.sc) == (flip, rot, sc) and np.allclose(p.pn, pn)


def test_no_augment_config():
    p = sample_augment(np.random.default_rng(1), AugmentConfig(flip_prob=0, rot_factor=0, scale_factor=0,
                                                               noise_factor=0))
    assert p == NO_AUGMENT


def test_flip_keypoints_by_hand():
    kp = np.zeros((49, 3))
    kp[2] = (10.0, 20.0, 1.0)  # OP RShoulder
    out = flip_keypoints(kp, 160.0)
    np.testing.assert_allclose(out[5], (150.0, 20.0, 1.0))  # → OP LShoulder, x ← W − x
    assert SPIN49_FLIP[5] == 2


def test_flips_twice_are_identities():
    rng = np.random.default_rng(0)
    kp = rng.uniform(0, 100, (49, 3))
    np.testing.assert_allclose(flip_keypoints(flip_keypoints(kp, 160.0), 160.0), kp)
    pose = rng.normal(0, 0.5, 72)
    np.testing.assert_allclose(flip_pose(flip_pose(pose)), pose)
    j = rng.normal(0, 1, (24, 4))
    perm = [5, 4, 3, 2, 1, 0, 11, 10, 9, 8, 7, 6, 12, 13, 14, 15, 16, 17, 18, 19, 21, 20, 23, 22]
    np.testing.assert_allclose(flip_points3d(flip_points3d(j, perm), perm), j)
    np.testing.assert_allclose(flip_points3d(j, perm)[0], j[5] * [-1, 1, 1, 1])


def test_flip_pose_by_hand():
    pose = np.zeros(72)
    pose[3 * 1:3 * 2] = (0.1, 0.2, 0.3)  # left hip
    out = flip_pose(pose)
    np.testing.assert_allclose(out[3 * 2:3 * 3], (0.1, -0.2, -0.3))  # → right hip, y and z negated
    assert SMPL24_FLIP[2] == 1


def test_rotate_points3d_sign():
    # rot = +90°: R_z(−90°) sends +x (image right) to −y (image up), as crop_transform turns the crop content
    np.testing.assert_allclose(rotate_points3d(np.array([[1.0, 0.0, 5.0, 0.7]]), 90.0), [[0, -1, 5, 0.7]],
                               atol=1e-12)


def test_rotate_pose_global_orientation_only():
    rng = np.random.default_rng(3)
    pose = rng.normal(0, 0.4, 72)
    out = rotate_pose(pose, 35.0)
    np.testing.assert_allclose(out[3:], pose[3:])
    want = Rotation.from_euler("z", -35.0, degrees=True) * Rotation.from_rotvec(pose[:3])
    np.testing.assert_allclose(Rotation.from_rotvec(out[:3]).as_matrix(), want.as_matrix(), atol=1e-10)


@pytest.fixture(scope="module")
def toy_body(tmp_path_factory):
    return BodyModel(toy_smpl_arrays(), "toy", dtype=torch.float64)


def _root_relative_joints(body, pose):
    j = body(torch.zeros(1, 10, dtype=torch.float64), axis_angle=torch.as_tensor(pose)[None]).joints("smpl24")[0]
    return (j - j[0]).numpy()


def test_rotated_pose_rotates_the_body_about_the_camera_axis(toy_body):
    pose = np.random.default_rng(4).normal(0, 0.3, 72)
    j = _root_relative_joints(toy_body, pose)
    jr = _root_relative_joints(toy_body, rotate_pose(pose, -25.0))
    np.testing.assert_allclose(jr, rotate_points3d(j, -25.0), atol=1e-9)


def test_flipped_pose_mirrors_the_body(toy_body):
    pose = np.random.default_rng(5).normal(0, 0.3, 72)
    j = _root_relative_joints(toy_body, pose)
    jf = _root_relative_joints(toy_body, flip_pose(pose))
    # the toy template is symmetric up to ~2 mm of vertex noise in its joint regressor
    np.testing.assert_allclose(jf, flip_points3d(j, SMPL24_FLIP), atol=0.02)


@pytest.mark.parametrize("rotation", ["official", "exact"])
@pytest.mark.parametrize("params", [AugmentParams(True, 30.0, 1.1, (1.0, 1.0, 1.0)),
                                    AugmentParams(False, -47.0, 0.8, (1.0, 1.0, 1.0)),
                                    AugmentParams(True, 0.0, 1.2, (1.0, 1.0, 1.0))])
def test_augmented_3d_joints_project_onto_augmented_2d_keypoints(tmp_path, rotation, params):
    """The rotated crop about a centre c is a pinhole image of R_z(−rot)·X with principal point
    pp' = c + R(−rot)(pp − c); its non-rotated crop transform is q = (H_c/b)(p − c_m) + (W_c/2, H_c/2)."""
    fx = write_spin_fixture(tmp_path, n=2)
    wc, hc = 48, 64
    ds = SpinDataset(fx.npz, fx.img_root, crop_size=(wc, hc), rotation=rotation)
    for i in range(2):
        s = ds.sample(i, params)
        x = s["joints3d"][:, :3].astype(np.float64)
        kp = s["keypoints_crop"][:, 25:].astype(np.float64)
        a = np.deg2rad(params.rot)
        r = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])  # R(−rot), x right / y down
        pp = np.array([80.0, 60.0])
        for m in range(5):
            c = s["center"][0] if rotation == "exact" else s["center"][m]
            p = project(x, fx.focal) - pp + (c + r @ (pp - c))
            q = hc / s["b"][m] * (p - s["center"][m]) + np.array([wc / 2, hc / 2])
            np.testing.assert_allclose(q, kp[m, :, :2], atol=2e-3)
        # the full-image keypoints are the flipped (not rotated) projections
        full = project(flip_points3d(fx.joints_cam[i], range(24)) if params.flip else fx.joints_cam[i], fx.focal)
        perm = [5, 4, 3, 2, 1, 0, 11, 10, 9, 8, 7, 6, 12, 13, 14, 15, 16, 17, 18, 19, 21, 20, 23, 22]
        np.testing.assert_allclose(s["keypoints_full"][25:, :2], full[perm] if params.flip else full, atol=2e-3)
