"""A joint-limit pose prior for SMPL bodies: random plausible poses without any mocap data.

Each of the 23 body joints of SMPL (`joint_sets.SMPL24[1:]`, the order of SMPL's 69-d ``body_pose``) gets a
local rotation built from three angles about the model's rest-pose axes (SMPL T-pose: +x the body's left,
+y up, +z the body's front), applied as *extrinsic* x, then y, then z rotations (``R = Rz(c) Ry(b) Rx(a)``,
scipy's ``"xyz"``). Each angle is drawn from a normal distribution ``N(mean, (scale * std)^2)`` and clipped to
``[lo, hi]`` (degrees). The angles are independent: this is a coarse, hand-written range-of-motion prior that
gives plausible bodies, not a learned distribution (no self-collision test, no coupling between joints).

`LIMITS` holds the left and centre joints; a right joint mirrors its left twin (the mirror x -> -x keeps the
x angle and negates the y and z angles, so its ranges are ``(-hi, -lo)`` with mean ``-mean``). The prior is
therefore exactly left/right symmetric: the SMPL flip of a sample (swap left/right joints, negate the y and z
axis-angle components) is an equally likely sample.

`LIMITS` (degrees; each axis is ``(lo, hi, mean, std)``; signs for the *left* side):

=============  ====================  ====================  ====================  ===========================
joint          x                     y                     z                     meaning of + (left side)
=============  ====================  ====================  ====================  ===========================
left_hip       (-110, 25, -15, 30)   (-35, 35, 0, 12)      (-15, 40, 5, 10)      x+: extension, z+: abduction
left_knee      (0, 140, 25, 35)      (-5, 5, 0, 2)         (-5, 5, 0, 2)         x+: flexion (shank back)
left_ankle     (-30, 45, 0, 12)      (-20, 20, 0, 7)       (-15, 15, 0, 5)
left_foot      (-20, 20, 0, 5)       (-5, 5, 0, 2)         (-5, 5, 0, 2)         toes
spine1..3      (-15, 30, 5, 8)       (-20, 20, 0, 6)       (-15, 15, 0, 5)       x+: forward bend
neck           (-30, 40, 5, 10)      (-40, 40, 0, 12)      (-20, 20, 0, 6)       y: turn, z: tilt
head           (-25, 30, 0, 8)       (-30, 30, 0, 10)      (-15, 15, 0, 5)
left_collar    (-10, 10, 0, 3)       (-15, 15, 0, 5)       (-10, 25, 0, 6)       z+: shrug
left_shoulder  (-60, 60, 0, 20)      (-95, 30, -10, 25)    (-85, 60, -55, 20)    z-: arm down, y-: arm forward
left_elbow     (-30, 30, 0, 10)      (-145, 0, -25, 35)    (-5, 5, 0, 2)         y-: flexion, x: forearm twist
left_wrist     (-30, 30, 0, 10)      (-40, 40, 0, 12)      (-50, 50, 0, 15)
left_hand      (-15, 15, 0, 5)       (-15, 15, 0, 5)       (-15, 15, 0, 5)       fingers as one rigid part
=============  ====================  ====================  ====================  ===========================

Everything here is numpy + scipy and deterministic given a ``numpy.random.Generator``.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from hmr_bench.body.joint_sets import SMPL24, SMPL24_FLIP

Limit = tuple[float, float, float, float]  # (lo, hi, mean, std), degrees

_SPINE: tuple[Limit, Limit, Limit] = ((-15, 30, 5, 8), (-20, 20, 0, 6), (-15, 15, 0, 5))

# Left and centre joints; right joints mirror their left twins (see the module docstring).
LIMITS: dict[str, tuple[Limit, Limit, Limit]] = {
    "left_hip": ((-110, 25, -15, 30), (-35, 35, 0, 12), (-15, 40, 5, 10)),
    "left_knee": ((0, 140, 25, 35), (-5, 5, 0, 2), (-5, 5, 0, 2)),
    "left_ankle": ((-30, 45, 0, 12), (-20, 20, 0, 7), (-15, 15, 0, 5)),
    "left_foot": ((-20, 20, 0, 5), (-5, 5, 0, 2), (-5, 5, 0, 2)),
    "spine1": _SPINE,
    "spine2": _SPINE,
    "spine3": _SPINE,
    "neck": ((-30, 40, 5, 10), (-40, 40, 0, 12), (-20, 20, 0, 6)),
    "head": ((-25, 30, 0, 8), (-30, 30, 0, 10), (-15, 15, 0, 5)),
    "left_collar": ((-10, 10, 0, 3), (-15, 15, 0, 5), (-10, 25, 0, 6)),
    "left_shoulder": ((-60, 60, 0, 20), (-95, 30, -10, 25), (-85, 60, -55, 20)),
    "left_elbow": ((-30, 30, 0, 10), (-145, 0, -25, 35), (-5, 5, 0, 2)),
    "left_wrist": ((-30, 30, 0, 10), (-40, 40, 0, 12), (-50, 50, 0, 15)),
    "left_hand": ((-15, 15, 0, 5), (-15, 15, 0, 5), (-15, 15, 0, 5)),
}

BODY_JOINTS: tuple[str, ...] = SMPL24[1:]  # the 23 joints of SMPL's body_pose, in order
_MIRROR = np.diag([-1.0, 1.0, 1.0])


def joint_limits(name: str) -> tuple[Limit, Limit, Limit]:
    """The (x, y, z) limits of one SMPL body joint, right joints mirrored from `LIMITS`."""
    if name.startswith("right_"):
        x, y, z = LIMITS["left_" + name[len("right_"):]]
        return x, _mirror_limit(y), _mirror_limit(z)
    if name not in LIMITS:
        raise KeyError(f"no limits for joint '{name}'; expected one of {', '.join(BODY_JOINTS)}")
    return LIMITS[name]


def _mirror_limit(lim: Limit) -> Limit:
    lo, hi, mean, std = lim
    return (-hi, -lo, -mean, std)


def limits_table() -> np.ndarray:
    """All limits as an array (23, 3, 4): joint (`BODY_JOINTS` order), axis (x, y, z), (lo, hi, mean, std)."""
    return np.array([joint_limits(j) for j in BODY_JOINTS], dtype=np.float64)


def sample_body_euler(rng: np.random.Generator, n: int, scale: float = 1.0) -> np.ndarray:
    """Random joint angles (n, 23, 3) in radians: extrinsic x, y, z angles of each body joint."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not scale >= 0:
        raise ValueError(f"scale must be >= 0, got {scale}")
    lim = limits_table()
    lo, hi, mean, std = (lim[..., k] for k in range(4))
    eps = rng.standard_normal((n, len(BODY_JOINTS), 3))
    return np.deg2rad(np.clip(mean + scale * std * eps, lo, hi))


def sample_body_pose(rng: np.random.Generator, n: int, scale: float = 1.0) -> np.ndarray:
    """Random SMPL body poses (n, 69): axis-angle of the 23 body joints, float64.

    ``scale`` multiplies every standard deviation (0: the prior's mean angles; the clipping to the joint
    ranges is kept at any scale). Deterministic given the state of ``rng``.
    """
    ang = sample_body_euler(rng, n, scale)
    rotvec = Rotation.from_euler("xyz", ang.reshape(-1, 3)).as_rotvec()
    return rotvec.reshape(n, 69)


def sample_global_orient(rng: np.random.Generator, n: int, yaw_deg: float = 30.0,
                         tilt_std_deg: float = 5.0) -> np.ndarray:
    """Random root rotations (n, 3) axis-angle in the model frame: a heading uniform in ±``yaw_deg`` about
    the up axis (y) and small normal tilts about x and z. Compose with the camera's rotation outside."""
    yaw = rng.uniform(-yaw_deg, yaw_deg, n)
    tilt = rng.standard_normal((n, 2)) * tilt_std_deg
    ang = np.deg2rad(np.stack([tilt[:, 0], yaw, tilt[:, 1]], 1))
    return Rotation.from_euler("xyz", ang).as_rotvec()


def flip_body_pose(body_pose: np.ndarray) -> np.ndarray:
    """The SMPL left/right flip of body poses (..., 69): swap left/right joints, negate axis-angle y and z."""
    p = np.asarray(body_pose, dtype=np.float64).reshape(*np.shape(body_pose)[:-1], 23, 3)
    perm = [SMPL24_FLIP[j + 1] - 1 for j in range(23)]
    return (p[..., perm, :] * np.array([1.0, -1.0, -1.0])).reshape(np.shape(body_pose))


def chordal_mean(rotmats: np.ndarray) -> np.ndarray:
    """The chordal L2 mean of rotation matrices (..., N, 3, 3): the rotation nearest (Frobenius) to their
    arithmetic mean, i.e. the SVD projection of the mean onto SO(3)."""
    m = np.asarray(rotmats, dtype=np.float64).mean(-3)
    u, _, vt = np.linalg.svd(m)
    d = np.sign(np.linalg.det(u @ vt))
    u[..., :, -1] *= d[..., None]
    return u @ vt


def euler_xyz_to_matrix(angles: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) of extrinsic x, y, z angles (..., 3) in radians: ``Rz(c) Ry(b) Rx(a)``
    (scipy's ``Rotation.from_euler("xyz", ...)``, vectorised numpy)."""
    a = np.asarray(angles, dtype=np.float64)
    cx, cy, cz = np.cos(a[..., 0]), np.cos(a[..., 1]), np.cos(a[..., 2])
    sx, sy, sz = np.sin(a[..., 0]), np.sin(a[..., 1]), np.sin(a[..., 2])
    rows = [
        [cy * cz, sx * sy * cz - cx * sz, cx * sy * cz + sx * sz],
        [cy * sz, sx * sy * sz + cx * cz, cx * sy * sz - sx * cz],
        [-sy, sx * cy, cx * cy],
    ]
    return np.stack([np.stack(r, -1) for r in rows], -2)


def mean_body_rotmats(n_samples: int = 100_000, seed: int = 0) -> np.ndarray:
    """The chordal mean rotation (23, 3, 3) of each body joint under this prior (`BODY_JOINTS` order).

    Estimated from ``n_samples`` draws (``numpy.random.default_rng(seed)``) and symmetrised: a joint's mean
    is taken over its own samples and the mirrored samples of its twin (``M R M``, ``M = diag(-1, 1, 1)``),
    so the result is exactly left/right symmetric, as the prior is.
    """
    ang = sample_body_euler(np.random.default_rng(seed), n_samples)
    mean = euler_xyz_to_matrix(ang).mean(0)  # (23, 3, 3)
    twin = [SMPL24_FLIP[j + 1] - 1 for j in range(23)]
    pooled = 0.5 * (mean + _MIRROR @ mean[twin] @ _MIRROR)  # the mean over samples and mirrored twins
    return chordal_mean(pooled[:, None])
