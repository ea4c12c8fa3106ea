"""The SPIN/CLIFF ``.npz`` annotation format: one file per dataset split, image files beside it.

Real data (Human3.6M, 3DPW, COCO, MPII, MPI-INF-3DHP as preprocessed by SPIN/CLIFF) and SynthHMR use the same
format and the same loader. N = number of person instances; symbols in shapes: N rows, V vertices.

Required (SPIN): ``imgname``, ``center``, ``scale``. Everything else is optional per dataset; a field that
is absent means "no such annotation" (e.g. COCO has no ``S``), and the ``has_*`` flags say which rows hold it.
Image coordinates are pixels, origin top-left, x right, y down. 2D keypoints: (x, y, visibility).
3D joints are in metres in the camera frame, root-relative or not as the dataset gives them (SPIN ``S``
is camera-frame, the loader centres them).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hmr_bench.errors import InputError
from hmr_bench.io import atomic_write, load_npz


@dataclass(frozen=True)
class Field:
    shape: tuple  # per-row shape after N
    kind: str  # 'f' float, 'i' integer (bool allowed), 'U' text
    doc: str


REQUIRED = ("imgname", "center", "scale")

FIELDS: dict[str, Field] = {
    # SPIN core
    "imgname": Field((), "U", "image path relative to the image root"),
    "center": Field((2,), "f", "box centre (cx, cy), pixels"),
    "scale": Field((), "f", "box size / 200 (SPIN): b = 200·scale is the box height"),
    "part": Field((24, 3), "f", "2D GT keypoints, 24 'GT' joints of SPIN-49 (25..48), + visibility"),
    "openpose": Field((25, 3), "f", "2D OpenPose-order keypoints (SPIN-49 0..24) + confidence"),
    "S": Field((24, 4), "f", "3D GT joints (24 'GT' joints), metres, + confidence"),
    "pose": Field((72,), "f", "SMPL axis-angle pose (global orientation first), camera frame"),
    "shape": Field((10,), "f", "SMPL betas"),
    "has_smpl": Field((), "i", "1 where pose/shape are valid"),
    "gender": Field((), "U", "'m' / 'f' / 'n' (neutral)"),
    # CLIFF / Multi-RoI additions
    "focal_length": Field((), "f", "full-image focal length, pixels (absent: sqrt(W²+H²))"),
    "img_w": Field((), "i", "full-image width, pixels"),
    "img_h": Field((), "i", "full-image height, pixels"),
    # SynthHMR ground truth (exact)
    "cam_t": Field((3,), "f", "full-camera translation of the SMPL root-relative body, metres"),
    "action": Field((), "U", "action family (per-action breakdown)"),
    "occlusion": Field((), "f", "fraction of the person's pixels hidden by occluders or the image border"),
    "joints_smpl24": Field((24, 3), "f", "3D SMPL-24 joints, camera frame, metres"),
    "joints_h36m17": Field((17, 3), "f", "3D H36M-17 joints, camera frame, metres"),
    "joints_coco17": Field((17, 3), "f", "3D COCO-17 joints, camera frame, metres"),
    "keypoints_coco17": Field((17, 3), "f", "2D COCO-17 keypoints + visibility"),
    "vertices": Field(("V", 3), "f", "mesh vertices, camera frame, metres (optional, large)"),
}


def _fmt(shape: tuple) -> str:
    return "(N" + "".join(f", {s}" for s in shape) + ")"


def validate(arrays: dict[str, np.ndarray], source: str) -> int:
    """Checks the fields present (names, dtypes, shapes, finiteness); returns N. Errors name file and field."""
    for name in REQUIRED:
        if name not in arrays:
            raise InputError(source, name, found="no such field",
                             expected=f"an array {_fmt(FIELDS[name].shape)} ({FIELDS[name].doc})")
    n = len(arrays["imgname"])
    if n == 0:
        raise InputError(source, "imgname", found="0 rows", expected="a non-empty split")
    for name, arr in arrays.items():
        spec = FIELDS.get(name)
        if spec is None:  # other preprocessors add fields of their own (e.g. 'maskname'); they are kept
            continue
        arr = np.asarray(arr)
        want = (n,) + tuple(arr.shape[1 + i] if isinstance(s, str) and arr.ndim > 1 + i else s
                            for i, s in enumerate(spec.shape))
        if arr.shape != want:
            raise InputError(source, name, found=f"shape {arr.shape}", expected=f"{_fmt(spec.shape)} with N = {n}")
        if spec.kind == "U" and arr.dtype.kind not in "US":
            raise InputError(source, name, found=f"dtype {arr.dtype}", expected="text")
        if spec.kind in "fi" and arr.dtype.kind not in "fiub":
            raise InputError(source, name, found=f"dtype {arr.dtype}", expected="numbers")
        if spec.kind == "f" and not np.all(np.isfinite(arr)):
            bad = np.argwhere(~np.isfinite(arr.reshape(n, -1)))
            raise InputError(source, name, found=f"{len(bad)} non-finite values, first at row {bad[0][0]}",
                             expected="finite numbers")
    return n


def read_annotations(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Reads a SPIN-format ``.npz`` (``allow_pickle=False``) and validates it."""
    arrays = load_npz(path, "a SPIN-format annotation .npz")
    validate(arrays, str(path))
    return arrays


def write_annotations(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Path:
    """Validates and writes a SPIN-format ``.npz`` atomically (uncompressed: fast to read)."""
    validate(arrays, str(path))
    return atomic_write(path, lambda fh: np.savez(fh, **arrays))
