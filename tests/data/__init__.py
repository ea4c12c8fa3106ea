"""Small hand-built meshes for the SynthHMR rasteriser and renderer tests (camera frame: x right, y down, z fwd)."""

from __future__ import annotations

import numpy as np


def quad(x0: float, y0: float, x1: float, y1: float, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned rectangle [x0, x1] x [y0, y1] at depth z, two faces turned towards the camera.
    Returns verts (4, 3) float64, faces (2, 3) int32 (face 0 holds the corner (x1, y0), face 1 (x0, y1))."""
    verts = np.array([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]], np.float64)
    return verts, np.array([[0, 2, 1], [0, 3, 2]], np.int32)


def ellipsoid(centre, radii, n_lat: int = 10, n_lon: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Closed UV ellipsoid wound counter-clockwise seen from outside: verts (V, 3), faces (F, 3) int32."""
    theta = np.linspace(0, np.pi, n_lat + 1)[1:-1]
    phi = np.linspace(0, 2 * np.pi, n_lon, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    ring = np.stack([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)], -1).reshape(-1, 3)
    unit = np.concatenate([[[0, 0, 1.0]], ring, [[0, 0, -1.0]]])
    faces = []
    ring_id = lambda i, j: 1 + i * n_lon + j % n_lon  # noqa: E731
    for j in range(n_lon):
        faces.append((0, ring_id(0, j), ring_id(0, j + 1)))
        faces.append((len(unit) - 1, ring_id(n_lat - 2, j + 1), ring_id(n_lat - 2, j)))
        for i in range(n_lat - 2):
            a, b, c, d = ring_id(i, j), ring_id(i, j + 1), ring_id(i + 1, j), ring_id(i + 1, j + 1)
            faces += [(a, c, b), (b, c, d)]
    faces = np.array(faces, np.int32)
    tri = unit[faces]
    outward = np.einsum("fi,fi->f", np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), tri.mean(1)) > 0
    faces[~outward] = faces[~outward][:, ::-1]  # make every face counter-clockwise from outside
    return unit * np.asarray(radii, float) + np.asarray(centre, float), faces


def blob_person(distance: float = 3.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A person-like union of closed ellipsoids facing the camera at `distance` metres.
    Returns verts (V, 3), faces (F, 3) int32, face part (F,) uint8 (an SMPL joint index per ellipsoid)."""
    blobs = [  # (SMPL joint, centre, radii) in metres, y down
        (3, (0, -0.2, 0), (0.18, 0.3, 0.12)), (15, (0, -0.7, 0), (0.1, 0.12, 0.1)),
        (16, (0.3, -0.35, 0), (0.06, 0.16, 0.06)), (17, (-0.3, -0.35, 0.05), (0.06, 0.16, 0.06)),
        (1, (0.1, 0.3, 0), (0.08, 0.25, 0.08)), (2, (-0.1, 0.3, -0.1), (0.08, 0.25, 0.08)),
        (20, (0.36, 0.0, -0.15), (0.05, 0.05, 0.05)),
    ]
    verts, faces, parts = [], [], []
    offset = 0
    for joint, centre, radii in blobs:
        v, f = ellipsoid(np.add(centre, (0, 0, distance)), radii)
        verts.append(v)
        faces.append(f + offset)
        parts.append(np.full(len(f), joint, np.uint8))
        offset += len(v)
    return np.concatenate(verts), np.concatenate(faces), np.concatenate(parts)


def free_body_mesh(distance: float = 3.0):
    """The free body model's rest mesh seen from the front at `distance` metres, or None when the asset is absent.
    Returns verts (V, 3) camera frame, faces (F, 3) int32, skinning weights (V, 24)."""
    from hmr_bench.body.model import FREE_MODEL_FILE  # imported here: the other helpers need numpy only
    from hmr_bench.body.model_file import read_model_file

    if not FREE_MODEL_FILE.exists():
        return None
    arrays = read_model_file(FREE_MODEL_FILE)
    body = arrays["v_template"].astype(np.float64)
    body = body - 0.5 * (body.min(0) + body.max(0))
    verts = body * np.array([1.0, -1.0, -1.0]) + np.array([0.0, 0.0, distance])  # SMPL y up, +z front -> camera
    return verts, arrays["f"].astype(np.int32), arrays["weights"]
