"""Z-buffer rasteriser of triangle meshes: a face-id buffer and a depth buffer, no GL.

Conventions (OpenCV camera): x right, y down, z forward, metres; a vertex projects to pixel coordinates
``u = fx·x/z + cx``, ``v = fy·y/z + cy``; pixel ``(row i, column j)`` has its centre at ``(j + 0.5, i + 0.5)``.

Coverage rule. A pixel belongs to a triangle when its centre lies inside, tested with the three edge functions
``E_ab(p) = (b - a) × (p - a)`` of the triangle taken in the winding whose signed screen area is positive. A centre
exactly on an edge (``E == 0``) is covered only when that edge is a *top* or *left* edge (the Direct3D rule):
in that winding, with y down, an edge ``a → b`` is top/left when ``b.y < a.y``, or ``b.y == a.y and b.x > a.x``.
Two triangles that share an edge and lie on either side of it (neighbours in a mesh without folds) traverse it
in opposite directions, so exactly one of them takes the pixels on it: no pixel is covered twice by such a pair
nor left out between them. To make that exact in
floating point, every edge function is evaluated from the edge's endpoints in a canonical order (the lower
``(y, x)`` first) and negated when needed, so both triangles get bitwise opposite values.

Facing. For a mesh wound counter-clockwise seen from outside (SMPL's convention), a face turned towards the camera
has a negative signed screen area ``(u1-u0)(v2-v0) - (u2-u0)(v1-v0)``; ``cull_backfaces`` drops the others.
Zero-area triangles cover nothing.

Depth is the camera z of the surface, perspective-correct: ``1/z`` is interpolated linearly with the screen
barycentric weights. The nearest surface wins (strictly nearer; on an exact tie the lower face index stays).

Near plane. A triangle with any vertex at ``z <= NEAR`` (1 mm) is skipped as a whole, not clipped: SynthHMR never
puts a person that close to the camera.

`rasterize` is a numba kernel (single-threaded; callers scale out with processes). `rasterize_reference` is a
plain numpy version of the same rule, kept to test the kernel pixel for pixel. A caller that needs more than
one pass over a mesh projects it once (`project_mesh`) and hands the `ProjectedMesh` to `rasterize_projected`,
`covered_outside` (the same rule over pixels of the image's grid outside the image, for the occlusion ratio)
and `front_bounds`; both kernels share the per-face set-up (`_setup`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from hmr_bench.errors import InputError

NEAR = 1e-3  # metres; triangles with a vertex at z <= NEAR are skipped


def _check_inputs(verts_cam, faces, K, width, height, source: str):
    """Validated (verts (V,3) float64, faces (F,3) int32, (fx, fy, cx, cy) floats, width, height)."""
    verts = np.asarray(verts_cam)
    if verts.ndim != 2 or verts.shape[1] != 3:
        raise InputError(source, "verts_cam", found=f"shape {verts.shape}", expected="shape (V, 3)")
    if not np.issubdtype(verts.dtype, np.floating) or not np.isfinite(verts).all():
        raise InputError(source, "verts_cam", found=f"dtype {verts.dtype}, finite={np.isfinite(verts).all()}",
                         expected="finite floats")
    f = np.asarray(faces)
    if f.ndim != 2 or f.shape[1] != 3 or not np.issubdtype(f.dtype, np.integer):
        raise InputError(source, "faces", found=f"shape {f.shape}, dtype {f.dtype}", expected="integer shape (F, 3)")
    if f.size and (f.min() < 0 or f.max() >= len(verts)):
        raise InputError(source, "faces", found=f"indices in [{f.min()}, {f.max()}]",
                         expected=f"indices in [0, {len(verts) - 1}]")
    k = np.asarray(K, dtype=np.float64).reshape(-1)
    if k.shape != (4,) or not np.isfinite(k).all() or k[0] <= 0 or k[1] <= 0:
        raise InputError(source, "K", found=np.asarray(K).tolist(), expected="(fx, fy, cx, cy) with fx, fy > 0")
    if int(width) != width or int(height) != height or width < 1 or height < 1:
        raise InputError(source, "width/height", found=(width, height), expected="positive integers")
    return (np.ascontiguousarray(verts, np.float64), np.ascontiguousarray(f, np.int32),
            tuple(float(x) for x in k), int(width), int(height))


def _project(verts: np.ndarray, K: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """verts: (V, 3) float64 camera frame -> u, v, z: (V,) float64 (u, v meaningless where z <= NEAR)."""
    fx, fy, cx, cy = K
    z = np.ascontiguousarray(verts[:, 2])
    zs = np.where(z > NEAR, z, 1.0)
    return fx * verts[:, 0] / zs + cx, fy * verts[:, 1] / zs + cy, z


def rasterize(verts_cam, faces, K, width: int, height: int, cull_backfaces: bool = True):
    """Face-id and depth buffers of a mesh.

    verts_cam: (V, 3) camera-frame vertices (metres); faces: (F, 3) vertex indices; K: (fx, fy, cx, cy) pixels.
    Returns face_id: (H, W) int32, -1 = background; depth: (H, W) float32 camera z, 0 = background.
    """
    return rasterize_projected(project_mesh(verts_cam, faces, K, width, height, "rasterize"), cull_backfaces)


class ProjectedMesh(NamedTuple):
    """A validated mesh projected into a W × H image: u, v, z (V,) float64 (u, v meaningless where z <= NEAR),
    faces (F, 3) int32; what `rasterize_projected`, `covered_outside` and `front_bounds` take."""

    u: np.ndarray
    v: np.ndarray
    z: np.ndarray
    faces: np.ndarray
    width: int
    height: int


def project_mesh(verts_cam, faces, K, width: int, height: int, source: str = "project_mesh") -> ProjectedMesh:
    """Validates a mesh (errors name `source`) and projects it: verts_cam (V, 3), faces (F, 3), K (fx, fy, cx, cy)."""
    verts, f, k, width, height = _check_inputs(verts_cam, faces, K, width, height, source)
    return ProjectedMesh(*_project(verts, k), f, width, height)


def rasterize_projected(mesh: ProjectedMesh, cull_backfaces: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """`rasterize` of a projected mesh: face_id (H, W) int32 (-1 = background), depth (H, W) float32 (0 there)."""
    face_id = np.full((mesh.height, mesh.width), -1, np.int32)
    zbuf = np.full((mesh.height, mesh.width), np.inf)
    _raster_kernel(mesh.u, mesh.v, mesh.z, mesh.faces, bool(cull_backfaces), face_id, zbuf)
    depth = np.empty((mesh.height, mesh.width), np.float32)
    _depth_kernel(face_id, zbuf, depth)
    return face_id, depth


@njit(cache=True)
def _depth_kernel(face_id, zbuf, depth):
    """depth = float32(zbuf) where face_id >= 0, else 0 (all (H, W))."""
    for i in range(face_id.shape[0]):
        for j in range(face_id.shape[1]):
            depth[i, j] = zbuf[i, j] if face_id[i, j] >= 0 else 0.0


@njit(cache=True)
def _front_bounds(u, v, z):
    """(u min, u max, v min, v max) over the vertices with z > NEAR; NaNs when there are none."""
    lo_u = lo_v = np.inf
    hi_u = hi_v = -np.inf
    for i in range(len(z)):
        if z[i] > NEAR:
            lo_u, hi_u = min(lo_u, u[i]), max(hi_u, u[i])
            lo_v, hi_v = min(lo_v, v[i]), max(hi_v, v[i])
    if lo_u > hi_u:
        return np.nan, np.nan, np.nan, np.nan
    return lo_u, hi_u, lo_v, hi_v


def front_bounds(mesh: ProjectedMesh) -> tuple[float, float, float, float] | None:
    """(u min, u max, v min, v max) of the projected vertices in front of the camera (z > NEAR), or None."""
    bounds = _front_bounds(mesh.u, mesh.v, mesh.z)
    return None if math.isnan(bounds[0]) else tuple(float(b) for b in bounds)


@njit(cache=True)
def _edge(ax, ay, bx, by):
    """Directed edge a -> b as (sx, sy, dx, dy, sign, top_left): E_ab(p) = sign·(dx·(py - sy) - dy·(px - sx))
    with (sx, sy), (dx, dy) from the endpoints in canonical (y, x) order, so a shared edge gives exact negatives."""
    if ay < by or (ay == by and ax < bx):
        sx, sy, dx, dy, sign = ax, ay, bx - ax, by - ay, 1.0
    else:
        sx, sy, dx, dy, sign = bx, by, ax - bx, ay - by, -1.0
    top_left = by < ay or (by == ay and bx > ax)
    return sx, sy, dx, dy, sign, top_left


@njit(cache=True, inline="always")
def _setup(u, v, z, faces, t, cull, col_lo, col_hi, row_lo, row_hi):
    """Face t's rasterisation set-up: (skip, col0, col1, row0, row1, the three edges opposite vertices 0, 1, 2
    as `_edge` tuples, 1/area, 1/z of vertices 0, 1, 2), its pixel box clipped to columns [col_lo, col_hi) and
    rows [row_lo, row_hi) of the image's pixel grid (which may extend past the image)."""
    i0, i1, i2 = faces[t, 0], faces[t, 1], faces[t, 2]
    x0, y0, x1, y1, x2, y2 = u[i0], v[i0], u[i1], v[i1], u[i2], v[i2]
    area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
    col0 = col1 = row0 = row1 = 0
    skip = z[i0] <= NEAR or z[i1] <= NEAR or z[i2] <= NEAR or area == 0.0 or (area > 0.0 and cull)
    if not skip:
        if area < 0.0:  # front-facing: swap vertices 1 and 2 to get the positive winding
            i1, i2 = i2, i1
            x1, y1, x2, y2 = x2, y2, x1, y1
            area = -area
        col0 = max(math.ceil(max(min(x0, x1, x2), col_lo - 1.0) - 0.5), col_lo)
        col1 = min(math.floor(min(max(x0, x1, x2), col_hi + 1.0) - 0.5), col_hi - 1)
        row0 = max(math.ceil(max(min(y0, y1, y2), row_lo - 1.0) - 0.5), row_lo)
        row1 = min(math.floor(min(max(y0, y1, y2), row_hi + 1.0) - 0.5), row_hi - 1)
        skip = col1 < col0 or row1 < row0
    if skip:
        none = (0.0, 0.0, 0.0, 0.0, 0.0, False)
        return True, col0, col1, row0, row1, none, none, none, 0.0, (0.0, 0.0, 0.0)
    ea = _edge(x1, y1, x2, y2)  # opposite vertex 0
    eb = _edge(x2, y2, x0, y0)  # opposite vertex 1
    ec = _edge(x0, y0, x1, y1)  # opposite vertex 2
    return False, col0, col1, row0, row1, ea, eb, ec, 1.0 / area, (1.0 / z[i0], 1.0 / z[i1], 1.0 / z[i2])


@njit(cache=True, inline="always")
def _edge_value(e, px, py):
    """E(p) of an `_edge` tuple and whether a centre at p passes that edge (> 0, or == 0 on a top-left edge)."""
    sx, sy, dx, dy, sign, top_left = e
    value = sign * (dx * (py - sy) - dy * (px - sx))
    return value, not (value < 0.0 or (value == 0.0 and not top_left))


@njit(cache=True)
def _raster_kernel(u, v, z, faces, cull, face_id, zbuf):
    """u, v, z: (V,) float64 projections; faces: (F, 3) int32; face_id: (H, W) int32 and zbuf: (H, W) float64,
    updated in place (zbuf starts at +inf)."""
    height, width = face_id.shape
    for t in range(faces.shape[0]):
        skip, col0, col1, row0, row1, ea, eb, ec, inv_area, iz = _setup(u, v, z, faces, t, cull, 0, width, 0, height)
        if skip:
            continue
        ax, ay, adx, ady, asg, atl = ea
        bx, by, bdx, bdy, bsg, btl = eb
        cx, cy, cdx, cdy, csg, ctl = ec
        iz0, iz1, iz2 = iz
        for row in range(row0, row1 + 1):
            py = row + 0.5
            for col in range(col0, col1 + 1):
                px = col + 0.5
                e0 = asg * (adx * (py - ay) - ady * (px - ax))  # `_edge_value`, written out (a little faster)
                if e0 < 0.0 or (e0 == 0.0 and not atl):
                    continue
                e1 = bsg * (bdx * (py - by) - bdy * (px - bx))
                if e1 < 0.0 or (e1 == 0.0 and not btl):
                    continue
                e2 = csg * (cdx * (py - cy) - cdy * (px - cx))
                if e2 < 0.0 or (e2 == 0.0 and not ctl):
                    continue
                d = 1.0 / ((e0 * inv_area) * iz0 + (e1 * inv_area) * iz1 + (e2 * inv_area) * iz2)
                if d < zbuf[row, col]:
                    zbuf[row, col] = d
                    face_id[row, col] = t


@njit(cache=True)
def _outside_kernel(u, v, z, faces, cull, width, height, x0, y0, covered):
    """Marks covered[row − y0, col − x0] = 1 for every pixel of the canvas (the image's pixel grid over columns
    x0 .. x0 + covered.shape[1] − 1 and rows y0 ..) that lies outside the W × H image and some face covers."""
    x1, y1 = x0 + covered.shape[1], y0 + covered.shape[0]
    for t in range(faces.shape[0]):
        i0, i1, i2 = faces[t, 0], faces[t, 1], faces[t, 2]
        if (min(z[i0], z[i1], z[i2]) > NEAR and min(u[i0], u[i1], u[i2]) > -0.5 and min(v[i0], v[i1], v[i2]) > -0.5
                and max(u[i0], u[i1], u[i2]) < width + 0.5 and max(v[i0], v[i1], v[i2]) < height + 0.5):
            continue  # no pixel centre outside the image can lie in this face's box
        skip, col0, col1, row0, row1, ea, eb, ec, inv_area, iz = _setup(u, v, z, faces, t, cull, x0, x1, y0, y1)
        if skip:
            continue
        for row in range(row0, row1 + 1):
            py = row + 0.5
            in_rows = 0 <= row < height
            for col in range(col0, col1 + 1):
                if in_rows and 0 <= col < width:
                    continue
                px = col + 0.5
                if _edge_value(ea, px, py)[1] and _edge_value(eb, px, py)[1] and _edge_value(ec, px, py)[1]:
                    covered[row - y0, col - x0] = 1


def covered_outside(mesh: ProjectedMesh, canvas, cull_backfaces: bool = True) -> int:
    """Number of pixels outside the mesh's W × H image, inside canvas = (x0, y0, x1, y1) (integer pixel columns
    x0 .. x1 − 1 and rows y0 .. y1 − 1 of the image's own grid, extended), whose centre the mesh covers — by the
    same rule as `rasterize`, so this count plus the person pixels of `rasterize` is the mesh's coverage of
    the whole canvas."""
    x0, y0, x1, y1 = (int(c) for c in canvas)
    if x1 <= x0 or y1 <= y0:
        return 0
    covered = np.zeros((y1 - y0, x1 - x0), np.uint8)
    _outside_kernel(mesh.u, mesh.v, mesh.z, mesh.faces, bool(cull_backfaces), mesh.width, mesh.height, x0, y0,
                    covered)
    return int(np.count_nonzero(covered))


def _edge_np(ax, ay, bx, by):
    """Plain-Python twin of `_edge` (same canonical order, same tie rule)."""
    if ay < by or (ay == by and ax < bx):
        sx, sy, dx, dy, sign = ax, ay, bx - ax, by - ay, 1.0
    else:
        sx, sy, dx, dy, sign = bx, by, ax - bx, ay - by, -1.0
    return sx, sy, dx, dy, sign, bool(by < ay or (by == ay and bx > ax))


def _covered(e: np.ndarray, top_left: bool) -> np.ndarray:
    return (e > 0) | ((e == 0) & top_left)


def rasterize_reference(verts_cam, faces, K, width: int, height: int, cull_backfaces: bool = True):
    """Slow numpy version of `rasterize` (same rule, vectorised over each triangle's pixel box); for tests."""
    verts, f, k, width, height = _check_inputs(verts_cam, faces, K, width, height, "rasterize_reference")
    u, v, z = _project(verts, k)
    face_id = np.full((height, width), -1, np.int32)
    zbuf = np.full((height, width), np.inf)
    rows, cols = np.mgrid[0:height, 0:width]
    centre_y, centre_x = rows + 0.5, cols + 0.5
    for t, (a, b, c) in enumerate(f):
        if min(z[a], z[b], z[c]) <= NEAR:
            continue
        area = (u[b] - u[a]) * (v[c] - v[a]) - (u[c] - u[a]) * (v[b] - v[a])
        if area == 0 or (area > 0 and cull_backfaces):
            continue
        if area < 0:
            b, c, area = c, b, -area
        xs, ys = (u[a], u[b], u[c]), (v[a], v[b], v[c])
        col0 = max(math.ceil(max(min(xs), -1.0) - 0.5), 0)
        col1 = min(math.floor(min(max(xs), width + 1.0) - 0.5), width - 1)
        row0 = max(math.ceil(max(min(ys), -1.0) - 0.5), 0)
        row1 = min(math.floor(min(max(ys), height + 1.0) - 0.5), height - 1)
        if col1 < col0 or row1 < row0:
            continue
        py = centre_y[row0:row1 + 1, col0:col1 + 1]
        px = centre_x[row0:row1 + 1, col0:col1 + 1]
        edges, inside = [], np.ones(py.shape, bool)
        for p, q in ((b, c), (c, a), (a, b)):  # edges opposite a, b, c
            sx, sy, dx, dy, sign, top_left = _edge_np(u[p], v[p], u[q], v[q])
            edges.append(sign * (dx * (py - sy) - dy * (px - sx)))
            inside &= _covered(edges[-1], top_left)
        w0, w1, w2 = (e[inside] * (1.0 / area) for e in edges)
        depth = 1.0 / (w0 * (1.0 / z[a]) + w1 * (1.0 / z[b]) + w2 * (1.0 / z[c]))
        box_z = zbuf[row0:row1 + 1, col0:col1 + 1]
        box_id = face_id[row0:row1 + 1, col0:col1 + 1]
        nearer = depth < box_z[inside]
        rr, cc = np.nonzero(inside)
        box_z[rr[nearer], cc[nearer]] = depth[nearer]
        box_id[rr[nearer], cc[nearer]] = t
    return face_id, np.where(face_id >= 0, zbuf, 0.0).astype(np.float32)
