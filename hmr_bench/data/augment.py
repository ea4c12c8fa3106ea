"""Training augmentation (spec §1.4, SPIN `augm_params`): flip, rotation, scale, colour noise.

Parameters are drawn once per sample from a ``numpy.random.Generator`` and shared by all M RoIs. Draw order
(SPIN): flip, pn, rot, rot-to-zero, sc.

- flip with p = 0.5: image x ← W − x (continuous pixels, see `images`), 2D keypoints permuted
  (`SPIN49_FLIP`), SMPL pose flipped (`flip_axis_angle_pose`, `SMPL24_FLIP`), 3D joints permuted and x negated.
- rot = clip(N(0,1)·30, −60, 60) degrees, set to 0 with p = 0.6. Crops turn by −rot (`crop_transform`:
  q = s·R(−rot)(p − c) + o with R(a) = [[cos a, −sin a], [sin a, cos a]] in x-right/y-down pixels). Camera
  frame x/y are image x/y, so 3D joints, the global orientation and camera-frame translations are rotated by
  R_z(−rot) (`geometry.rotations.rotation_z(−rot)`), i.e. about the camera axis. The rotated crop about a box
  centre c is then exactly a pinhole image of the rotated body with principal point
  c + R(−rot)((W/2, H/2) − c) (checked in tests/data/test_augment.py).
- sc = clip(N(0,1)·0.25 + 1, 0.75, 1.25) multiplies the base box height (before the extra RoIs are made).
- pn ~ U(0.6, 1.4)³ per-channel colour factors.

Flip before rotation: the flip is applied to the annotations first, then the rotation (SPIN order).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from hmr_bench.body.joint_sets import SMPL24_FLIP, SPIN49_FLIP
from hmr_bench.errors import InputError, require_last_dims
from hmr_bench.geometry.rotations import (
    axis_angle_to_matrix,
    flip_axis_angle_pose,
    matrix_to_axis_angle,
    rotation_z,
)


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation settings (SPIN defaults from C:utils/train_options.py)."""

    flip_prob: float = 0.5
    rot_factor: float = 30.0  # rot = clip(N(0,1)·rot_factor, −2·rot_factor, 2·rot_factor) degrees
    rot_zero_prob: float = 0.6
    scale_factor: float = 0.25  # sc = clip(N(0,1)·scale_factor + 1, 1 − scale_factor, 1 + scale_factor)
    noise_factor: float = 0.4  # pn ~ U(1 − noise_factor, 1 + noise_factor)^3


@dataclass(frozen=True)
class AugmentParams:
    """The augmentation applied to one sample (identical for its M RoIs). pn: (3,) colour factors."""

    flip: bool = False
    rot: float = 0.0  # degrees
    sc: float = 1.0
    pn: tuple[float, float, float] = (1.0, 1.0, 1.0)


NO_AUGMENT = AugmentParams()


def sample_augment(rng: np.random.Generator, cfg: AugmentConfig = AugmentConfig()) -> AugmentParams:
    """Draws flip, pn, rot, sc from `rng` (spec §1.4)."""
    flip = bool(rng.random() < cfg.flip_prob)
    pn = rng.uniform(1 - cfg.noise_factor, 1 + cfg.noise_factor, size=3)
    rot = float(np.clip(rng.standard_normal() * cfg.rot_factor, -2 * cfg.rot_factor, 2 * cfg.rot_factor))
    if rng.random() < cfg.rot_zero_prob:
        rot = 0.0
    sc = float(np.clip(rng.standard_normal() * cfg.scale_factor + 1, 1 - cfg.scale_factor, 1 + cfg.scale_factor))
    return AugmentParams(flip=flip, rot=rot, sc=sc, pn=tuple(float(p) for p in pn))


def flip_keypoints(keypoints, img_w: float, perm=SPIN49_FLIP) -> np.ndarray:
    """Flip 2D keypoints: x ← W − x, joints permuted by `perm`. keypoints: (..., J, 3) or (..., J, 2)."""
    kp = np.array(keypoints, dtype=np.float64)
    if kp.shape[-2] != len(perm):
        raise InputError("flip_keypoints", "keypoints", found=f"shape {kp.shape}",
                         expected=f"(..., {len(perm)}, 2 or 3) for a {len(perm)}-joint permutation")
    kp = kp[..., list(perm), :]
    kp[..., 0] = img_w - kp[..., 0]
    return kp


def flip_points3d(points, perm) -> np.ndarray:
    """Flip camera-frame 3D points: x negated, joints permuted. points: (..., J, C ≥ 3) (extra columns kept)."""
    p = np.array(points, dtype=np.float64)
    if p.shape[-2] != len(perm):
        raise InputError("flip_points3d", "points", found=f"shape {p.shape}",
                         expected=f"(..., {len(perm)}, 3 or 4) for a {len(perm)}-joint permutation")
    p = p[..., list(perm), :]
    p[..., 0] = -p[..., 0]
    return p


def flip_pose(pose) -> np.ndarray:
    """Flip an SMPL axis-angle pose (72,) (permute with SMPL24_FLIP, negate y and z)."""
    return np.asarray(flip_axis_angle_pose(np.asarray(pose, dtype=np.float64), SMPL24_FLIP))


def _rz(rot_deg: float) -> np.ndarray:
    """R_z(−rot) as a (3, 3) numpy matrix."""
    return rotation_z(torch.tensor(-np.deg2rad(rot_deg), dtype=torch.float64)).numpy()


def rotate_points3d(points, rot_deg: float) -> np.ndarray:
    """Rotate camera-frame points by R_z(−rot) (spec §1.4). points: (..., 3) or (..., J, C ≥ 3); extra columns
    (confidence) are kept."""
    p = np.array(points, dtype=np.float64)
    if p.shape[-1] < 3:
        raise InputError("rotate_points3d", "points", found=f"shape {p.shape}", expected="(..., 3 or more)")
    p[..., :3] = p[..., :3] @ _rz(rot_deg).T
    return p


def rotate_pose(pose, rot_deg: float) -> np.ndarray:
    """Rotate the global orientation of an SMPL axis-angle pose (72,) by R_z(−rot): R_go ← R_z(−rot)·R_go."""
    pose = np.array(pose, dtype=np.float64)
    require_last_dims(pose, (72,), "rotate_pose", "pose", "SMPL axis-angle")
    if rot_deg == 0:
        return pose
    go = axis_angle_to_matrix(torch.as_tensor(pose[..., :3]))
    pose[..., :3] = matrix_to_axis_angle(torch.as_tensor(_rz(rot_deg)) @ go).numpy()
    return pose
