"""How a SynthHMR person looks: body parts and clothing regions, the `Appearance` (albedos per region, garment cut,
lighting, pixel noise) and its random draw, `sample_appearance`.

Body parts are the 24 SMPL joints (a face's part is the dominant joint of its vertices' skinning weights,
`face_parts`); clothing is painted per *region* (`REGIONS`), a group of parts that one garment covers, and a
region always holds left and right together, so colour never tells left from right. Colours are albedos in
[0, 1].

Also here, as every painter of SynthHMR (`background`, `occluders`, `render`) uses them: the difficulty check,
the garment colours, and the per-pixel noise drawn from numpy's raw 64-bit words (`uniform_noise`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from hmr_bench.body.joint_sets import SMPL24, SMPL24_PARENTS
from hmr_bench.errors import InputError

# ---------------------------------------------------------------------------------------------------- parts
REGION_JOINTS: dict[str, tuple[str, ...]] = {
    "torso": ("spine1", "spine2", "spine3", "left_collar", "right_collar"),
    "hips": ("pelvis",),
    "upper_arms": ("left_shoulder", "right_shoulder"),  # a joint's weights move the bone after it
    "lower_arms": ("left_elbow", "right_elbow"),
    "hands": ("left_wrist", "right_wrist", "left_hand", "right_hand"),
    "thighs": ("left_hip", "right_hip"),
    "shins": ("left_knee", "right_knee"),
    "feet": ("left_ankle", "right_ankle", "left_foot", "right_foot"),
    "neck": ("neck",),
    "head": ("head",),
}
REGIONS = tuple(REGION_JOINTS)
JOINT_REGION = np.array([next(i for i, js in enumerate(REGION_JOINTS.values()) if name in js) for name in SMPL24],
                        np.uint8)  # (24,) region index of each SMPL joint
# PART_NEIGHBOURS[j, p]: surface of part p counts as joint j's own for keypoint visibility (itself, its parent
# and its children in the SMPL kinematic tree). (24, 24) bool, symmetric.
PART_NEIGHBOURS = np.eye(24, dtype=bool)
for _child, _parent in enumerate(SMPL24_PARENTS):
    if _parent >= 0:
        PART_NEIGHBOURS[_child, _parent] = PART_NEIGHBOURS[_parent, _child] = True
PART_NEIGHBOURS.flags.writeable = False


def face_parts(weights: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Part of each face: the joint with the largest summed skinning weight over its three vertices.
    weights: (V, 24); faces: (F, 3) -> (F,) uint8 SMPL joint index (ties: the lower index)."""
    w = np.asarray(weights)
    f = np.asarray(faces)
    if w.ndim != 2 or w.shape[1] != 24:
        raise InputError("face_parts", "weights", found=f"shape {w.shape}", expected="shape (V, 24)")
    if f.ndim != 2 or f.shape[1] != 3 or (f.size and (f.min() < 0 or f.max() >= len(w))):
        raise InputError("face_parts", "faces", found=f"shape {f.shape}", expected=f"(F, 3) indices < {len(w)}")
    return (w[f[:, 0]] + w[f[:, 1]] + w[f[:, 2]]).argmax(1).astype(np.uint8)


# ----------------------------------------------------------------------------------------------- appearance
@dataclass(frozen=True, eq=False)
class Appearance:
    """How one person looks.

    region_rgb: (len(REGIONS), 3) albedo in [0, 1] per region, skin already painted on exposed regions;
    skin_rgb: (3,); long_sleeves / long_trousers: the garment cut that decided which regions show skin;
    light_dir: (3,) unit vector in the camera frame from the surface towards the light (z < 0: camera side);
    shade = ambient + diffuse · max(0, n·light_dir); noise: per-pixel noise amplitude in uint8 steps (uniform in
    [-noise, noise] per channel); seed: seeds that noise, so rendering is a pure function of its inputs.
    """

    region_rgb: np.ndarray
    skin_rgb: np.ndarray
    long_sleeves: bool
    long_trousers: bool
    light_dir: np.ndarray
    ambient: float
    diffuse: float
    noise: int = 0
    seed: int = 0

    def joint_rgb(self) -> np.ndarray:
        """(24, 3) albedo of each SMPL part."""
        return np.asarray(self.region_rgb, np.float32)[JOINT_REGION]


# Common garment colours (sRGB, 0..1): blacks, greys, whites, blues, denim, khaki, olive, browns, reds, ...
_GARMENT_PALETTE = np.array([
    [0.08, 0.08, 0.09], [0.22, 0.22, 0.24], [0.50, 0.50, 0.52], [0.92, 0.92, 0.90], [0.10, 0.14, 0.30],
    [0.25, 0.35, 0.55], [0.60, 0.72, 0.85], [0.76, 0.69, 0.50], [0.40, 0.42, 0.20], [0.40, 0.27, 0.17],
    [0.45, 0.10, 0.15], [0.75, 0.15, 0.15], [0.15, 0.45, 0.25], [0.85, 0.78, 0.65], [0.80, 0.62, 0.15],
    [0.90, 0.60, 0.70], [0.40, 0.25, 0.55], [0.90, 0.45, 0.15],
], np.float32)
# Skin tones from light to dark (sRGB, 0..1); a tone is a point on this piecewise-linear curve.
SKIN_TONES = np.array([
    [0.96, 0.84, 0.75], [0.90, 0.72, 0.60], [0.78, 0.57, 0.44], [0.62, 0.43, 0.31], [0.45, 0.30, 0.21],
    [0.30, 0.20, 0.14],
], np.float32)


def check_difficulty(difficulty: float, source: str) -> float:
    if not 0.0 <= difficulty <= 1.0:
        raise InputError(source, "difficulty", found=difficulty, expected="a number in [0, 1]")
    return float(difficulty)


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    k = (np.array([5.0, 3.0, 1.0]) + h * 6.0) % 6.0
    return (v - v * s * np.maximum(np.minimum(np.minimum(k, 4.0 - k), 1.0), 0.0)).astype(np.float32)


def garment_colour(rng: np.random.Generator) -> np.ndarray:
    """(3,) a clothing-like albedo: a common garment colour (jittered) or, less often, any moderate colour."""
    if rng.random() < 0.7:
        base = _GARMENT_PALETTE[rng.integers(len(_GARMENT_PALETTE))]
        return np.minimum(np.maximum(base + rng.uniform(-0.06, 0.06, 3), 0.02), 0.98).astype(np.float32)  # clip
    return _hsv_to_rgb(rng.random(), rng.uniform(0.2, 0.9), rng.uniform(0.15, 0.95))


def skin_tone(rng: np.random.Generator) -> np.ndarray:
    """(3,) a skin albedo drawn uniformly along `SKIN_TONES`, jittered by a few percent."""
    t = rng.uniform(0, len(SKIN_TONES) - 1)
    i = min(int(t), len(SKIN_TONES) - 2)
    tone = SKIN_TONES[i] + (t - i) * (SKIN_TONES[i + 1] - SKIN_TONES[i])
    return np.minimum(np.maximum(tone * rng.uniform(0.95, 1.05) + rng.uniform(-0.02, 0.02, 3), 0.0), 1.0).astype(
        np.float32)  # clip


def sample_appearance(rng: np.random.Generator, difficulty: float, background: np.ndarray | None = None
                      ) -> Appearance:
    """A random person look: top, bottom and shoe colours, a skin tone, sleeve/trouser cut, and lighting.

    difficulty in [0, 1]: harder means darker, more directional lighting (light up to 85° off the camera axis
    instead of 25°, less ambient) and stronger pixel noise; with `background` ((H, W, 3) uint8) given, garment
    colours are also pulled towards its mean colour by up to 70 % · difficulty (lower contrast).
    """
    d = check_difficulty(difficulty, "sample_appearance")
    top, bottom, shoes = (garment_colour(rng) for _ in range(3))
    if background is not None:
        mean = _rgb_mean(background) / 255.0
        pulls = rng.uniform(0.0, 0.7 * d, 3)
        top, bottom, shoes = ((1 - p) * c + p * mean for p, c in zip(pulls, (top, bottom, shoes)))
    skin = skin_tone(rng)
    long_sleeves, long_trousers = bool(rng.random() < 0.5), bool(rng.random() < 0.6)
    colour = {"torso": top, "upper_arms": top, "lower_arms": top if long_sleeves else skin, "hands": skin,
              "hips": bottom, "thighs": bottom, "shins": bottom if long_trousers else skin, "feet": shoes,
              "neck": skin, "head": skin}
    off_axis = math.radians(rng.uniform(0.0, 25.0 + 60.0 * d))
    azimuth = rng.uniform(0.0, 2 * math.pi)
    light = np.array([math.sin(off_axis) * math.cos(azimuth), math.sin(off_axis) * math.sin(azimuth),
                      -math.cos(off_axis)], np.float32)
    brightness = rng.uniform(0.9, 1.05) - 0.4 * d * rng.random()
    ambient_share = rng.uniform(0.35, 0.6) - 0.25 * d
    return Appearance(
        region_rgb=np.stack([colour[r] for r in REGIONS]).astype(np.float32), skin_rgb=skin,
        long_sleeves=long_sleeves, long_trousers=long_trousers, light_dir=light,
        ambient=float(brightness * ambient_share), diffuse=float(brightness * (1 - ambient_share)),
        noise=int(round(2 + 10 * d * rng.uniform(0.5, 1.0))), seed=int(rng.integers(2**31)))


# --------------------------------------------------------------------- mean colour; the noise every painter uses
@njit(cache=True)
def _rgb_mean_u8(pixels):
    """(N, 3) uint8 pixels -> (3,) float64 mean of each channel (exact integer sums)."""
    s0 = s1 = s2 = 0
    for i in range(pixels.shape[0]):
        s0 += pixels[i, 0]
        s1 += pixels[i, 1]
        s2 += pixels[i, 2]
    n = max(pixels.shape[0], 1)
    return np.array([s0 / n, s1 / n, s2 / n])


def _rgb_mean(image: np.ndarray) -> np.ndarray:
    """(..., 3) image -> (3,) float64 mean colour."""
    pixels = np.ascontiguousarray(image).reshape(-1, 3)
    return _rgb_mean_u8(pixels) if pixels.dtype == np.uint8 else pixels.astype(np.float64).mean(0)


@njit(cache=True, inline="always")
def uniform_noise(bits, index, amp):
    """The index-th 16-bit word of the random words bits (uint64) mapped to an integer in [−amp, amp]."""
    word = (bits[index >> 2] >> np.uint64(16 * (index & 3))) & np.uint64(0xFFFF)
    return ((np.int64(word) * (2 * amp + 1)) >> 16) - amp
