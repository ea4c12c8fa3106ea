"""Linear blend skinning: smplx's maths (`smplx.lbs.lbs`), built from smplx's own pieces, except that a model
without pose correctives (the free model: ``posedirs`` all zero) skips the (N, 207) × (207, 3V) product of
zeros, forward and backward. The result is unchanged.

Checked against `smplx.SMPL.forward` in the tests (with and without pose correctives).
"""

from __future__ import annotations

import torch
from smplx.lbs import batch_rigid_transform, batch_rodrigues, blend_shapes, vertices2joints


def skin(betas: torch.Tensor, rotmat: torch.Tensor, smpl, has_posedirs: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """betas: (N, K); rotmat: (N, 24, 3, 3); smpl: a `smplx.SMPL` (its buffers). Returns vertices (N, V, 3) and
    the 24 posed joints (N, 24, 3), root-relative (no translation), exactly as smplx's lbs."""
    n = rotmat.shape[0]
    v_shaped = smpl.v_template + blend_shapes(betas, smpl.shapedirs)
    joints = vertices2joints(smpl.J_regressor, v_shaped)
    if has_posedirs:
        ident = torch.eye(3, dtype=rotmat.dtype, device=rotmat.device)
        pose_feature = (rotmat[:, 1:] - ident).reshape(n, -1)
        v_shaped = v_shaped + torch.matmul(pose_feature, smpl.posedirs).view(n, -1, 3)
    posed_joints, A = batch_rigid_transform(rotmat, joints, smpl.parents, dtype=rotmat.dtype)
    T = torch.matmul(smpl.lbs_weights, A.view(n, -1, 16)).view(n, -1, 4, 4)  # smplx's skinning, as is
    ones = torch.ones(n, v_shaped.shape[1], 1, dtype=v_shaped.dtype, device=v_shaped.device)
    verts = torch.matmul(T, torch.cat([v_shaped, ones], dim=2).unsqueeze(-1))[:, :, :3, 0]
    return verts, posed_joints


def rotmats_from_axis_angle(pose: torch.Tensor) -> torch.Tensor:
    """(N, 72) axis-angle → (N, 24, 3, 3) with smplx's Rodrigues (the same numbers smplx uses)."""
    return batch_rodrigues(pose.reshape(-1, 3)).view(pose.shape[0], -1, 3, 3)
