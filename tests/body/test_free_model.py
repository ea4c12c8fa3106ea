"""The shipped free body model: loads through smplx, plausible bodies, exact bookkeeping."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest
import smplx
import torch

from hmr_bench.body import load_body_model
from hmr_bench.body.joint_sets import SMPL24_FLIP
from hmr_bench.body.model import FREE_MODEL_FILE
from hmr_bench.body.model_file import read_model_file


@pytest.fixture(scope="module")
def body():
    return load_body_model("free")


@pytest.fixture(scope="module")
def arrays():
    return read_model_file(FREE_MODEL_FILE)


def test_loads_through_smplx_with_every_joint_set(body):
    assert isinstance(body.smpl, smplx.SMPL)
    assert 6000 <= body.num_vertices <= 8000 and body.num_betas == 10
    out = body(torch.zeros(2, 10), axis_angle=torch.zeros(2, 72))
    sizes = {name: tuple(out.joints(name).shape) for name in body.joint_set_names}
    assert sizes == {"smpl24": (2, 24, 3), "coco17": (2, 17, 3), "h36m17": (2, 17, 3), "lsp14": (2, 14, 3),
                     "spin49": (2, 49, 3)}


def test_checksum_equals_the_model_card():
    card = (FREE_MODEL_FILE.parent / "MODEL_CARD.md").read_text()
    m = re.search(r"sha256:\s*`?([0-9a-f]{64})", card)
    assert m, "MODEL_CARD.md has no 'sha256: <hex>' line"
    assert hashlib.sha256(FREE_MODEL_FILE.read_bytes()).hexdigest() == m.group(1)


@pytest.mark.parametrize("key", ["J_regressor", "J_regressor_h36m", "J_regressor_extra", "J_regressor_coco"])
def test_regressor_rows_sum_to_one(arrays, key):
    np.testing.assert_allclose(arrays[key].sum(1), 1.0, atol=1e-4)


def test_adult_t_pose_height_for_betas_within_two_sigma(body):
    rng = np.random.default_rng(0)
    corners = np.concatenate([np.eye(10) * 2, -np.eye(10) * 2])  # ±2 on each component alone
    uniform = rng.uniform(-2, 2, size=(32, 10))
    betas = torch.tensor(np.concatenate([np.zeros((1, 10)), corners, uniform]), dtype=torch.float32)
    v = body(betas, axis_angle=torch.zeros(len(betas), 72)).vertices
    height = (v[..., 1].amax(1) - v[..., 1].amin(1)).numpy()
    assert height.min() >= 1.4 and height.max() <= 2.0, (height.min(), height.max())
    assert 1.55 <= height[0] <= 1.85  # the mean adult


def mirror_pose(pose: torch.Tensor) -> torch.Tensor:
    """Mirror an SMPL pose in the body's sagittal plane (x -> -x): swap left/right joints, negate y and z."""
    p = pose.reshape(-1, 24, 3)[:, list(SMPL24_FLIP)]
    return (p * torch.tensor([1.0, -1.0, -1.0])).reshape(-1, 72)


def test_mirrored_pose_gives_mirrored_joints(body):
    g = torch.Generator().manual_seed(0)
    pose = 0.4 * torch.randn(4, 72, generator=g)
    betas = torch.zeros(4, 10)
    joints = body(betas, axis_angle=pose).joints("smpl24")
    mirrored = body(betas, axis_angle=mirror_pose(pose)).joints("smpl24")
    expected = joints[:, list(SMPL24_FLIP)] * torch.tensor([-1.0, 1.0, 1.0])
    err_mm = 1000 * (mirrored - expected).norm(dim=-1)
    assert err_mm.max() < 2.0, err_mm.max()


def test_mean_parameters(arrays):
    six = arrays["mean_pose_6d"].reshape(24, 3, 2)  # SPIN: 3x2 row-major, columns = R[:, 0], R[:, 1]
    c0, c1 = six[..., 0], six[..., 1]
    np.testing.assert_allclose(np.linalg.norm(c0, axis=-1), 1, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(c1, axis=-1), 1, atol=1e-5)
    np.testing.assert_allclose((c0 * c1).sum(-1), 0, atol=1e-5)
    # global orientation: upright and facing a camera with y down, z forward = rotation by pi about x
    np.testing.assert_allclose(c0[0], [1, 0, 0], atol=1e-6)
    np.testing.assert_allclose(c1[0], [0, -1, 0], atol=1e-6)
    np.testing.assert_allclose(arrays["mean_shape"], 0, atol=1e-6)
    s, tx, ty = arrays["mean_cam"]
    assert 0.6 < s < 1.3 and tx == 0 and ty == 0


def test_fast_skinning_equals_smplx_forward(body):
    """hmr-bench's skinning (no zero pose correctives, elementwise transforms) = smplx.SMPL.forward."""
    g = torch.Generator().manual_seed(3)
    betas, pose = torch.randn(4, 10, generator=g), 0.5 * torch.randn(4, 72, generator=g)
    transl = torch.randn(4, 3, generator=g)
    ours = body(betas, axis_angle=pose, transl=transl)
    ref = body.smpl(betas=betas, global_orient=pose[:, :3], body_pose=pose[:, 3:], transl=transl)
    torch.testing.assert_close(ours.vertices, ref.vertices, atol=2e-6, rtol=1e-5)
    torch.testing.assert_close(ours.smplx_joints, ref.joints, atol=2e-6, rtol=1e-5)
