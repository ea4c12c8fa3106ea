"""SynthHMR's backgrounds: a colour gradient plus multi-scale value noise, flat and striped patches, pixel noise.

`make_background` draws one from an rng ((H, W, 3) uint8 RGB); the per-pixel work runs in numba kernels, the random
draws stay with numpy's Generator, so a background is a pure function of its rng.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numba import njit

from hmr_bench.data.synth.appearance import check_difficulty, uniform_noise
from hmr_bench.errors import InputError

_GRID = 17  # resolution of the smooth layer (gradient + value noise) before it is upsampled to the image
_OCTAVES = np.array([2, 3, 5, 9, 17])  # value-noise grids, coarse to fine, each with half the previous amplitude


def make_background(rng: np.random.Generator, height: int, width: int, difficulty: float) -> np.ndarray:
    """A textured background (height, width, 3) uint8: a colour gradient plus multi-scale value noise (built on
    a 17x17 grid, upsampled smoothly), then a few flat rectangles and striped patches, then pixel noise.
    difficulty in [0, 1] adds clutter (more shapes), texture contrast and noise."""
    d = check_difficulty(difficulty, "make_background")
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
            noise = uniform_noise(bits, y * width + x, amp)
            for c in range(3):
                out[y, x, c] = np.uint8(min(max(line[x, c] + noise, 0.0), 255.0))
