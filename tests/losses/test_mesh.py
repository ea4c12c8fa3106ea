"""Vertex loss (spec §4.5) and SMPL parameter loss (spec §4.6) against hand computations."""

import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from hmr_bench.errors import InputError
from hmr_bench.losses.mesh import smpl_param_loss, vertex_loss

V = 10


def mesh_case(seed=0):
    rng = np.random.default_rng(seed)
    gt_v = rng.normal(0, 0.5, (2, 2, V, 3))
    gt_pelvis = rng.normal(0, 0.5, (2, 2, 3))
    shift = rng.normal(0, 1, (2, 2, 3))  # each mesh has its own translation; its pelvis moves with it
    pred_v = gt_v + shift[:, :, None]
    pred_pelvis = gt_pelvis + shift
    pred_v[0, 1, 4, 2] += 0.3  # the only error in a valid row
    pred_v[1, 0] += 100.0  # invalid row
    valid = torch.tensor([[1, 1], [0, 1]])
    t = lambda x: torch.tensor(x, dtype=torch.float64)  # noqa: E731
    return t(pred_v), t(gt_v), t(pred_pelvis), t(gt_pelvis), valid


def test_vertex_loss_hand_values():
    pred_v, gt_v, pp, gp, valid = mesh_case()
    n = 3 * V * 3  # 3 valid rows
    assert vertex_loss(pred_v, gt_v, pp, gp, valid).item() == pytest.approx(0.3 / n, rel=1e-12)
    assert vertex_loss(pred_v, gt_v, pp, gp, valid, norm="l2").item() == pytest.approx(0.09 / n, rel=1e-12)


def test_vertex_loss_uses_each_meshs_own_pelvis():
    pred_v, gt_v, pp, gp, valid = mesh_case()
    pp = pp.clone()
    pp[1, 1] += torch.tensor([0.0, 0.5, 0.0])  # a wrong predicted pelvis shifts all V vertices of that row by 0.5
    n = 3 * V * 3
    assert vertex_loss(pred_v, gt_v, pp, gp, valid).item() == pytest.approx((0.3 + 0.5 * V) / n, rel=1e-12)


def test_vertex_loss_empty_mask_and_errors():
    pred_v, gt_v, pp, gp, _ = mesh_case()
    pred_v.requires_grad_(True)
    out = vertex_loss(pred_v, gt_v, pp, gp, torch.zeros(2, 2, dtype=torch.bool))
    assert out.item() == 0.0
    out.backward()
    assert torch.equal(pred_v.grad, torch.zeros_like(pred_v))
    with pytest.raises(InputError, match="l1.*l2"):
        vertex_loss(pred_v, gt_v, pp, gp, torch.ones(2, 2), norm="huber")
    with pytest.raises(InputError, match="gt_pelvis"):
        vertex_loss(pred_v, gt_v, pp, gp[:, :1], torch.ones(2, 2))


def test_smpl_param_loss_hand_values():
    rng = np.random.default_rng(1)
    gt_aa = rng.normal(0, 0.6, (2, 3, 72))
    gt_R = Rotation.from_rotvec(gt_aa.reshape(-1, 3)).as_matrix().reshape(2, 3, 24, 3, 3)
    theta = 0.7
    Rz = Rotation.from_rotvec([0, 0, theta]).as_matrix()
    pred_R = gt_R.copy()
    pred_R[0, 1, 7] = Rz @ gt_R[0, 1, 7]  # ‖(Rz − I)R‖²_F = ‖Rz − I‖²_F = 4(1 − cos θ)
    pred_R[1, 2] = np.eye(3)  # invalid pose row
    gt_b = rng.normal(0, 1, (2, 3, 10))
    pred_b = gt_b.copy()
    pred_b[0, 0, 3] += 0.5
    pred_b[1, 1, 0] += 2.0  # a row with pose but without valid betas
    has_smpl = torch.tensor([[1, 1, 1], [1, 1, 0]])
    valid_beta = torch.tensor([[1, 1, 0], [1, 0, 0]])
    t = lambda x: torch.tensor(x, dtype=torch.float64)  # noqa: E731
    pose, beta = smpl_param_loss(t(pred_R), t(pred_b), t(gt_aa), t(gt_b), has_smpl, valid_beta)
    assert pose.item() == pytest.approx(4 * (1 - math.cos(theta)) / (5 * 24 * 9), rel=1e-9)
    assert beta.item() == pytest.approx(0.25 / (3 * 10), rel=1e-12)
    # valid_beta = None: the betas use has_smpl (5 rows, now including the +2.0 one)
    _, beta_default = smpl_param_loss(t(pred_R), t(pred_b), t(gt_aa), t(gt_b), has_smpl)
    assert beta_default.item() == pytest.approx((0.25 + 4.0) / (5 * 10), rel=1e-12)


def test_smpl_param_loss_empty_mask_is_zero_with_finite_gradients():
    rot = torch.eye(3, dtype=torch.float64).expand(2, 2, 24, 3, 3).clone().requires_grad_(True)
    betas = torch.zeros(2, 2, 10, dtype=torch.float64, requires_grad=True)
    pose, beta = smpl_param_loss(rot, betas, torch.ones(2, 2, 72), torch.ones(2, 2, 10), torch.zeros(2, 2))
    assert pose.item() == 0.0 and beta.item() == 0.0
    (pose + beta).backward()
    assert torch.equal(rot.grad, torch.zeros_like(rot)) and torch.equal(betas.grad, torch.zeros_like(betas))


def test_smpl_param_loss_shape_errors():
    rot = torch.zeros(2, 2, 24, 3, 3)
    with pytest.raises(InputError, match="gt_pose_aa"):
        smpl_param_loss(rot, torch.zeros(2, 2, 10), torch.zeros(2, 2, 69), torch.zeros(2, 2, 10), torch.ones(2, 2))
    with pytest.raises(InputError, match="gt_betas"):
        smpl_param_loss(rot, torch.zeros(2, 2, 10), torch.zeros(2, 2, 72), torch.zeros(2, 10), torch.ones(2, 2))
