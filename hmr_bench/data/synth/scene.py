"""SynthHMR scenes: who stands where, posed how, seen through which camera (everything but the pixels).

Camera frame (OpenCV): x right, y down, z forward; principal point at the image centre (W/2, H/2). The body
model's frame is SMPL's (y up, z the body's front). A person's global orientation in the camera frame is
``R_tilt · R_x(π) · R_y(heading)``: heading 0 faces the camera, any heading in [0°, 360°) is drawn, and a small
random tilt (camera roll/pitch and body lean) is added. The SMPL root-relative body (smplx output with zero
translation) is placed by ``cam_t`` so that its pelvis projects to a random pixel — anywhere in the frame,
near the borders too, so some people are truncated — at a random depth.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from hmr_bench.data.synth.actions import ACTIONS, sample_action_pose
from hmr_bench.errors import InputError


@dataclass(frozen=True)
class SynthConfig:
    """Everything that changes a SynthHMR split's bytes (part of its cache key)."""

    image_size: tuple[int, int] = (256, 256)  # (W, H)
    n_train: int = 2000
    n_val: int = 300
    n_test: int = 500
    seed: int = 0
    actions: tuple[str, ...] = tuple(ACTIONS)
    distance_m: tuple[float, float] = (2.0, 12.0)  # depth of the pelvis, drawn log-uniformly
    fov_jitter: float = 0.3  # focal = sqrt(W²+H²)·exp(U(−j, j)); 0 = always the CLIFF default
    border_margin: float = 0.05  # pelvis pixel drawn in [−m, 1+m] of the image (fraction); m < 0: the central part
    heading_deg: tuple[float, float] = (0.0, 360.0)  # body heading drawn uniformly in [lo, hi); 0 faces the camera
    tilt_std_deg: float = 8.0
    betas_std: float = 1.0
    betas_extreme_fraction: float = 0.2  # this share of bodies draws betas with std 1.6 (tall/short/heavy/light)
    difficulty: float = 0.5  # appearance: background contrast, occluders, lighting (0 easy .. 1 hard)
    min_visible_joints: int = 8  # of the 24 GT joints, inside the image
    min_box_px: float = 24.0  # GT box height in pixels
    write_vertices: bool = False
    write_parts: bool = False  # per-image part-label maps (PNG) beside the images
    chunk: int = 64  # images per work unit; fixed so output does not depend on the number of workers

    def __post_init__(self):
        w, h = self.image_size
        if w < 32 or h < 32:
            raise InputError("SynthConfig", "image_size", found=self.image_size, expected="at least (32, 32)")
        for name in ("n_train", "n_val", "n_test"):
            if getattr(self, name) < 0:
                raise InputError("SynthConfig", name, found=getattr(self, name), expected="a count >= 0")
        unknown = [a for a in self.actions if a not in ACTIONS]
        if unknown or not self.actions:
            raise InputError("SynthConfig", "actions", found=unknown or "none",
                             expected="names among " + ", ".join(ACTIONS))
        lo, hi = self.distance_m
        if not 0.5 <= lo <= hi:
            raise InputError("SynthConfig", "distance_m", found=self.distance_m, expected="0.5 <= near <= far")
        if not -0.45 <= self.border_margin <= 0.5:
            raise InputError("SynthConfig", "border_margin", found=self.border_margin,
                             expected="a fraction in [-0.45, 0.5] (the pelvis is drawn in [-m, 1+m] of the image)")
        if not -360.0 <= self.heading_deg[0] <= self.heading_deg[1] <= 360.0:
            raise InputError("SynthConfig", "heading_deg", found=self.heading_deg,
                             expected="(lo, hi) with -360 <= lo <= hi <= 360")
        if not 0.0 <= self.difficulty <= 1.0:
            raise InputError("SynthConfig", "difficulty", found=self.difficulty, expected="a value in [0, 1]")

    def to_dict(self) -> dict:
        return asdict(self)


SPLITS = {"train": 0, "val": 1, "test": 2}  # split id: a separate seed stream per split, so splits are disjoint


@dataclass
class Scene:
    """One image's scene. Poses are SMPL axis-angle in the camera frame."""

    action: str
    global_orient: np.ndarray  # (3,)
    body_pose: np.ndarray  # (69,)
    betas: np.ndarray  # (10,)
    focal: float
    heading_deg: float
    rng: np.random.Generator = field(repr=False)


def image_rng(cfg: SynthConfig, split: str, index: int) -> np.random.Generator:
    """The random stream of one image: depends on (seed, split, index) only."""
    return np.random.default_rng([cfg.seed, SPLITS[split], index])


def sample_scene(cfg: SynthConfig, split: str, index: int) -> Scene:
    rng = image_rng(cfg, split, index)
    action = cfg.actions[int(rng.integers(len(cfg.actions)))]
    body_pose = sample_action_pose(rng, action, 1)[0]
    heading = float(rng.uniform(*cfg.heading_deg))
    tilt = rng.standard_normal(3) * cfg.tilt_std_deg
    tilt[1] = 0.0  # heading is separate
    r_body = Rotation.from_euler("y", heading, degrees=True)
    r_tilt = Rotation.from_euler("xyz", tilt, degrees=True)
    global_orient = (r_tilt * Rotation.from_euler("x", math.pi) * r_body).as_rotvec()
    std = 1.6 if rng.random() < cfg.betas_extreme_fraction else cfg.betas_std
    betas = np.clip(rng.standard_normal(10) * std, -3.0, 3.0)
    w, h = cfg.image_size
    focal = math.hypot(w, h) * math.exp(rng.uniform(-cfg.fov_jitter, cfg.fov_jitter))
    return Scene(action, global_orient, body_pose, betas, focal, heading, rng)


def place(scene: Scene, cfg: SynthConfig, root_joint: np.ndarray, joints24: np.ndarray,
          attempts: int = 50) -> tuple[np.ndarray, int]:
    """Draws a placement: cam_t (3,) such that the pelvis lands at a random pixel and depth.

    root_joint: (3,) pelvis of the root-relative body; joints24: (24, 3) the GT joints (for the acceptance
    test: at least `min_visible_joints` inside the image and a box of at least `min_box_px`). Returns
    (cam_t, attempts used); after `attempts` failures the person is centred at the near-middle depth.
    """
    w, h = cfg.image_size
    f = scene.focal
    lo, hi = cfg.distance_m
    m = cfg.border_margin
    rng = scene.rng
    for attempt in range(1, attempts + 1):
        z = math.exp(rng.uniform(math.log(lo), math.log(hi)))
        u = rng.uniform(-m, 1 + m) * w
        v = rng.uniform(-m, 1 + m) * h
        cam_t = z * np.array([(u - w / 2) / f, (v - h / 2) / f, 1.0]) - root_joint
        p = joints24 + cam_t
        if np.any(p[:, 2] <= 0.1):
            continue
        uv = f * p[:, :2] / p[:, 2:] + np.array([w / 2, h / 2])
        inside = (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)
        if inside.sum() < cfg.min_visible_joints:
            continue
        box_h = uv[inside, 1].max() - uv[inside, 1].min()
        box_w = uv[inside, 0].max() - uv[inside, 0].min()
        if max(box_h, box_w * 256 / 192) * 1.2 < cfg.min_box_px:
            continue
        return cam_t, attempt
    z = math.sqrt(lo * hi)
    return np.array([0.0, 0.0, z]) - root_joint, attempts


# Dataset sizes per profile (the runner's profiles pick one; `hmr-bench data synth --profile` too).
SYNTH_PROFILES: dict[str, SynthConfig] = {
    "smoke": SynthConfig(image_size=(128, 128), n_train=160, n_val=32, n_test=32),
    # cpu: people face the camera's half-space and scenes are less cluttered, so that a small CNN trained for
    # minutes on 2 cores learns something (with 360° headings it regressed to a curled mean body; see profiles.py).
    # The pelvis lies in the central half of the image at 2–6 m, as in H36M-like captures: with people anywhere at
    # 2–12 m, |c − W/2|/b reached ~2 and L_cam's 2(c − W/2)/(b·s) terms drove the crop scale s up (measured).
    "cpu": SynthConfig(image_size=(256, 256), n_train=3000, n_val=400, n_test=600, heading_deg=(-90.0, 90.0),
                       difficulty=0.3, border_margin=-0.25, distance_m=(2.0, 6.0)),
    "paper": SynthConfig(image_size=(512, 512), n_train=50000, n_val=2000, n_test=5000),
}
