"""SynthHMR's renderer: a rasterised body over a textured background, with clothing colours, flat Lambert
shading, occluders, part labels, keypoint visibility and occlusion ratio.

Camera frame (OpenCV): x right, y down, z forward, metres; K = (fx, fy, cx, cy) in pixels; pixel centres at
integer + 0.5 (see `raster`). Colours are albedos in [0, 1]; images are (H, W, 3) uint8 RGB.

Body parts are the 24 SMPL joints (a face's part is the dominant joint of its vertices' skinning weights,
`face_parts`); clothing is painted per *region* (`REGIONS`), a group of parts that one garment covers, and a
region always holds left and right together, so colour never tells left from right.

Everything here is numpy except `rasterize` (numba); every function is deterministic given its rng or seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from hmr_bench.body.joint_sets import SMPL24, SMPL24_PARENTS
from hmr_bench.data.synth.raster import NEAR, rasterize
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
    return (v - v * s * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)).astype(np.float32)


def _garment_colour(rng: np.random.Generator) -> np.ndarray:
    """(3,) a clothing-like albedo: a common garment colour (jittered) or, less often, any moderate colour."""
    if rng.random() < 0.7:
        base = _GARMENT_PALETTE[rng.integers(len(_GARMENT_PALETTE))]
        return np.clip(base + rng.uniform(-0.06, 0.06, 3), 0.02, 0.98).astype(np.float32)
    return _hsv_to_rgb(rng.random(), rng.uniform(0.2, 0.9), rng.uniform(0.15, 0.95))


def skin_tone(rng: np.random.Generator) -> np.ndarray:
    """(3,) a skin albedo drawn uniformly along `SKIN_TONES`, jittered by a few percent."""
    t = rng.uniform(0, len(SKIN_TONES) - 1)
    i = min(int(t), len(SKIN_TONES) - 2)
    tone = SKIN_TONES[i] + (t - i) * (SKIN_TONES[i + 1] - SKIN_TONES[i])
    return np.clip(tone * rng.uniform(0.95, 1.05) + rng.uniform(-0.02, 0.02, 3), 0.0, 1.0).astype(np.float32)


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
        mean = np.asarray(background, np.float32).reshape(-1, 3).mean(0) / 255.0
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
@lru_cache(maxsize=32)
def _upsample_matrix(n_out: int, n_in: int) -> np.ndarray:
    """(n_out, n_in) float32 smoothstep interpolation weights from n_in grid nodes spanning the output."""
    s = (np.arange(n_out) + 0.5) / n_out * (n_in - 1)
    i0 = np.minimum(s.astype(int), n_in - 2)
    t = s - i0
    t = t * t * (3 - 2 * t)
    m = np.zeros((n_out, n_in), np.float32)
    m[np.arange(n_out), i0] = 1 - t
    m[np.arange(n_out), i0 + 1] = t
    m.flags.writeable = False
    return m


def _upsample(grid: np.ndarray, height: int, width: int) -> np.ndarray:
    """grid: (h, w, C) float32 -> (height, width, C) smooth interpolation (two small matrix products)."""
    h, w, c = grid.shape
    rows = (_upsample_matrix(height, h) @ grid.reshape(h, w * c)).reshape(height, w, c)
    return (rows.transpose(0, 2, 1) @ _upsample_matrix(width, w).T).transpose(0, 2, 1)


_GRID = 17  # resolution of the smooth layer (gradient + value noise) before it is upsampled to the image


def make_background(rng: np.random.Generator, height: int, width: int, difficulty: float) -> np.ndarray:
    """A textured background (height, width, 3) uint8: a colour gradient plus multi-scale value noise (built on
    a 17x17 grid, upsampled smoothly), then a few flat rectangles and striped patches, then pixel noise.
    difficulty in [0, 1] adds clutter (more shapes), texture contrast and noise."""
    d = _check_difficulty(difficulty, "make_background")
    if int(height) != height or int(width) != width or height < 1 or width < 1:
        raise InputError("make_background", "height/width", found=(height, width), expected="positive integers")
    g = np.linspace(0.0, 1.0, _GRID, dtype=np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    t = math.cos(angle) * g[None, :] + math.sin(angle) * g[:, None]
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    c0, c1 = rng.uniform(0.05, 0.95, 3), rng.uniform(0.05, 0.95, 3)
    smooth = (c0 + (c1 - c0) * t[..., None]).astype(np.float32)
    amplitude = rng.uniform(0.1, 0.2) + 0.15 * d
    for nodes in (2, 3, 5, 9, 17):  # octaves, coarse to fine, each with half the previous amplitude
        lum = rng.uniform(-1, 1, (nodes, nodes, 1))
        chroma = rng.uniform(-1, 1, (nodes, nodes, 3)) * 0.5
        layer = (amplitude * (lum + chroma)).astype(np.float32)
        smooth += _upsample(layer, _GRID, _GRID) if nodes < _GRID else layer
        amplitude *= 0.5
    image = _upsample(smooth * 255.0, int(height), int(width))
    for _ in range(rng.poisson(1.0 + 5.0 * d)):
        _paint_patch(rng, image)
    noise = rng.integers(-(3 + int(10 * d)), 4 + int(10 * d), (int(height), int(width), 1), dtype=np.int16)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def _paint_patch(rng: np.random.Generator, image: np.ndarray) -> None:
    """Blends a random flat rectangle or striped patch into image (H, W, 3) float32, in place."""
    height, width = image.shape[:2]
    ph, pw = int(rng.uniform(0.1, 0.6) * height) + 1, int(rng.uniform(0.1, 0.6) * width) + 1
    y0, x0 = int(rng.integers(-ph // 2, height)), int(rng.integers(-pw // 2, width))
    rows, cols = slice(max(y0, 0), min(y0 + ph, height)), slice(max(x0, 0), min(x0 + pw, width))
    box = image[rows, cols]
    if box.size == 0:
        return
    colour = rng.uniform(0, 255, 3).astype(np.float32)
    alpha = np.float32(rng.uniform(0.4, 1.0))
    if rng.random() < 0.5:
        box += alpha * (colour - box)
        return
    period, angle = rng.uniform(3.0, 24.0), rng.uniform(0, math.pi)
    yy, xx = np.ogrid[rows, cols]
    stripe = ((xx * math.cos(angle) + yy * math.sin(angle)) / period) % 1.0 < 0.5
    box += (alpha * stripe[..., None]) * (colour - box)


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
        rows, cols, inside = shape
        mask[rows, cols] |= inside
        rgb[rows, cols] = np.where(inside[..., None], _occluder_texture(rng, inside.shape), rgb[rows, cols])
    return Occluders(mask, rgb)


def _occluder_shape(rng, height, width, cx, cy, sx, sy):
    """(row slice, column slice, (h, w) bool) of one random shape with half sizes (sx, sy), rotated, centred at
    (cx, cy); None when it misses the image."""
    r = math.sqrt(2) * max(sx, sy) + 1.0  # bounds every shape below
    rows = slice(max(int(cy - r), 0), min(int(cy + r) + 1, height))
    cols = slice(max(int(cx - r), 0), min(int(cx + r) + 1, width))
    if rows.start >= rows.stop or cols.start >= cols.stop:
        return None
    yy, xx = np.ogrid[rows, cols]
    angle = rng.uniform(0, math.pi)
    cos, sin = math.cos(angle), math.sin(angle)
    dx, dy = xx + 0.5 - cx, yy + 0.5 - cy
    lx, ly = dx * cos + dy * sin, -dx * sin + dy * cos  # pixel centres in the shape's own frame
    kind = rng.integers(3)
    if kind == 0:  # ellipse
        return rows, cols, (lx / sx) ** 2 + (ly / sy) ** 2 <= 1.0
    if kind == 1:  # rectangle
        return rows, cols, (np.abs(lx) <= sx) & (np.abs(ly) <= sy)
    n = int(rng.integers(4, 9))  # star-shaped polygon (gaps < 180°) around its centre: a fan of triangles
    angles = np.sort((np.arange(n) + rng.uniform(-0.4, 0.4, n)) * (2 * math.pi / n))
    radius = math.sqrt(2) * rng.uniform(0.5, 1.0, n)
    px, py = radius * np.cos(angles) * sx, radius * np.sin(angles) * sy
    inside = np.zeros((rows.stop - rows.start, cols.stop - cols.start), bool)
    for i in range(n):
        j = (i + 1) % n
        inside |= _in_triangle(lx, ly, px[i], py[i], px[j], py[j])
    return rows, cols, inside


def _in_triangle(dx, dy, ax, ay, bx, by):
    """Pixels (dx, dy) inside the triangle (0, 0), a, b (either winding, edges included)."""
    e0 = ax * dy - ay * dx
    e1 = (bx - ax) * (dy - ay) - (by - ay) * (dx - ax)
    e2 = -bx * (dy - by) + by * (dx - bx)
    return ((e0 >= 0) & (e1 >= 0) & (e2 >= 0)) | ((e0 <= 0) & (e1 <= 0) & (e2 <= 0))


def _occluder_texture(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """(h, w, 3) uint8: a colour with a linear gradient, optional stripes and noise."""
    h, w = shape
    base = _garment_colour(rng) * 255.0 if rng.random() < 0.5 else rng.uniform(0, 255, 3)
    yy, xx = np.ogrid[0:h, 0:w]
    slope = rng.uniform(-0.5, 0.5, 2) * 60.0 / max(h, w)
    tex = base + ((xx - w / 2) * slope[0] + (yy - h / 2) * slope[1])[..., None]
    if rng.random() < 0.3:
        period, angle = rng.uniform(3.0, 12.0), rng.uniform(0, math.pi)
        tex = tex + 40.0 * ((((xx * math.cos(angle) + yy * math.sin(angle)) / period) % 1.0 < 0.5)[..., None] - 0.5)
    tex = tex + rng.integers(-6, 7, (h, w, 1))
    return np.clip(tex, 0, 255).astype(np.uint8)


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

    face_id, surface_depth = rasterize(verts_cam, f, K, width, height, cull_backfaces)
    person = face_id >= 0
    visible_faces = face_id[person]
    colour = shade_faces(verts_cam, f, parts, appearance)[visible_faces]
    if appearance.noise > 0:
        noise_rng = np.random.default_rng(appearance.seed)
        colour += noise_rng.integers(-appearance.noise, appearance.noise + 1, colour.shape).astype(np.float32)
    rgb = bg.copy()
    rgb[person] = (np.clip(colour, 0.0, 255.0) + 0.5).astype(np.uint8)
    mask = person
    if occluders is not None:
        rgb[occluders.mask] = occluders.rgb[occluders.mask]
        mask = person & ~occluders.mask
    total, visible = int(person.sum()), int(mask.sum())
    part_map = depth = None
    if want_parts:
        part_map = np.zeros((height, width), np.uint8)
        part_map[mask] = parts[face_id[mask]] + 1
    if want_depth:
        depth = np.where(mask, surface_depth, np.float32(0.0))
    return RenderResult(
        rgb=rgb, mask=mask, part_map=part_map, depth=depth, person_pixels_total=total,
        visible_fraction=visible / total if total else 0.0,
        occlusion_ratio=occlusion_ratio(verts_cam, f, K, width, height, visible, total, cull_backfaces),
        face_id=face_id, surface_depth=surface_depth)


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
    fx, fy, cx, cy = (float(x) for x in K)
    z = pts[:, 2]
    zs = np.where(z > NEAR, z, 1.0)
    u, v = fx * pts[:, 0] / zs + cx, fy * pts[:, 1] / zs + cy
    inside = (z > NEAR) & (u >= 0) & (u < width) & (v >= 0) & (v < height)
    visible = np.zeros(len(pts), bool)
    for j in np.nonzero(inside)[0]:
        row, col = int(v[j]), int(u[j])
        if occluder_mask is not None and occluder_mask[row, col]:
            continue
        fid = face_id[row, col]
        visible[j] = (fid < 0 or z[j] - depth[row, col] < depth_allowance
                      or bool(PART_NEIGHBOURS[jp[j], face_parts[fid]]))
    return visible


def occlusion_ratio(verts_cam, faces, K, width: int, height: int, visible_pixels: int,
                    person_pixels_in_image: int | None = None, cull_backfaces: bool = False,
                    max_canvas_pixels: int | None = None) -> float:
    """1 - visible person pixels / person pixels the body would cover in an unbounded image.

    The unbounded count rasterises the same mesh into a canvas that holds the image and the projected bounding
    box of all vertices (the image's pixel grid extended, so pixels inside the image are counted exactly as
    `render` counts them); when the body lies inside the image, person_pixels_in_image (if given) is used as is.
    A canvas larger than max_canvas_pixels (default 4·W·H, at least 256²) is rasterised at a lower resolution
    s < 1 and its count scaled by 1/s² (an estimate; only for bodies far out of frame). Truncation at the border
    and occluders both count as occlusion. Returns a float in [0, 1]; 1 when no part of the body is in front
    of the camera.
    """
    verts = np.asarray(verts_cam, np.float64)
    fx, fy, cx, cy = (float(x) for x in K)
    front = verts[verts[:, 2] > NEAR]
    if len(front) == 0:
        return 1.0
    u, v = fx * front[:, 0] / front[:, 2] + cx, fy * front[:, 1] / front[:, 2] + cy
    # columns whose centre c + 0.5 can lie in [u.min(), u.max()]; rows likewise
    x0, x1 = min(0, math.ceil(u.min() - 0.5)), max(width, math.floor(u.max() - 0.5) + 1)
    y0, y1 = min(0, math.ceil(v.min() - 0.5)), max(height, math.floor(v.max() - 0.5) + 1)
    if (x0, y0, x1, y1) == (0, 0, width, height) and person_pixels_in_image is not None:
        total = float(person_pixels_in_image)
    else:
        limit = max_canvas_pixels or max(4 * width * height, 256 * 256)
        s = min(1.0, math.sqrt(limit / ((x1 - x0) * (y1 - y0))))
        canvas_k = (fx * s, fy * s, (cx - x0) * s, (cy - y0) * s)
        canvas_w, canvas_h = max(math.ceil((x1 - x0) * s), 1), max(math.ceil((y1 - y0) * s), 1)
        covered = int((rasterize(verts, faces, canvas_k, canvas_w, canvas_h, cull_backfaces)[0] >= 0).sum())
        total = covered / (s * s)
    if total <= 0:
        return 1.0
    return float(min(max(1.0 - visible_pixels / total, 0.0), 1.0))
