"""Rotation conversions: axis-angle, rotation matrices, SPIN's 6D representation (spec §3.3), pose flip.

All torch, batched over arbitrary leading dims, float32 or float64, differentiable (including at the
identity). Matrices act on column vectors: x' = R x.
"""

from __future__ import annotations

import numpy as np
import torch

from hmr_bench.errors import InputError, require_last_dims

_SMALL = 1e-6  # below this squared angle (or squared quaternion vector norm) Taylor series are used



def _float(x) -> torch.Tensor:
    t = torch.as_tensor(x)
    return t if t.is_floating_point() else t.to(torch.get_default_dtype())


def axis_angle_to_matrix(aa) -> torch.Tensor:
    """Rodrigues' formula. aa: (..., 3) axis·angle in radians. Returns (..., 3, 3).

    R = I + sinc(θ)·K + ½·sinc²(θ/2)·K², K = [aa]×; exact and with finite gradients at θ = 0.
    """
    aa = _float(aa)
    require_last_dims(aa, (3,), "axis_angle_to_matrix", "aa", "as axis·angle")
    theta2 = (aa * aa).sum(-1)
    small = theta2 < _SMALL
    theta = torch.sqrt(torch.where(small, torch.ones_like(theta2), theta2))
    # sin θ/θ and (1 − cos θ)/θ² = ½ (sin(θ/2)/(θ/2))², with Taylor series near 0 (where θ is a dummy 1)
    a = torch.where(small, 1 - theta2 / 6 + theta2 * theta2 / 120, torch.sin(theta) / theta)
    half = torch.where(small, 1 - theta2 / 24 + theta2 * theta2 / 1920, torch.sin(theta / 2) / (theta / 2))
    b = 0.5 * half * half
    x, y, z = aa.unbind(-1)
    zero = torch.zeros_like(x)
    k = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(aa.shape[:-1] + (3, 3))
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device)
    return eye + a[..., None, None] * k + b[..., None, None] * (k @ k)


def matrix_to_quaternion(R) -> torch.Tensor:
    """Rotation matrix → unit quaternion (w, x, y, z) with w ≥ 0 (Shepperd's method, robust near π).

    R: (..., 3, 3). Returns (..., 4).
    """
    R = _float(R)
    require_last_dims(R, (3, 3), "matrix_to_quaternion", "R", "rotation matrix")
    m00, m01, m02, m10, m11, m12, m20, m21, m22 = R.reshape(R.shape[:-2] + (9,)).unbind(-1)
    # 4·q_i² for i = w, x, y, z; the largest is far from 0 and gives the best-conditioned candidate
    four_sq = torch.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22,
                           1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1)
    # row i = 4·q_i·q (up to sign of q_i)
    rows = torch.stack([
        torch.stack([four_sq[..., 0], m21 - m12, m02 - m20, m10 - m01], -1),
        torch.stack([m21 - m12, four_sq[..., 1], m10 + m01, m02 + m20], -1),
        torch.stack([m02 - m20, m10 + m01, four_sq[..., 2], m12 + m21], -1),
        torch.stack([m10 - m01, m20 + m02, m21 + m12, four_sq[..., 3]], -1)], -2)
    best = four_sq.argmax(-1)
    idx = best[..., None, None].expand(best.shape + (1, 4))
    row = torch.gather(rows, -2, idx).squeeze(-2)
    q = torch.nn.functional.normalize(row, dim=-1)  # row / (4|q_i|), renormalised
    return torch.where(q[..., :1] < 0, -q, q)


def matrix_to_axis_angle(R) -> torch.Tensor:
    """Rotation matrix → axis·angle with angle in [0, π]. R: (..., 3, 3). Returns (..., 3).

    Goes through `matrix_to_quaternion`, then angle = 2·atan2(|v|, w); robust near 0 and near π (at exactly π
    either of the two equivalent vectors ±π·axis may be returned).
    """
    q = matrix_to_quaternion(R)
    w, v = q[..., 0], q[..., 1:]
    n2 = (v * v).sum(-1)
    small = n2 < _SMALL
    n = torch.sqrt(torch.where(small, torch.ones_like(n2), n2))
    # angle/|v| = 2·atan2(n, w)/n; near n = 0 (so w ≈ 1): 2/w − (2/3)·n²/w³
    factor = torch.where(small, 2 / w - (2 / 3) * n2 / w ** 3, 2 * torch.atan2(n, w) / n)
    return v * factor[..., None]


def rot6d_to_matrix(x) -> torch.Tensor:
    """SPIN/Zhou 6D → rotation matrix (spec §3.3, `rot6d_to_rotmat`).

    x: (..., 6), read as a row-major 3×2 matrix: a1 = x[(0, 2, 4)], a2 = x[(1, 3, 5)]. Gram–Schmidt gives
    b1, b2; b3 = b1 × b2. Returns (..., 3, 3) = [b1 b2 b3] as columns.
    """
    x = _float(x)
    require_last_dims(x, (6,), "rot6d_to_matrix", "x", "6D rotation (row-major 3×2)")
    m = x.reshape(x.shape[:-1] + (3, 2))
    a1, a2 = m[..., 0], m[..., 1]
    b1 = torch.nn.functional.normalize(a1, dim=-1)
    b2 = torch.nn.functional.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


def matrix_to_rot6d(R) -> torch.Tensor:
    """Rotation matrix → SPIN 6D: the first two columns, flattened row-major.

    R: (..., 3, 3). Returns (..., 6). Inverse of `rot6d_to_matrix` on rotation matrices.
    """
    R = _float(R)
    require_last_dims(R, (3, 3), "matrix_to_rot6d", "R", "rotation matrix")
    return R[..., :, :2].reshape(R.shape[:-2] + (6,))


def rotation_z(angle_rad) -> torch.Tensor:
    """Rotation about the z axis (camera optical axis). angle_rad: float or (...). Returns (..., 3, 3).

    [[cos, −sin, 0], [sin, cos, 0], [0, 0, 1]].
    """
    a = _float(angle_rad)
    c, s = torch.cos(a), torch.sin(a)
    one, zero = torch.ones_like(a), torch.zeros_like(a)
    return torch.stack([c, -s, zero, s, c, zero, zero, zero, one], -1).reshape(a.shape + (3, 3))


def flip_axis_angle_pose(pose, perm):
    """Left–right flip of an SMPL axis-angle pose (SPIN `flip_pose`): permute joints, negate y and z.

    pose: (..., 72) numpy or torch; perm: 24 joint indices (new joint j = old joint perm[j]), e.g.
    `hmr_bench.body.joint_sets.SMPL24_FLIP`. Returns (..., 72) of the same kind as pose.
    """
    perm = np.asarray(perm)
    if perm.shape != (24,):
        raise InputError("flip_axis_angle_pose", "perm", found=f"shape {perm.shape}",
                         expected="24 SMPL joint indices")
    if len(pose.shape) < 1 or pose.shape[-1] != 72:
        raise InputError("flip_axis_angle_pose", "pose", found=f"shape {tuple(pose.shape)}",
                         expected="shape (..., 72) as 24 axis-angle triplets")
    sign = np.array([1.0, -1.0, -1.0])
    joints = pose.reshape(tuple(pose.shape[:-1]) + (24, 3))
    if isinstance(pose, torch.Tensor):
        flipped = joints[..., torch.as_tensor(perm, device=pose.device), :] * torch.as_tensor(sign).to(pose)
    else:
        flipped = joints[..., perm, :] * sign
    return flipped.reshape(pose.shape)
