"""Named action families for SynthHMR poses (the per-action breakdown of Fig. 7 on synthetic data).

An action shifts the mean angles of some joints of the joint-limit prior (`hmr_bench.body.pose_prior`) and
scales its spread; angles are still clipped to the prior's anatomical ranges. Overrides are written in the
*anatomical* sense of the left-side convention (SMPL T-pose axes, degrees): for every joint, x− is a hip's
flexion (thigh forward), x+ a knee's flexion, x+ a spine forward bend, shoulder z− lowers the arm, shoulder y−
brings it forward, elbow y− flexes it. A right joint given in the same anatomical sense is mirrored here (y and
z negated), so "right_hip": (-25, 0, 0) also means a forward thigh. Half the samples of every action are
mirrored as a whole (left/right swapped) so no family is one-sided.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from hmr_bench.body.pose_prior import BODY_JOINTS, flip_body_pose, limits_table

Angles = tuple[float | None, float | None, float | None]  # None keeps the prior's mean on that axis

_ARMS_DOWN = {"left_shoulder": (None, None, -75), "right_shoulder": (None, None, -75)}

ACTIONS: dict[str, tuple[float, dict[str, Angles]]] = {
    # name: (spread scale, {joint: mean angles})
    "standing": (0.5, {**_ARMS_DOWN}),
    "walking": (0.5, {
        "left_hip": (-25, None, None), "right_hip": (15, None, None), "left_knee": (15, None, None),
        "right_knee": (50, None, None), "left_shoulder": (None, 25, -75), "right_shoulder": (None, -25, -75),
        "left_elbow": (None, -20, None), "right_elbow": (None, -35, None)}),
    "sitting": (0.45, {
        "left_hip": (-90, None, 10), "right_hip": (-90, None, 10), "left_knee": (90, None, None),
        "right_knee": (90, None, None), "left_shoulder": (None, -10, -70), "right_shoulder": (None, -10, -70),
        "left_elbow": (None, -60, None), "right_elbow": (None, -60, None)}),
    "squatting": (0.4, {
        "left_hip": (-105, None, 15), "right_hip": (-105, None, 15), "left_knee": (125, None, None),
        "right_knee": (125, None, None), "spine1": (15, None, None), "spine2": (12, None, None),
        "left_shoulder": (None, -70, -20), "right_shoulder": (None, -70, -20)}),
    "reaching": (0.5, {
        "left_shoulder": (None, -80, -5), "left_elbow": (None, -5, None), "spine1": (12, None, None),
        "spine2": (10, None, None), "right_shoulder": (None, None, -70)}),
    "waving": (0.5, {
        "left_shoulder": (-60, -10, 25), "left_elbow": (None, -100, None), "right_shoulder": (None, None, -75)}),
    "bending": (0.5, {
        "spine1": (25, None, None), "spine2": (25, None, None), "spine3": (20, None, None),
        "left_hip": (-50, None, None), "right_hip": (-50, None, None), "left_knee": (10, None, None),
        "right_knee": (10, None, None), "left_shoulder": (None, -30, -80), "right_shoulder": (None, -30, -80)}),
    "kicking": (0.5, {
        "left_hip": (-75, None, None), "left_knee": (15, None, None), "right_hip": (5, None, None),
        "right_knee": (10, None, None), "left_shoulder": (None, None, -15), "right_shoulder": (None, None, -15),
        "spine1": (-5, None, None)}),
    "crouching": (0.45, {
        "left_hip": (-100, None, 10), "right_hip": (-100, None, 10), "left_knee": (120, None, None),
        "right_knee": (120, None, None), "spine1": (10, None, None), "spine2": (10, None, None),
        "spine3": (10, None, None), "left_shoulder": (None, -40, -60), "right_shoulder": (None, -40, -60),
        "left_elbow": (None, -60, None), "right_elbow": (None, -60, None)}),
    "lunging": (0.45, {
        "left_hip": (-60, None, None), "left_knee": (80, None, None), "right_hip": (20, None, None),
        "right_knee": (20, None, None), **_ARMS_DOWN}),
}


def _mean_table(overrides: dict[str, Angles]) -> np.ndarray:
    """(23, 3) mean angles in degrees: the prior's, with the action's overrides (right joints mirrored)."""
    mean = limits_table()[..., 2].copy()
    for joint, angles in overrides.items():
        j = BODY_JOINTS.index(joint)
        sign = (1.0, -1.0, -1.0) if joint.startswith("right_") else (1.0, 1.0, 1.0)
        for axis, value in enumerate(angles):
            if value is not None:
                mean[j, axis] = sign[axis] * value
    return mean


_MEANS = {name: _mean_table(over) for name, (_, over) in ACTIONS.items()}


def sample_action_pose(rng: np.random.Generator, action: str, n: int) -> np.ndarray:
    """Body poses (n, 69) axis-angle of one action family, half of them mirrored left/right."""
    if action not in ACTIONS:
        raise KeyError(f"unknown action '{action}'; the action families are {', '.join(ACTIONS)}")
    scale = ACTIONS[action][0]
    lim = limits_table()
    lo, hi, std = lim[..., 0], lim[..., 1], lim[..., 3]
    eps = rng.standard_normal((n, len(BODY_JOINTS), 3))
    ang = np.deg2rad(np.clip(_MEANS[action] + scale * std * eps, lo, hi))
    pose = Rotation.from_euler("xyz", ang.reshape(-1, 3)).as_rotvec().reshape(n, 69)
    mirror = rng.random(n) < 0.5
    pose[mirror] = flip_body_pose(pose[mirror])
    return pose
