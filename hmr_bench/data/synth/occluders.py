"""SynthHMR's occluders: rotated rectangles, ellipses and star-shaped polygons in front of the person, each with
its own colour, gradient, optional stripes and noise (`sample_occluders` → `Occluders`, a mask and its colours).

Pixel centres are at integer + 0.5 (see `raster`); the painting runs in a numba kernel and every random draw comes
from the rng given, so occluders are a pure function of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from hmr_bench.data.synth.appearance import check_difficulty, garment_colour, uniform_noise
from hmr_bench.errors import InputError


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
    d = check_difficulty(difficulty, "sample_occluders")
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
    base = garment_colour(rng) * 255.0 if rng.random() < 0.5 else rng.uniform(0, 255, 3)
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
            shade = (j - w / 2) * slope[0] + (i - h / 2) * slope[1] + uniform_noise(bits, i * w + j, 6)
            if period != 0.0:
                q = (j * stripe_cos + i * stripe_sin) / period
                shade += 20.0 if q - math.floor(q) < 0.5 else -20.0
            mask[row0 + i, col0 + j] = True
            for c in range(3):
                rgb[row0 + i, col0 + j, c] = np.uint8(min(max(base[c] + shade, 0.0), 255.0))
