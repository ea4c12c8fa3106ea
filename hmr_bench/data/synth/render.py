"""SynthHMR's renderer: a rasterised body over a textured background, with clothing colours, flat Lambert
shading, occluders, part labels, keypoint visibility and occlusion ratio.

Camera frame (OpenCV): x right, y down, z forward, metres; K = (fx, fy, cx, cy) in pixels; pixel centres at
integer + 0.5 (see `raster`). Colours are albedos in [0, 1]; images are (H, W, 3) uint8 RGB.

Body parts are the 24 SMPL joints (a face's part is the dominant joint of its vertices' skinning weights,
`face_parts`); clothing is painted per *region* (`REGIONS`), a group of parts that one garment covers, and a
region always holds left and right together, so colour never tells left from right.

The per-pixel work (rasterising, the background, occluders, shading and compositing) runs in numba kernels;
random draws stay with numpy's Generator (per-pixel noise from its raw 64-bit words, `_uniform_noise`), so
every function is deterministic given its rng or seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numba import njit

from hmr_bench.body.joint_sets import SMPL24, SMPL24_PARENTS
from hmr_bench.data.synth.raster import (
    NEAR,
    ProjectedMesh,
    covered_outside,
    front_bounds,
    project_mesh,
    rasterize,
    rasterize_projected,
)
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


def _check_difficulty(difficulty: float, source: str) -> float:
    if not 0.0 <= difficulty <= 1.0:
        raise InputError(source, "difficulty", found=difficulty, expected="a number in [0, 1]")
    return float(difficulty)


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    k = (np.array([5.0, 3.0, 1.0]) + h * 6.0) % 6.0
    return (v - v * s * np.maximum(np.minimum(np.minimum(k, 4.0 - k), 1.0), 0.0)).astype(np.float32)


def _garment_colour(rng: np.random.Generator) -> np.ndarray:
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
    d = _check_difficulty(difficulty, "sample_appearance")
    top, bottom, shoes = (_garment_colour(rng) for _ in range(3))
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


# ----------------------------------------------------------------------------------------------- background
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


_GRID = 17  # resolution of the smooth layer (gradient + value noise) before it is upsampled to the image
_OCTAVES = np.array([2, 3, 5, 9, 17])  # value-noise grids, coarse to fine, each with half the previous amplitude


def make_background(rng: np.random.Generator, height: int, width: int, difficulty: float) -> np.ndarray:
    """A textured background (height, width, 3) uint8: a colour gradient plus multi-scale value noise (built on
    a 17x17 grid, upsampled smoothly), then a few flat rectangles and striped patches, then pixel noise.
    difficulty in [0, 1] adds clutter (more shapes), texture contrast and noise."""
    d = _check_difficulty(difficulty, "make_background")
    if int(height) != height or int(width) != width or height < 1 or width < 1:
        raise InputError("make_background", "height/width", found=(height, width), expected="positive integers")
    height, width = int(height), int(width)
    angle = rng.uniform(0, 2 * math.pi)
    colours = np.stack([rng.uniform(0.05, 0.95, 3), rng.uniform(0.05, 0.95, 3)])  # gradient end colours
    amplitude = rng.uniform(0.1, 0.2) + 0.15 * d
    octaves = np.concatenate([np.concatenate([rng.uniform(-1, 1, (n, n, 1)), rng.uniform(-1, 1, (n, n, 3))], -1)
                              .ravel() for n in _OCTAVES])  # per node: luminance, then 3 chroma values
    smooth = _smooth_grid(angle, colours, amplitude, octaves, _OCTAVES)
    patches = np.array([_sample_patch(rng, height, width) for _ in range(rng.poisson(1.0 + 5.0 * d))],
                       np.float64).reshape(-1, 11)
    bits = rng.bit_generator.random_raw((height * width + 3) // 4)
    image = np.empty((height, width, 3), np.uint8)
    _background_kernel(smooth, *_upsample_index(height, _GRID), *_upsample_index(width, _GRID), patches,
                       3 + int(10 * d), bits, image)
    return image


def _sample_patch(rng: np.random.Generator, height: int, width: int) -> tuple:
    """A random flat rectangle or striped patch: (row0, col0, row1, col1) its pixel box clipped to the image
    (never empty), colour (3,) in 0..255, alpha, stripe period (0 = flat), cos and sin of the stripe angle."""
    ph, pw = int(rng.uniform(0.1, 0.6) * height) + 1, int(rng.uniform(0.1, 0.6) * width) + 1
    y0, x0 = int(rng.integers(-ph // 2, height)), int(rng.integers(-pw // 2, width))
    colour, alpha = rng.uniform(0, 255, 3), rng.uniform(0.4, 1.0)
    period, angle = (0.0, 0.0) if rng.random() < 0.5 else (rng.uniform(3.0, 24.0), rng.uniform(0, math.pi))
    return (max(y0, 0), max(x0, 0), min(y0 + ph, height), min(x0 + pw, width), *colour, alpha, period,
            math.cos(angle), math.sin(angle))


@njit(cache=True)
def _smooth_grid(angle, colours, amplitude, octaves, nodes):
    """(17, 17, 3) colours in 0..1 of the smooth layer: a linear gradient between colours (2, 3) along `angle`
    (normalised to span the grid), plus value-noise octaves on nodes[o]² grids (values from `octaves`: per node
    a luminance and three chroma values in [−1, 1], chroma halved), each smoothstep-upsampled to 17² (the
    17-node octave as is) with amplitude halving from `amplitude`."""
    g = _GRID
    out = np.empty((g, g, 3))
    cos, sin = math.cos(angle), math.sin(angle)
    lo, hi = min(0.0, cos) + min(0.0, sin), max(0.0, cos) + max(0.0, sin)
    for i in range(g):
        for j in range(g):
            t = ((cos * j + sin * i) / (g - 1) - lo) / max(hi - lo, 1e-6)
            for c in range(3):
                out[i, j, c] = colours[0, c] + (colours[1, c] - colours[0, c]) * t
    k = 0
    for n in nodes:
        for i in range(g):
            si, ti = _smoothstep_node(i, g, n)
            for j in range(g):
                sj, tj = _smoothstep_node(j, g, n)
                for c in range(3):
                    v = 0.0
                    for a, wa in ((si, 1.0 - ti), (si + 1, ti)):
                        for b, wb in ((sj, 1.0 - tj), (sj + 1, tj)):
                            node = k + 4 * (min(a, n - 1) * n + min(b, n - 1))
                            v += wa * wb * (octaves[node] + 0.5 * octaves[node + 1 + c])
                    out[i, j, c] += amplitude * v
        k += 4 * n * n
        amplitude *= 0.5
    return out


@lru_cache(maxsize=32)
def _upsample_index(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray]:
    """`_smoothstep_node` of every output: i (n_out,) int64 and t (n_out,) float64, read-only."""
    i, t = np.array([_smoothstep_node(k, n_out, n_in) for k in range(n_out)], np.float64).T.copy()
    i = i.astype(np.int64)
    i.flags.writeable = t.flags.writeable = False
    return i, t


@njit(cache=True, inline="always")
def _smoothstep_node(k, n_out, n_in):
    """Smooth interpolation of n_out outputs spanning n_in grid nodes: output k = (1 − t)·node[i] + t·node[i + 1];
    returns (i, t), the identity when n_out == n_in."""
    if n_in == n_out:
        return k, 0.0
    s = (k + 0.5) / n_out * (n_in - 1)
    i = min(int(s), n_in - 2)
    t = s - i
    return i, t * t * (3.0 - 2.0 * t)


@njit(cache=True, inline="always")
def _uniform_noise(bits, index, amp):
    """The index-th 16-bit word of the random words bits (uint64) mapped to an integer in [−amp, amp]."""
    word = (bits[index >> 2] >> np.uint64(16 * (index & 3))) & np.uint64(0xFFFF)
    return ((np.int64(word) * (2 * amp + 1)) >> 16) - amp


@njit(cache=True)
def _background_kernel(smooth, row_i, row_t, col_i, col_t, patches, amp, bits, out):
    """Fills out (H, W, 3) uint8, one row at a time: the smooth layer (smooth (17, 17, 3) in 0..1, interpolated
    with row_i / row_t (H,) and col_i / col_t (W,), see `_upsample_index`), then the patches (P, 11) blended in
    order (a striped one only where ((x·cos + y·sin) / period) mod 1 < 0.5 at pixel (x, y)), then the same
    noise in [−amp, amp] on the three channels of a pixel, clipped to 0..255 and truncated."""
    height, width = out.shape[:2]
    grid_row = np.empty((smooth.shape[1], 3))
    line = np.empty((width, 3))
    for y in range(height):
        i, t = row_i[y], row_t[y]
        for j in range(smooth.shape[1]):
            for c in range(3):
                grid_row[j, c] = 255.0 * (smooth[i, j, c] * (1.0 - t) + smooth[i + 1, j, c] * t)
        for x in range(width):
            j, t = col_i[x], col_t[x]
            for c in range(3):
                line[x, c] = grid_row[j, c] * (1.0 - t) + grid_row[j + 1, c] * t
        for p in range(patches.shape[0]):
            if not patches[p, 0] <= y < patches[p, 2]:
                continue
            alpha, period, cos, sin = patches[p, 7], patches[p, 8], patches[p, 9], patches[p, 10]
            for x in range(int(patches[p, 1]), int(patches[p, 3])):
                if period != 0.0:
                    q = (x * cos + y * sin) / period
                    if q - math.floor(q) >= 0.5:
                        continue
                for c in range(3):
                    line[x, c] += alpha * (patches[p, 4 + c] - line[x, c])
        for x in range(width):
            noise = _uniform_noise(bits, y * width + x, amp)
            for c in range(3):
                out[y, x, c] = np.uint8(min(max(line[x, c] + noise, 0.0), 255.0))


# ------------------------------------------------------------------------------------------------ occluders
@dataclass(frozen=True, eq=False)
class Occluders:
    """Things in front of the person: mask (H, W) bool and their colours rgb (H, W, 3) uint8 (used where mask)."""

    mask: np.ndarray
    rgb: np.ndarray


def sample_occluders(rng: np.random.Generator, height: int, width: int, person_box, difficulty: float
                     ) -> Occluders:
    """Random occluders: rotated rectangles, ellipses and star-shaped polygons, each with its own colour,
    gradient, optional stripes and noise. person_box: (x0, y0, x1, y1) pixels.

    With probability 0.3 + 0.6·difficulty there is at least one (1 + Poisson(1.5·difficulty) in all); each is
    0.15..(0.35 + 0.35·difficulty) of the person box's size and is centred inside the box with probability
    0.6 + 0.3·difficulty, anywhere in the image otherwise.
    """
    d = _check_difficulty(difficulty, "sample_occluders")
    box = np.asarray(person_box, np.float64).reshape(-1)
    if box.shape != (4,) or not np.isfinite(box).all() or box[2] < box[0] or box[3] < box[1]:
        raise InputError("sample_occluders", "person_box", found=np.asarray(person_box).tolist(),
                         expected="(x0, y0, x1, y1) with x1 >= x0, y1 >= y0")
    height, width = int(height), int(width)
    mask = np.zeros((height, width), bool)
    rgb = np.zeros((height, width, 3), np.uint8)
    if rng.random() >= 0.3 + 0.6 * d:
        return Occluders(mask, rgb)
    bw, bh = max(box[2] - box[0], 4.0), max(box[3] - box[1], 4.0)
    for _ in range(1 + rng.poisson(1.5 * d)):
        sx, sy = rng.uniform(0.15, 0.35 + 0.35 * d, 2) * (bw, bh) / 2 + 1.5  # half sizes, pixels
        if rng.random() < 0.6 + 0.3 * d:
            cx, cy = rng.uniform(box[0], box[0] + bw), rng.uniform(box[1], box[1] + bh)
        else:
            cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        shape = _occluder_shape(rng, height, width, cx, cy, sx, sy)
        if shape is None:
            continue
        texture = _occluder_texture(rng, (shape[1] - shape[0], shape[3] - shape[2]))
        _paint_occluder(mask, rgb, *shape, *texture)
    return Occluders(mask, rgb)


_NO_POLYGON = np.zeros(0)


def _occluder_shape(rng, height, width, cx, cy, sx, sy):
    """A random shape with half sizes (sx, sy), rotated, centred at (cx, cy): (row0, row1, col0, col1) its pixel
    box clipped to the image, then cx, cy, sx, sy, cos, sin of its rotation, kind (0 ellipse, 1 rectangle,
    2 star-shaped polygon) and the polygon's vertices px, py (n,) in the shape's own frame; None when it misses
    the image."""
    r = math.sqrt(2) * max(sx, sy) + 1.0  # bounds every shape below
    rows = max(int(cy - r), 0), min(int(cy + r) + 1, height)
    cols = max(int(cx - r), 0), min(int(cx + r) + 1, width)
    if rows[0] >= rows[1] or cols[0] >= cols[1]:
        return None
    angle = rng.uniform(0, math.pi)
    kind = int(rng.integers(3))
    px = py = _NO_POLYGON
    if kind == 2:  # star-shaped polygon (gaps < 180°) around its centre: a fan of triangles
        n = int(rng.integers(4, 9))
        angles = np.sort((np.arange(n) + rng.uniform(-0.4, 0.4, n)) * (2 * math.pi / n))
        radius = math.sqrt(2) * rng.uniform(0.5, 1.0, n)
        px, py = radius * np.cos(angles) * sx, radius * np.sin(angles) * sy
    return (*rows, *cols, float(cx), float(cy), float(sx), float(sy), math.cos(angle), math.sin(angle), kind, px, py)


def _occluder_texture(rng: np.random.Generator, shape: tuple[int, int]) -> tuple:
    """Texture of an (h, w) box: base colour (3,) in 0..255, gradient slope (2,) per pixel along x, y, stripes
    (period, cos, sin; period 0 = none) and random words (uint64) for noise in [−6, 6]."""
    h, w = shape
    base = _garment_colour(rng) * 255.0 if rng.random() < 0.5 else rng.uniform(0, 255, 3)
    slope = rng.uniform(-0.5, 0.5, 2) * 60.0 / max(h, w)
    stripes = (0.0, 0.0, 0.0)
    if rng.random() < 0.3:
        period, angle = rng.uniform(3.0, 12.0), rng.uniform(0, math.pi)
        stripes = (period, math.cos(angle), math.sin(angle))
    return np.asarray(base, np.float64), np.asarray(slope, np.float64), *stripes, rng.bit_generator.random_raw(
        (h * w + 3) // 4)


@njit(cache=True, inline="always")
def _in_triangle(dx, dy, ax, ay, bx, by):
    """Whether (dx, dy) lies inside the triangle (0, 0), a, b (either winding, edges included)."""
    e0 = ax * dy - ay * dx
    e1 = (bx - ax) * (dy - ay) - (by - ay) * (dx - ax)
    e2 = -bx * (dy - by) + by * (dx - bx)
    return (e0 >= 0 and e1 >= 0 and e2 >= 0) or (e0 <= 0 and e1 <= 0 and e2 <= 0)


@njit(cache=True)
def _paint_occluder(mask, rgb, row0, row1, col0, col1, cx, cy, sx, sy, cos, sin, kind, px, py, base, slope, period,
                    stripe_cos, stripe_sin, bits):
    """Paints one occluder (`_occluder_shape`, `_occluder_texture`) into mask (H, W) and rgb (H, W, 3) in place.
    Pixel centres are tested in the shape's frame; the texture at box pixel (i, j) (box-relative) is
    base + slope · ((j, i) − box size / 2), ± 20 on stripes (((j·cos + i·sin) / period) mod 1 < 0.5 → +20), plus
    noise word i·w + j in [−6, 6] on all three channels, clipped and truncated to uint8."""
    h, w = row1 - row0, col1 - col0
    for i in range(h):
        dy = row0 + i + 0.5 - cy
        for j in range(w):
            dx = col0 + j + 0.5 - cx
            lx, ly = dx * cos + dy * sin, -dx * sin + dy * cos
            if kind == 0:
                inside = (lx / sx) ** 2 + (ly / sy) ** 2 <= 1.0
            elif kind == 1:
                inside = abs(lx) <= sx and abs(ly) <= sy
            else:
                inside = False
                n = len(px)
                for k in range(n):
                    if _in_triangle(lx, ly, px[k], py[k], px[(k + 1) % n], py[(k + 1) % n]):
                        inside = True
                        break
            if not inside:
                continue
            shade = (j - w / 2) * slope[0] + (i - h / 2) * slope[1] + _uniform_noise(bits, i * w + j, 6)
            if period != 0.0:
                q = (j * stripe_cos + i * stripe_sin) / period
                shade += 20.0 if q - math.floor(q) < 0.5 else -20.0
            mask[row0 + i, col0 + j] = True
            for c in range(3):
                rgb[row0 + i, col0 + j, c] = np.uint8(min(max(base[c] + shade, 0.0), 255.0))


# --------------------------------------------------------------------------------------------------- render
@dataclass(frozen=True, eq=False)
class RenderResult:
    """One rendered image and its exact labels.

    rgb: (H, W, 3) uint8; mask: (H, W) bool person pixels visible after occluders; part_map: (H, W) uint8,
    0 = not a visible person pixel, else 1 + SMPL joint index (None unless asked); depth: (H, W) float32 camera z
    of visible person pixels, 0 elsewhere (None unless asked); person_pixels_total: person pixels before
    occluders; visible_fraction: mask pixels / person_pixels_total (0 when the person is not in the image);
    occlusion_ratio: see `occlusion_ratio`; face_id / surface_depth: the rasteriser's buffers before occluders
    ((H, W) int32, -1 = none; (H, W) float32, 0 = none), as `keypoint_visibility` wants them.
    """

    rgb: np.ndarray
    mask: np.ndarray
    part_map: np.ndarray | None
    depth: np.ndarray | None
    person_pixels_total: int
    visible_fraction: float
    occlusion_ratio: float
    face_id: np.ndarray
    surface_depth: np.ndarray


def shade_faces(verts_cam: np.ndarray, faces: np.ndarray, parts: np.ndarray, appearance: Appearance) -> np.ndarray:
    """(F, 3) float32 colour in 0..255 of each face: albedo of its part · (ambient + diffuse · max(0, n·l)),
    n the unit face normal turned towards the camera (two-sided), l = appearance.light_dir."""
    tri = np.asarray(verts_cam, np.float32)[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    towards_camera = np.einsum("fi,fi->f", normal, tri[:, 0]) < 0  # the camera sits at the origin
    length = np.maximum(np.linalg.norm(normal, axis=1), 1e-30)
    cos = np.einsum("fi,i->f", normal, np.asarray(appearance.light_dir, np.float32)) / length
    lambert = np.maximum(np.where(towards_camera, cos, -cos), 0.0)
    shade = appearance.ambient + appearance.diffuse * lambert
    return np.minimum(appearance.joint_rgb()[parts] * (255.0 * shade)[:, None], 255.0).astype(np.float32)


def render(verts_cam, faces, face_parts, K, appearance: Appearance, background: np.ndarray,
           occluders: Occluders | None = None, want_parts: bool = False, want_depth: bool = False,
           cull_backfaces: bool = False) -> RenderResult:
    """Renders one person: background, then the shaded body (plus noise), then occluders.

    verts_cam: (V, 3) camera frame; faces: (F, 3); face_parts: (F,) SMPL joint per face; K: (fx, fy, cx, cy);
    background: (H, W, 3) uint8 fixes the image size. cull_backfaces=True is faster and gives the same pixels
    for a closed mesh; the default also draws back faces (open meshes), lit two-sided.
    """
    bg = np.asarray(background)
    if bg.ndim != 3 or bg.shape[2] != 3 or bg.dtype != np.uint8:
        raise InputError("render", "background", found=f"shape {bg.shape}, dtype {bg.dtype}",
                         expected="(H, W, 3) uint8")
    height, width = bg.shape[:2]
    f = np.asarray(faces)
    parts = np.asarray(face_parts)
    if parts.shape != (len(f),) or not np.issubdtype(parts.dtype, np.integer) or (
            parts.size and (parts.min() < 0 or parts.max() > 23)):
        raise InputError("render", "face_parts", found=f"shape {parts.shape}, dtype {parts.dtype}",
                         expected=f"shape ({len(f)},) SMPL joint indices 0..23")
    region_rgb = np.asarray(appearance.region_rgb)
    if region_rgb.shape != (len(REGIONS), 3):
        raise InputError("render", "appearance.region_rgb", found=f"shape {region_rgb.shape}",
                         expected=f"shape ({len(REGIONS)}, 3), regions {REGIONS}")
    if occluders is not None and (occluders.mask.shape != (height, width) or
                                  occluders.rgb.shape != (height, width, 3)):
        raise InputError("render", "occluders", found=f"mask {occluders.mask.shape}, rgb {occluders.rgb.shape}",
                         expected=f"mask ({height}, {width}) and rgb ({height}, {width}, 3)")

    mesh = project_mesh(verts_cam, f, K, width, height, "render")
    face_id, surface_depth = rasterize_projected(mesh, cull_backfaces)
    has_occ = occluders is not None and bool(occluders.mask.any())
    occ_mask, occ_rgb = (occluders.mask, occluders.rgb) if has_occ else (np.zeros((1, 1), bool), bg[:1, :1])
    bounds = front_bounds(mesh)  # the person's pixels lie in the box of its projected vertices
    box = (0, -1, 0, -1) if bounds is None else (
        max(math.floor(bounds[2]) - 1, 0), min(math.ceil(bounds[3]) + 1, height - 1),
        max(math.floor(bounds[0]) - 1, 0), min(math.ceil(bounds[1]) + 1, width - 1))
    noise = max(int(appearance.noise), 0)
    words = 3 * int(np.count_nonzero(face_id >= 0)) if noise else 0  # 16 random bits per person pixel and channel
    bits = np.random.default_rng(appearance.seed).bit_generator.random_raw(max((words + 3) // 4, 1))
    rgb = bg.copy()
    mask = np.empty((height, width), bool)
    total, visible = _composite(face_id, box, np.asarray(verts_cam, np.float32), mesh.faces, parts,
                                appearance.joint_rgb(), np.asarray(appearance.light_dir, np.float32),
                                np.float32(appearance.ambient), np.float32(appearance.diffuse), noise, bits,
                                np.ascontiguousarray(occ_mask, bool), np.ascontiguousarray(occ_rgb), has_occ, rgb,
                                mask)
    part_map = depth = None
    if want_parts:
        part_map = np.zeros((height, width), np.uint8)
        part_map[mask] = parts[face_id[mask]] + 1
    if want_depth:
        depth = np.where(mask, surface_depth, np.float32(0.0))
    return RenderResult(
        rgb=rgb, mask=mask, part_map=part_map, depth=depth, person_pixels_total=total,
        visible_fraction=visible / total if total else 0.0,
        occlusion_ratio=_occlusion_ratio(mesh, bounds, verts_cam, K, visible, total, cull_backfaces),
        face_id=face_id, surface_depth=surface_depth)


@njit(cache=True)
def _composite(face_id, box, verts, faces, parts, joint_rgb, light, ambient, diffuse, noise, bits, occ_mask, occ_rgb,
               has_occ, rgb, mask):
    """The image of `render` in one pass. Person pixels (face_id >= 0) take their face's `shade_faces` colour
    (computed here, once per visible face, float32 like shade_faces), plus noise in [−noise, noise] per channel
    (the k-th person pixel in row-major order, channel c, takes word 3k + c of bits), clipped and rounded;
    occluder pixels (occ_mask, when has_occ) take occ_rgb. box: (row0, row1, col0, col1) inclusive, holding every
    person pixel. Paints into rgb (H, W, 3) uint8, which holds the background, and fills mask (H, W) bool (person
    pixels not occluded); returns (person pixels, visible person pixels)."""
    height, width = face_id.shape
    row0, row1, col0, col1 = box
    colour = np.empty((faces.shape[0], 3), np.float32)
    done = np.zeros(faces.shape[0], np.bool_)
    lx, ly, lz = light[0], light[1], light[2]
    total = visible = 0
    mask[:] = False
    for y in range(row0, row1 + 1):
        for x in range(col0, col1 + 1):
            f = face_id[y, x]
            if f < 0:
                continue
            if not done[f]:
                i0, i1, i2 = faces[f, 0], faces[f, 1], faces[f, 2]
                ax, ay, az = verts[i0, 0], verts[i0, 1], verts[i0, 2]
                e1x, e1y, e1z = verts[i1, 0] - ax, verts[i1, 1] - ay, verts[i1, 2] - az
                e2x, e2y, e2z = verts[i2, 0] - ax, verts[i2, 1] - ay, verts[i2, 2] - az
                nx, ny, nz = e1y * e2z - e1z * e2y, e1z * e2x - e1x * e2z, e1x * e2y - e1y * e2x
                length = max(math.sqrt(nx * nx + ny * ny + nz * nz), np.float32(1e-30))
                cos = (nx * lx + ny * ly + nz * lz) / length
                if nx * ax + ny * ay + nz * az >= 0:  # turned away from the camera: lit from the other side
                    cos = -cos
                shade = np.float32(255.0) * (ambient + diffuse * max(cos, np.float32(0.0)))
                for k in range(3):
                    colour[f, k] = min(joint_rgb[parts[f], k] * shade, np.float32(255.0))
                done[f] = True
            if not (has_occ and occ_mask[y, x]):
                for k in range(3):
                    value = colour[f, k]
                    if noise > 0:
                        value += _uniform_noise(bits, 3 * total + k, noise)
                    rgb[y, x, k] = np.uint8(min(max(value, 0.0), 255.0) + 0.5)
                mask[y, x] = True
                visible += 1
            total += 1
    if has_occ:
        for y in range(height):
            for x in range(width):
                if occ_mask[y, x]:
                    for k in range(3):
                        rgb[y, x, k] = occ_rgb[y, x, k]
    return total, visible


# ----------------------------------------------------------------------------------------- ground-truth labels
def keypoint_visibility(points_cam, K, width: int, height: int, face_id: np.ndarray, depth: np.ndarray,
                        face_parts: np.ndarray, joint_parts, occluder_mask: np.ndarray | None = None,
                        depth_allowance: float = 0.1) -> np.ndarray:
    """Whether each joint is visible in the image.

    points_cam: (J, 3) camera frame; face_id, depth: (H, W) rasteriser buffers before occluders; face_parts:
    (F,); joint_parts: (J,) SMPL joint index whose body part each joint belongs to; occluder_mask: (H, W) bool.

    Joints lie *inside* the body, so a depth test against the surface would call every joint hidden. Rule: a
    joint is visible when it is in front of the camera (z > NEAR), projects inside the image, its pixel (the one
    whose square holds the projection) is not under an occluder, and the body surface at that pixel is the
    joint's own part, its parent or a child (SMPL kinematic tree) — or there is no surface there, or the joint is
    nearer than the surface (it sticks out of the mesh). Any other part there means another limb is in front.
    A surface of another part within `depth_allowance` metres in front of the joint also counts as the joint's
    own skin: seen from behind, the skin over a shoulder joint is skinned to spine3 (its grandparent), ~5-8 cm
    from the joint, whereas a limb or the torso hiding a joint lies further in front (a far shoulder in a 3/4
    back view sits ~20-30 cm behind the torso's surface). Returns (J,) bool.
    """
    pts = np.asarray(points_cam, np.float64)
    jp = np.asarray(joint_parts)
    if pts.ndim != 2 or pts.shape[1] != 3 or jp.shape != (len(pts),) or (jp.size and (jp.min() < 0 or jp.max() > 23)):
        raise InputError("keypoint_visibility", "points_cam/joint_parts", found=f"{pts.shape} / {jp.shape}",
                         expected="points (J, 3) and joint_parts (J,) SMPL joint indices 0..23")
    if face_id.shape != (height, width) or depth.shape != (height, width):
        raise InputError("keypoint_visibility", "face_id/depth", found=f"{face_id.shape} / {depth.shape}",
                         expected=f"({height}, {width})")
    occ = np.zeros((1, 1), bool) if occluder_mask is None else np.asarray(occluder_mask, bool)
    return _visibility_kernel(pts, np.array([float(x) for x in K]), width, height, face_id, depth,
                              np.asarray(face_parts), jp.astype(np.int64), occ, occluder_mask is not None,
                              float(depth_allowance), PART_NEIGHBOURS)


@njit(cache=True)
def _visibility_kernel(pts, K, width, height, face_id, depth, face_parts, joint_parts, occ, has_occ, allowance,
                       neighbours):
    """The rule of `keypoint_visibility` per joint: (J,) bool."""
    visible = np.zeros(len(pts), np.bool_)
    for j in range(len(pts)):
        z = pts[j, 2]
        if not z > NEAR:
            continue
        u, v = K[0] * pts[j, 0] / z + K[2], K[1] * pts[j, 1] / z + K[3]
        if not (0 <= u < width and 0 <= v < height):
            continue
        row, col = int(v), int(u)
        if has_occ and occ[row, col]:
            continue
        fid = face_id[row, col]
        visible[j] = fid < 0 or z - depth[row, col] < allowance or neighbours[joint_parts[j], face_parts[fid]]
    return visible


def occlusion_ratio(verts_cam, faces, K, width: int, height: int, visible_pixels: int,
                    person_pixels_in_image: int | None = None, cull_backfaces: bool = False,
                    max_canvas_pixels: int | None = None) -> float:
    """1 - visible person pixels / person pixels the body would cover in an unbounded image.

    The unbounded count covers a canvas that holds the image and the projected bounding box of all vertices (the
    image's pixel grid extended): person_pixels_in_image (when given: the person pixels `render` counted) plus
    the canvas pixels outside the image that the mesh covers (`raster.covered_outside`, the same coverage
    rule), or without it the whole canvas rasterised. A canvas larger than max_canvas_pixels (default 4·W·H, at
    least 256²) is rasterised at a lower resolution s < 1 and its count scaled by 1/s² (an estimate; only for
    bodies far out of frame). Truncation at the border
    and occluders both count as occlusion. Returns a float in [0, 1]; 1 when no part of the body is in front
    of the camera.
    """
    mesh = project_mesh(verts_cam, faces, K, width, height, "occlusion_ratio")
    return _occlusion_ratio(mesh, front_bounds(mesh), verts_cam, K, visible_pixels, person_pixels_in_image,
                            cull_backfaces, max_canvas_pixels)


def _occlusion_ratio(mesh: ProjectedMesh, bounds, verts_cam, K, visible_pixels: int,
                     person_pixels_in_image: int | None, cull_backfaces: bool,
                     max_canvas_pixels: int | None = None) -> float:
    """`occlusion_ratio` of a mesh already projected (`raster.project_mesh`) from verts_cam with K, whose
    `raster.front_bounds` are `bounds`."""
    if bounds is None:
        return 1.0
    u_min, u_max, v_min, v_max = bounds
    width, height = mesh.width, mesh.height
    # columns whose centre c + 0.5 can lie in [u_min, u_max]; rows likewise
    x0, x1 = min(0, math.ceil(u_min - 0.5)), max(width, math.floor(u_max - 0.5) + 1)
    y0, y1 = min(0, math.ceil(v_min - 0.5)), max(height, math.floor(v_max - 0.5) + 1)
    limit = max_canvas_pixels or max(4 * width * height, 256 * 256)
    s = min(1.0, math.sqrt(limit / ((x1 - x0) * (y1 - y0))))
    if (x0, y0, x1, y1) == (0, 0, width, height) and person_pixels_in_image is not None:
        total = float(person_pixels_in_image)
    elif s == 1.0 and person_pixels_in_image is not None:
        total = person_pixels_in_image + covered_outside(mesh, (x0, y0, x1, y1), cull_backfaces)
    else:
        fx, fy, cx, cy = (float(x) for x in K)
        canvas_k = (fx * s, fy * s, (cx - x0) * s, (cy - y0) * s)
        canvas_w, canvas_h = max(math.ceil((x1 - x0) * s), 1), max(math.ceil((y1 - y0) * s), 1)
        covered = int((rasterize(verts_cam, mesh.faces, canvas_k, canvas_w, canvas_h, cull_backfaces)[0] >= 0).sum())
        total = covered / (s * s)
    if total <= 0:
        return 1.0
    return float(min(max(1.0 - visible_pixels / total, 0.0), 1.0))
