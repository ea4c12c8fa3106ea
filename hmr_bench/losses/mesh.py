"""Mesh losses: pelvis-aligned vertex loss (spec §4.5, §8 item 12) and SMPL parameter loss (spec §4.6).

The GT is repeated over the M RoIs by the caller: every RoI's own mesh is supervised with the same GT.
Invalid rows never enter the computation, and an empty selection gives exactly 0 with finite (zero) gradients.
"""

from __future__ import annotations

import torch

from hmr_bench.errors import InputError, check_variant, require_shape
from hmr_bench.geometry.rotations import axis_angle_to_matrix
from hmr_bench.losses._checks import valid_rows

VERTEX_NORMS = ("l1", "l2")


def _mean(x: torch.Tensor) -> torch.Tensor:
    """Mean over all elements; exactly 0 (in the graph) for an empty selection instead of NaN."""
    return x.sum() / max(x.numel(), 1)


def vertex_loss(pred_v, gt_v, pred_pelvis, gt_pelvis, valid, norm: str = "l1") -> torch.Tensor:
    """L_vert on pelvis-aligned vertices (spec §4.5).

    pred_v, gt_v: (B, M, V, 3); pred_pelvis, gt_pelvis: (B, M, 3), each mesh's own pelvis = joint 0 of
    J_regressor_h36m applied to its vertices (`body(...).joints("h36m17")[..., 0, :]`), GT from the NEUTRAL
    model; valid: (B, M) bool or 0/1 (valid_vert, = has_smpl by default). norm: "l1" (official: mean |Δ|)
    or "l2" (mean Δ², the MSE alternative; the paper does not name the norm). Mean over (valid rows, V, 3).
    """
    check_variant(norm, VERTEX_NORMS, "vertex_loss", "norm")
    pred_v = torch.as_tensor(pred_v)
    if pred_v.ndim != 4 or pred_v.shape[-1] != 3:
        raise InputError("vertex_loss", "pred_v", found=f"shape {tuple(pred_v.shape)}", expected="shape (B, M, V, 3)")
    B, M, V, _ = pred_v.shape
    kw = {"dtype": pred_v.dtype, "device": pred_v.device}
    gt_v = torch.as_tensor(gt_v, **kw)
    require_shape(gt_v, (B, M, V, 3), "vertex_loss", "gt_v")
    pred_pelvis = torch.as_tensor(pred_pelvis, **kw)
    require_shape(pred_pelvis, (B, M, 3), "vertex_loss", "pred_pelvis")
    gt_pelvis = torch.as_tensor(gt_pelvis, **kw)
    require_shape(gt_pelvis, (B, M, 3), "vertex_loss", "gt_pelvis")
    rows = valid_rows(valid, B, M, "vertex_loss", "valid", pred_v.device)
    diff = (pred_v[rows] - pred_pelvis[rows][:, None]) - (gt_v[rows] - gt_pelvis[rows][:, None])
    return _mean(diff.abs() if norm == "l1" else diff.pow(2))


def smpl_param_loss(pred_rotmat, pred_betas, gt_pose_aa, gt_betas, has_smpl, valid_beta=None):
    """L_pose and L_beta (spec §4.6): MSE of rotation matrices against Rodrigues(GT), MSE of betas.

    pred_rotmat: (B, M, 24, 3, 3); pred_betas: (B, M, K); gt_pose_aa: (B, M, 72) axis-angle;
    gt_betas: (B, M, K); has_smpl: (B, M) selects the pose rows; valid_beta: (B, M) selects the beta rows
    (None = has_smpl). Each is a mean over the elements of its valid rows, 0 if none.
    Returns (loss_pose, loss_beta), two 0-d tensors.
    """
    pred_rotmat = torch.as_tensor(pred_rotmat)
    if pred_rotmat.ndim != 5:
        raise InputError("smpl_param_loss", "pred_rotmat", found=f"shape {tuple(pred_rotmat.shape)}",
                         expected="shape (B, M, 24, 3, 3)")
    B, M = pred_rotmat.shape[:2]
    kw = {"dtype": pred_rotmat.dtype, "device": pred_rotmat.device}
    require_shape(pred_rotmat, (B, M, 24, 3, 3), "smpl_param_loss", "pred_rotmat")
    gt_pose_aa = torch.as_tensor(gt_pose_aa, **kw)
    require_shape(gt_pose_aa, (B, M, 72), "smpl_param_loss", "gt_pose_aa", "axis-angle")
    pred_betas = torch.as_tensor(pred_betas, **kw)
    require_shape(pred_betas, (B, M, None), "smpl_param_loss", "pred_betas")
    gt_betas = torch.as_tensor(gt_betas, **kw)
    require_shape(gt_betas, tuple(pred_betas.shape), "smpl_param_loss", "gt_betas", "as pred_betas")
    pose_rows = valid_rows(has_smpl, B, M, "smpl_param_loss", "has_smpl", pred_rotmat.device)
    beta_rows = pose_rows if valid_beta is None else valid_rows(valid_beta, B, M, "smpl_param_loss",
                                                                 "valid_beta", pred_rotmat.device)
    gt_rotmat = axis_angle_to_matrix(gt_pose_aa[pose_rows].reshape(-1, 24, 3))
    loss_pose = _mean((pred_rotmat[pose_rows] - gt_rotmat).pow(2))
    loss_beta = _mean((pred_betas[beta_rows] - gt_betas[beta_rows]).pow(2))
    return loss_pose, loss_beta
