"""Evaluation files written exactly as SPIN's ``datasets/preprocess/*.py`` write them (keys, dtypes, shapes).

- `write_h36m_valid`: ``h36m_extract`` → ``h36m_valid_protocol{1,2}.npz``: imgname ("images/S9_<action>.<camera>_
  <frame>.jpg"), center (N, 2) float64, scale (N,) float64 (0.9·max side / 200), S (N, 24, 4) float64: the
  root-centred H36M-17 joints (metres) at `GLOBAL_IDX`, confidence 1 there, 0 elsewhere. No pose, no shape.
- `write_3dpw_test`: ``pw3d_extract`` → ``3dpw_test.npz``: imgname, center, scale, pose (N, 72) float64,
  shape (N, 10) float64, gender (N,) '<U1' 'm' / 'f'. No S, no has_smpl (SPIN's loader then sets has_smpl = 1).
- `write_mpi_inf_test`: ``mpi_inf_3dhp_extract(mode='test')`` → ``mpi_inf_3dhp_valid.npz`` (the name SPIN's
  config reads): imgname, center (N, 2) float32 (from the float32 annotations), scale (N,) float64, part
  (N, 24, 3) float64, S (N, 24, 4) float64 (root = MPI joint 14, at J24 index 14).

Each writes tiny JPEG frames under ``<root>/<image_dir>/`` (the SPIN *_ROOT folders) and the npz into
``<root>/dataset_extras/``; it returns the npz path and the arrays as written (with the GT the test checks).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

W, H = 120, 160
# SPIN h36m_extract / mpi_inf_3dhp_extract: H36M-17 (and MPI's 17) joint k is stored in the 24 GT joints at [k]
GLOBAL_IDX = [14, 3, 4, 5, 2, 1, 0, 16, 12, 17, 18, 9, 10, 11, 8, 7, 6]


def _frames(root: Path, names: list[str]) -> None:
    for k, name in enumerate(names):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        img = np.full((H, W, 3), 40 + 20 * k, np.uint8)
        img[40:120, 40:80] = 200
        cv2.imwrite(str(path), img)


def _box(n: int) -> tuple[list, list]:
    """SPIN's lists: centers [[cx, cy]] and scales (box size / 200), a box well inside the frame."""
    return [[W / 2.0, H / 2.0]] * n, [0.9 * 100.0 / 200.0] * n


def _skeletons(rng, n: int) -> np.ndarray:
    """(n, 17, 3) random camera-frame joints, metres, root (joint 0) first."""
    return np.array([0.0, 0.0, 4.5]) + rng.uniform(-0.5, 0.5, (n, 17, 3)) * np.array([0.6, 1.0, 0.3])


def s24_from_17(joints17: np.ndarray) -> np.ndarray:
    """SPIN: S17 -= S17[0] (root-centred), S24[GLOBAL_IDX, :3] = S17, S24[GLOBAL_IDX, 3] = 1."""
    s = np.zeros((len(joints17), 24, 4))
    s[:, GLOBAL_IDX, :3] = joints17 - joints17[:, :1]
    s[:, GLOBAL_IDX, 3] = 1
    return s


def write_h36m_valid(root: str | Path, protocol: int = 2, n: int = 6, seed: int = 0) -> tuple[Path, dict]:
    root = Path(root)
    rng = np.random.default_rng(seed)
    camera = "60457274" if protocol == 2 else "54138969"
    actions = ["Directions_1", "WalkDog", "Eating", "Sitting_1", "Phoning", "Purchases"]
    imgname = [f"images/S9_{actions[k % 6]}.{camera}_{5 * k + 1:06d}.jpg" for k in range(n)]
    _frames(root / "h36m", imgname)
    center, scale = _box(n)
    arrays = {"imgname": imgname, "center": center, "scale": scale, "S": list(s24_from_17(_skeletons(rng, n)))}
    path = root / "dataset_extras" / f"h36m_valid_protocol{protocol}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path, dict(np.load(path))


def write_3dpw_test(root: str | Path, genders=("m", "f", "m", "f"), seed: int = 1, with_gender: bool = True,
                    name: str = "3dpw_test.npz") -> tuple[Path, dict]:
    root = Path(root)
    rng = np.random.default_rng(seed)
    n = len(genders)
    imgname = [f"imageFiles/courtyard_basketball_00/image_{k:05d}.jpg" for k in range(n)]
    _frames(root / "3dpw", imgname)
    center, scale = _box(n)
    pose = [rng.normal(0.0, 0.3, 72) for _ in range(n)]
    shape = [rng.normal(0.0, 1.0, 10) for _ in range(n)]
    arrays = {"imgname": imgname, "center": center, "scale": scale, "pose": pose, "shape": shape}
    if with_gender:
        arrays["gender"] = list(genders)
    path = root / "dataset_extras" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path, dict(np.load(path))


def write_mpi_inf_test(root: str | Path, n: int = 5, seed: int = 2) -> tuple[Path, dict]:
    root = Path(root)
    rng = np.random.default_rng(seed)
    imgname = [f"mpi_inf_3dhp_test_set/TS1/imageSequence/img_{k + 1:06d}.jpg" for k in range(n)]
    _frames(root / "mpi_inf_3dhp", imgname)
    center, scale = _box(n)
    part = np.zeros((n, 24, 3))
    part[:, GLOBAL_IDX] = np.concatenate([rng.uniform(45, 75, (n, 17, 2)), np.ones((n, 17, 1))], -1)
    arrays = {"imgname": imgname, "center": np.asarray(center, np.float32), "scale": scale, "part": part,
              "S": s24_from_17(_skeletons(rng, n))}
    path = root / "dataset_extras" / "mpi_inf_3dhp_valid.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path, dict(np.load(path))
