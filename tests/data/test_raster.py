"""The numba rasteriser against a numpy reference, hand-counted pixels and exact ray-plane depths."""

from __future__ import annotations

import numpy as np
import pytest

from hmr_bench.data.synth.raster import rasterize, rasterize_reference
from hmr_bench.errors import InputError
from tests.data import blob_person, free_body_mesh, quad

UNIT_K = (1.0, 1.0, 0.0, 0.0)  # with z = 1 a vertex (x, y, 1) projects to pixel coordinates (x, y)


def assert_same(a, b):
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def random_soup(seed: int, n_verts: int = 80, n_faces: int = 150):
    """Random triangles, some off screen, some crossing the near plane or behind the camera."""
    rng = np.random.default_rng(seed)
    verts = np.c_[rng.uniform(-1.2, 1.2, (n_verts, 2)), rng.uniform(-0.3, 4.0, n_verts)]
    return verts, rng.integers(0, n_verts, (n_faces, 3)).astype(np.int32)


@pytest.mark.parametrize("cull", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_reference_on_random_meshes(seed, cull):
    verts, faces = random_soup(seed)
    k = (40.0, 44.0, 31.5, 27.0)
    ours = rasterize(verts, faces, k, 64, 56, cull_backfaces=cull)
    assert (ours[0] >= 0).sum() > 200
    assert_same(ours, rasterize_reference(verts, faces, k, 64, 56, cull_backfaces=cull))


@pytest.mark.parametrize("cull", [True, False])
def test_matches_reference_with_exact_ties(cull):
    """Vertices on the half-pixel grid, all at z = 1: many pixel centres lie exactly on edges and depths tie."""
    rng = np.random.default_rng(7)
    verts = np.c_[rng.integers(-4, 70, (60, 2)) * 0.5, np.ones(60)]
    faces = rng.integers(0, 60, (120, 3)).astype(np.int32)
    assert_same(rasterize(verts, faces, UNIT_K, 32, 32, cull), rasterize_reference(verts, faces, UNIT_K, 32, 32, cull))


def test_matches_reference_on_body_meshes():
    verts, faces, _ = blob_person()
    k = (150.0, 150.0, 40.3, 48.0)
    assert_same(rasterize(verts, faces, k, 80, 96), rasterize_reference(verts, faces, k, 80, 96))
    body = free_body_mesh()
    if body is None:
        pytest.skip("free body model asset not built yet")
    verts, faces, _ = body
    assert_same(rasterize(verts, faces, k, 80, 96), rasterize_reference(verts, faces, k, 80, 96))


def test_hand_counted_triangle():
    """Triangle (0.5, 0.5), (4.5, 0.5), (0.5, 4.5): its top and left edges run through pixel centres and are
    covered, the hypotenuse x + y = 5 is not: covered pixels are row + col <= 3, i.e. 10 pixels."""
    front = np.array([[0.5, 0.5, 1.0], [0.5, 4.5, 1.0], [4.5, 0.5, 1.0]])  # negative screen area: front-facing
    faces = np.array([[0, 1, 2]], np.int32)
    rows, cols = np.mgrid[0:8, 0:8]
    expected = rows + cols <= 3
    face_id, depth = rasterize(front, faces, UNIT_K, 8, 8)
    np.testing.assert_array_equal(face_id == 0, expected)
    np.testing.assert_array_equal(depth, np.where(expected, 1.0, 0.0).astype(np.float32))
    back = front[[0, 2, 1]]
    assert (rasterize(back, faces, UNIT_K, 8, 8)[0] == -1).all()  # culled
    np.testing.assert_array_equal(rasterize(back, faces, UNIT_K, 8, 8, cull_backfaces=False)[0] == 0, expected)


def test_depth_is_perspective_correct_on_a_tilted_plane():
    """Plane z = 2 + 0.5 x + 0.3 y: the ray through pixel (u, v) meets it at z = 2 / (1 - 0.5 x' - 0.3 y')."""
    fx, fy, cx, cy = 30.0, 25.0, 20.0, 18.0
    x, y = np.array([-1.0, -1.0, 1.1]), np.array([-1.0, 1.2, 0.0])
    verts = np.c_[x, y, 2 + 0.5 * x + 0.3 * y]
    face_id, depth = rasterize(verts, np.array([[0, 1, 2]], np.int32), (fx, fy, cx, cy), 40, 36, False)
    rows, cols = np.nonzero(face_id == 0)
    assert len(rows) > 300
    xr, yr = (cols + 0.5 - cx) / fx, (rows + 0.5 - cy) / fy
    np.testing.assert_allclose(depth[rows, cols], 2.0 / (1 - 0.5 * xr - 0.3 * yr), rtol=2e-7)


@pytest.mark.parametrize("near_first", [True, False])
def test_nearer_triangle_wins(near_first):
    near_v, near_f = quad(-0.5, -0.5, 0.2, 0.2, 2.0)
    far_v, far_f = quad(-0.2, -0.2, 0.5, 0.5, 3.0)
    parts = [(near_v, near_f), (far_v, far_f)] if near_first else [(far_v, far_f), (near_v, near_f)]
    verts = np.concatenate([parts[0][0], parts[1][0]])
    faces = np.concatenate([parts[0][1], parts[1][1] + 4])
    near_ids = {0, 1} if near_first else {2, 3}
    face_id, depth = rasterize(verts, faces, (40.0, 40.0, 32.0, 32.0), 64, 64)
    # the near quad spans u in [-0.25*40+32, 0.1*40+32] = [22, 36]; the far one [32 - 2.67, 32 + 6.67]
    assert np.isin(face_id[30, 30], list(near_ids)) and depth[30, 30] == 2.0  # overlap: the near one
    assert not np.isin(face_id[37, 37], list(near_ids)) and depth[37, 37] == 3.0  # only the far one


def test_culling_a_closed_mesh_keeps_its_coverage_and_depth():
    verts, faces, _ = blob_person()
    k = (150.0, 150.0, 48.0, 48.0)
    culled, both = rasterize(verts, faces, k, 96, 96, True), rasterize(verts, faces, k, 96, 96, False)
    assert (culled[0] >= 0).sum() > 1000
    np.testing.assert_array_equal(culled[0] >= 0, both[0] >= 0)
    np.testing.assert_allclose(culled[1], both[1], rtol=1e-6)


@pytest.mark.parametrize("centre", [(0.8125, 0.3125), (0.1234, -0.2468), (-0.3333, 0.0717)])
def test_unit_square_pixel_count(centre):
    """A 1 m square at 2.5 m seen with f = 100 spans 40 px: the covered centres are exactly those with
    left <= u < right and top <= v < bottom (left and top edges in, right and bottom out)."""
    fx = fy = 100.0
    z, cx, cy = 2.5, 0.0, 0.0
    x, y = centre
    verts, faces = quad(x - 0.5, y - 0.5, x + 0.5, y + 0.5, z)
    face_id, _ = rasterize(verts, faces, (fx, fy, cx, cy), 120, 120)

    def count(lo, hi):  # integers k with lo <= k + 0.5 < hi, k in [0, 120)
        return sum(1 for k in range(120) if lo <= k + 0.5 < hi)

    left, right = fx * (x - 0.5) / z + cx, fx * (x + 0.5) / z + cx
    top, bottom = fy * (y - 0.5) / z + cy, fy * (y + 0.5) / z + cy
    n = (face_id >= 0).sum()
    assert n == count(left, right) * count(top, bottom)
    if min(left, top) >= 0:  # fully inside the image
        assert abs(n - (fx * 1.0 / z) ** 2) <= 2 * 40 + 1


@pytest.mark.parametrize("exact_grid", [True, False])
def test_shared_edges_cover_each_pixel_exactly_once(exact_grid):
    """A jittered lattice with random diagonals: every pixel inside is covered by exactly one face."""
    rng = np.random.default_rng(3)
    n, step = 6, 6.0
    gy, gx = np.mgrid[0:n + 1, 0:n + 1] * step + 4.5
    interior = (slice(1, n), slice(1, n))
    gx[interior] += rng.integers(-2, 3, (n - 1, n - 1)) * 0.5
    gy[interior] += rng.integers(-2, 3, (n - 1, n - 1)) * 0.5
    idx = np.arange((n + 1) ** 2).reshape(n + 1, n + 1)
    faces = []
    for i in range(n):
        for j in range(n):
            a, b, c, d = idx[i, j], idx[i, j + 1], idx[i + 1, j], idx[i + 1, j + 1]
            faces += [(a, b, d), (a, d, c)] if rng.random() < 0.5 else [(a, b, c), (b, d, c)]
    faces = np.array(faces, np.int32)
    if exact_grid:  # screen = (x, y) exactly; the outer border passes through pixel centres
        verts, k = np.c_[gx.ravel(), gy.ravel(), np.ones(gx.size)], UNIT_K
    else:  # a wavy surface seen through an arbitrary camera; the border stays at z = 2 (a screen rectangle)
        z = np.full(gx.shape, 2.0)
        z[interior] += rng.uniform(-0.05, 0.05, (n - 1, n - 1))
        fx, fy, cx, cy = 1.3, 1.1, 0.37, -0.21
        verts = np.c_[((gx - cx) / fx * z).ravel(), ((gy - cy) / fy * z).ravel(), z.ravel()]
        k = (fx, fy, cx, cy)
    coverage = np.zeros((48, 48), int)
    for t in range(len(faces)):
        coverage += rasterize(verts, faces[t:t + 1], k, 48, 48, cull_backfaces=False)[0] >= 0
    rows, cols = np.mgrid[0:48, 0:48] + 0.5
    lo, hi = 4.5, 4.5 + n * step
    if exact_grid:  # border: left and top edges in, right and bottom out
        inside = (cols >= lo) & (cols < hi) & (rows >= lo) & (rows < hi)
        np.testing.assert_array_equal(coverage, inside.astype(int))
    else:
        assert coverage.max() == 1
        inside = (cols > lo + 0.01) & (cols < hi - 0.01) & (rows > lo + 0.01) & (rows < hi - 0.01)
        assert (coverage[inside] == 1).all()


def test_triangles_at_or_behind_the_near_plane_are_skipped():
    verts = np.array([[0.0, 0.0, 2.0], [0.0, 1.0, 2.0], [1.0, 0.0, 2.0], [0.0, 0.0, 0.0005], [0.0, 0.0, -1.0]])
    faces = np.array([[0, 1, 2], [3, 1, 2], [4, 1, 2]], np.int32)
    face_id, _ = rasterize(verts, faces, (20.0, 20.0, 2.0, 2.0), 16, 16, cull_backfaces=False)
    assert set(np.unique(face_id)) == {-1, 0}


@pytest.mark.parametrize("kwargs, field", [
    ({"verts_cam": np.zeros((3, 2))}, "verts_cam"),
    ({"verts_cam": np.full((3, 3), np.nan)}, "verts_cam"),
    ({"faces": np.array([[0, 1, 3]])}, "faces"),
    ({"faces": np.zeros((1, 3))}, "faces"),
    ({"K": (0.0, 1.0, 0.0, 0.0)}, "K"),
    ({"K": (1.0, 1.0, 0.0)}, "K"),
    ({"width": 0}, "width/height"),
])
def test_bad_input_names_the_argument(kwargs, field):
    args = {"verts_cam": np.ones((3, 3)), "faces": np.array([[0, 1, 2]]), "K": UNIT_K, "width": 4, "height": 4}
    args.update(kwargs)
    for fn in (rasterize, rasterize_reference):
        with pytest.raises(InputError, match=field):
            fn(**args)
