"""The body-model file: an SMPL-format model stored as a plain numpy ``.npz`` (never a pickle).

Both worlds use it: the free model shipped in ``hmr_bench/body/assets/`` and a user's official SMPL converted
once by ``hmr-bench body convert-smpl``. Files are read with ``allow_pickle=False``, so a model file can hold
data only. Every array is checked against `FIELDS` (symbols: V vertices, F faces, K betas).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hmr_bench.errors import InputError
from hmr_bench.io import atomic_write, load_npz

PICKLE_HINT = ("This looks like an official SMPL pickle. Convert it once to plain numpy with "
               "`hmr-bench body convert-smpl SMPL_NEUTRAL.pkl OUT.npz` and load OUT.npz")


@dataclass(frozen=True)
class Field:
    shape: tuple  # ints or symbols 'V', 'F', 'K'
    kind: str  # 'f' float, 'i' integer, 'U' text
    required: bool
    doc: str


FIELDS: dict[str, Field] = {
    "v_template": Field(("V", 3), "f", True, "rest-pose template vertices, metres"),
    "shapedirs": Field(("V", 3, "K"), "f", True, "shape blend shapes; betas ~ N(0, 1)"),
    "J_regressor": Field((24, "V"), "f", True, "the 24 SMPL joints from rest vertices"),
    "weights": Field(("V", 24), "f", True, "linear-blend-skinning weights"),
    "kintree_table": Field((2, 24), "i", True, "row 0: parent of each joint (root: any), row 1: joint ids"),
    "f": Field(("F", 3), "i", True, "triangles, counter-clockwise seen from outside"),
    "posedirs": Field(("V", 3, 207), "f", False, "pose-corrective blend shapes; zeros when absent"),
    "J_regressor_h36m": Field((17, "V"), "f", False, "H36M-17 joints (order: joint_sets.H36M17)"),
    "J_regressor_extra": Field((9, "V"), "f", False, "SPIN's 9 extra joints (order: joint_sets.EXTRA9)"),
    "J_regressor_coco": Field((17, "V"), "f", False, "COCO-17 keypoints (order: joint_sets.COCO17)"),
    "vertex_id_names": Field((21,), "U", False, "smplx vertex-joint names (joint_sets.SMPLX_EXTRA21)"),
    "vertex_id_values": Field((21,), "i", False, "vertex index of each smplx vertex joint"),
    "mean_pose_6d": Field((144,), "f", False, "mean pose, 24 joints in 6D (SPIN convention), camera frame"),
    "mean_shape": Field((10,), "f", False, "mean betas (the head regresses 10)"),
    "mean_cam": Field((3,), "f", False, "mean weak-perspective crop camera (s, tx, ty)"),
    "gender": Field((), "U", False, "'neutral', 'male' or 'female'"),
    "meta_json": Field((), "U", False, "provenance as a JSON object"),
}


def _looks_like_pickle(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(2)
    return len(head) == 2 and head[0] == 0x80 and head[1] <= 5  # pickle protocol 2..5 header


def _check_field(source: str, name: str, arr: np.ndarray, dims: dict[str, int]) -> None:
    spec = FIELDS[name]
    if spec.kind == "f" and not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise InputError(source, name, found=f"dtype {arr.dtype}", expected="a numeric array")
    if spec.kind == "i" and not np.issubdtype(arr.dtype, np.integer):
        raise InputError(source, name, found=f"dtype {arr.dtype}", expected="an integer array")
    if spec.kind == "U" and arr.dtype.kind != "U":
        raise InputError(source, name, found=f"dtype {arr.dtype}", expected="a text array")
    if arr.ndim != len(spec.shape):
        raise InputError(source, name, found=f"shape {arr.shape}",
                         expected=f"{len(spec.shape)} dimensions {_fmt(spec.shape)} ({spec.doc})")
    for size, want in zip(arr.shape, spec.shape):
        if isinstance(want, str):
            got = dims.setdefault(want, size)
            if got != size:
                raise InputError(source, name, found=f"shape {arr.shape}",
                                 expected=f"{_fmt(spec.shape)} with {want} = {got} as in the other fields")
        elif size != want:
            raise InputError(source, name, found=f"shape {arr.shape}", expected=f"{_fmt(spec.shape)} ({spec.doc})")
    if spec.kind == "f" and not np.all(np.isfinite(arr)):
        raise InputError(source, name, found=f"{int((~np.isfinite(arr)).sum())} non-finite values",
                         expected="finite numbers")


def _fmt(shape: tuple) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def validate(arrays: dict[str, np.ndarray], source: str) -> dict[str, int]:
    """Checks names, dtypes, shapes and finiteness; returns the sizes {'V', 'F', 'K'}."""
    dims: dict[str, int] = {}
    # V and K come from the template and shape space first, so errors name the odd field out.
    order = ["v_template", "shapedirs"] + [k for k in FIELDS if k not in ("v_template", "shapedirs")]
    for name in order:
        if name not in arrays:
            if FIELDS[name].required:
                raise InputError(source, name, found="no such field",
                                 expected=f"an array {_fmt(FIELDS[name].shape)} ({FIELDS[name].doc})")
            continue
        _check_field(source, name, np.asarray(arrays[name]), dims)
    unknown = sorted(set(arrays) - set(FIELDS))
    if unknown:
        raise InputError(source, unknown[0], found="an unknown field",
                         expected="one of " + ", ".join(FIELDS))
    if ("vertex_id_names" in arrays) != ("vertex_id_values" in arrays):
        raise InputError(source, "vertex_id_names", found="only one of vertex_id_names / vertex_id_values",
                         expected="both or neither")
    f = np.asarray(arrays["f"])
    if f.size and (f.min() < 0 or f.max() >= dims["V"]):
        raise InputError(source, "f", found=f"vertex indices in [{f.min()}, {f.max()}]",
                         expected=f"indices in [0, {dims['V'] - 1}]")
    if "vertex_id_values" in arrays:
        vid = np.asarray(arrays["vertex_id_values"])
        if vid.min() < 0 or vid.max() >= dims["V"]:
            raise InputError(source, "vertex_id_values", found=f"indices in [{vid.min()}, {vid.max()}]",
                             expected=f"indices in [0, {dims['V'] - 1}]")
    return dims


def read_model_file(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Reads and validates a body-model ``.npz``. Raises `InputError` naming the file and field."""
    path = Path(path)
    if path.is_file() and _looks_like_pickle(path):
        raise InputError(path, found="a Python pickle", expected="a plain-numpy .npz", hint=PICKLE_HINT)
    arrays = load_npz(path, "an SMPL-format body-model .npz")
    validate(arrays, str(path))
    return arrays


def write_model_file(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Path:
    """Validates and writes ``arrays`` as a compressed ``.npz``, atomically (never a partial file)."""
    path = Path(path)
    if path.suffix != ".npz":
        raise InputError(path, found=f"suffix '{path.suffix}'", expected="a path ending in .npz")
    validate(arrays, str(path))
    return atomic_write(path, lambda fh: np.savez_compressed(fh, **arrays))


def meta_of(arrays: dict[str, np.ndarray]) -> dict:
    """The provenance stored in ``meta_json`` ({} when absent)."""
    return json.loads(str(arrays["meta_json"])) if "meta_json" in arrays else {}
