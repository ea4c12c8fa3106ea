"""One body-model interface over `smplx.SMPL`, for the free model and for a user's real SMPL alike.

    body = load_body_model()                       # the free model shipped in the package
    body = load_body_model("~/smpl/SMPL_NEUTRAL.npz")   # a real SMPL, converted once by convert-smpl
    out = body(betas, rotmat=R)                    # R: (B, 24, 3, 3), or axis_angle=(B, 72)
    out.vertices, out.joints("lsp14")

Model files are read by `model_file.read_model_file` (plain numpy, validated); smplx gets the arrays through
its ``data_struct`` argument, so smplx never unpickles anything.
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from hmr_bench.body import joint_sets as js
from hmr_bench.body.lbs import rotmats_from_axis_angle, skin
from hmr_bench.body.model_file import PICKLE_HINT, meta_of, read_model_file
from hmr_bench.errors import InputError
from hmr_bench.paths import ASSETS_DIR

FREE_MODEL_FILE = ASSETS_DIR / "free_neutral.npz"
GENDERS = ("neutral", "male", "female")
ENV_BODY_MODEL = "HMR_BENCH_BODY_MODEL"


def default_source() -> str:
    """The body model used when none is named: ``$HMR_BENCH_BODY_MODEL`` or ``"free"``."""
    return os.environ.get(ENV_BODY_MODEL) or "free"


def resolve_model_path(source: str | os.PathLike = "free", gender: str = "neutral") -> Path:
    """The ``.npz`` a source names: "free", a file, or a folder holding ``SMPL_{GENDER}.npz``."""
    if gender not in GENDERS:
        raise InputError("load_body_model", "gender", found=repr(gender), expected=" | ".join(GENDERS))
    if str(source) == "free":
        if gender != "neutral":
            raise InputError("free body model", "gender", found=repr(gender),
                             expected="'neutral' (the free model has no gendered variants)")
        return FREE_MODEL_FILE
    path = Path(source).expanduser()
    if path.is_dir():
        candidate = path / f"SMPL_{gender.upper()}.npz"
        if not candidate.exists():
            pkls = sorted(p.name for p in path.glob("*.pkl"))
            found = "no " + candidate.name + (f" (only pickles: {', '.join(pkls)})" if pkls else "")
            raise InputError(path, found=found,
                             expected=f"a converted model {candidate.name}", hint=PICKLE_HINT if pkls else None)
        return candidate
    if path.suffix == ".pkl":
        raise InputError(path, found="a .pkl file", expected="a plain-numpy .npz", hint=PICKLE_HINT)
    return path


@dataclass
class BodyOutput:
    """Posed body. vertices: (B, V, 3); smplx_joints: (B, 45, 3) = 24 SMPL joints + 21 vertex joints.

    Root-relative unless a translation was given (SMPL's own convention: the pelvis of the rest pose is not at
    the origin exactly; translation is added to everything). Computed by `lbs.skin` (smplx's maths).
    """

    vertices: torch.Tensor
    smplx_joints: torch.Tensor
    model: BodyModel

    def joints(self, name: str) -> torch.Tensor:
        """The joint set `name` (see `BodyModel.joint_set_names`): (B, J, 3)."""
        return self.model.joints_from(self.vertices, self.smplx_joints, name)


class BodyModel(torch.nn.Module):
    """An SMPL-format body model. Buffers follow the module's device and dtype."""

    def __init__(self, arrays: dict[str, np.ndarray], source: str, dtype: torch.dtype = torch.float32):
        super().__init__()
        import smplx  # imported here: smplx pulls in its own dependencies at import
        from smplx.utils import Struct

        self.source = source
        self.meta = meta_of(arrays)
        self.gender = str(arrays["gender"]) if "gender" in arrays else "neutral"
        n_verts = arrays["v_template"].shape[0]
        data = dict(arrays)
        if "posedirs" not in data:  # the free model is pure linear blend skinning
            data["posedirs"] = np.zeros((n_verts, 3, 207), np.float32)
        if "vertex_id_names" in arrays:
            vertex_ids = {str(k): int(v) for k, v in zip(arrays["vertex_id_names"], arrays["vertex_id_values"])}
        elif n_verts == 6890:
            vertex_ids = None  # smplx's SMPL vertex ids
        else:
            raise InputError(source, "vertex_id_names", found=f"no vertex ids for a {n_verts}-vertex mesh",
                             expected="vertex_id_names/vertex_id_values (smplx's defaults fit SMPL's 6890 only)")
        with contextlib.redirect_stdout(io.StringIO()):  # smplx prints a warning for < 300 betas
            self.smpl = smplx.SMPL(model_path=source, data_struct=Struct(**data), num_betas=10,
                                   vertex_ids=vertex_ids, create_betas=False, create_global_orient=False,
                                   create_body_pose=False, create_transl=False, dtype=dtype)
        self.num_betas = int(self.smpl.num_betas)
        self.has_posedirs = bool(np.any(data["posedirs"]))
        self.faces = np.asarray(arrays["f"], np.int64)
        self.num_vertices = n_verts
        for name in ("J_regressor_h36m", "J_regressor_extra", "J_regressor_coco"):
            self.register_buffer(name, torch.tensor(arrays[name], dtype=dtype) if name in arrays else None)
        mean_pose = arrays.get("mean_pose_6d")
        self.register_buffer("mean_pose_6d", None if mean_pose is None else torch.tensor(mean_pose, dtype=dtype))
        self.register_buffer("mean_shape", torch.tensor(arrays.get("mean_shape", np.zeros(10)), dtype=dtype))
        mean_cam = arrays.get("mean_cam")
        self.register_buffer("mean_cam", None if mean_cam is None else torch.tensor(mean_cam, dtype=dtype))

    @property
    def joint_set_names(self) -> tuple[str, ...]:
        names = ["smpl24", "coco17"]
        if self.J_regressor_h36m is not None:
            names += ["h36m17", "lsp14"]
        if self.J_regressor_extra is not None:
            names.append("spin49")
        return tuple(names)

    def forward(self, betas: torch.Tensor, rotmat: torch.Tensor | None = None, *,
                axis_angle: torch.Tensor | None = None, transl: torch.Tensor | None = None) -> BodyOutput:
        """betas: (B, K ≤ num_betas); rotmat: (B, 24, 3, 3) or axis_angle: (B, 72); transl: (B, 3) or None."""
        if (rotmat is None) == (axis_angle is None):
            raise InputError("BodyModel.forward", "rotmat/axis_angle", found="both or neither",
                             expected="exactly one of rotmat (B, 24, 3, 3) or axis_angle (B, 72)")
        pose = rotmat if rotmat is not None else axis_angle
        batch = pose.shape[0]
        if rotmat is not None and tuple(rotmat.shape[1:]) != (24, 3, 3):
            raise InputError("BodyModel.forward", "rotmat", found=f"shape {tuple(rotmat.shape)}",
                             expected="(B, 24, 3, 3)")
        if axis_angle is not None and tuple(axis_angle.shape[1:]) != (72,):
            raise InputError("BodyModel.forward", "axis_angle", found=f"shape {tuple(axis_angle.shape)}",
                             expected="(B, 72)")
        if betas.ndim != 2 or betas.shape[0] != batch or betas.shape[1] > self.num_betas:
            raise InputError("BodyModel.forward", "betas", found=f"shape {tuple(betas.shape)}",
                             expected=f"({batch}, K) with K ≤ {self.num_betas}")
        if betas.shape[1] < self.num_betas:
            betas = torch.nn.functional.pad(betas, (0, self.num_betas - betas.shape[1]))
        if rotmat is None:
            rotmat = rotmats_from_axis_angle(axis_angle)
        vertices, joints = skin(betas, rotmat, self.smpl, self.has_posedirs)
        joints = self.smpl.vertex_joint_selector(vertices, joints)
        if transl is not None:
            vertices, joints = vertices + transl[:, None], joints + transl[:, None]
        return BodyOutput(vertices, joints, self)

    def joints_from(self, vertices: torch.Tensor, smplx_joints: torch.Tensor, name: str) -> torch.Tensor:
        """Joint set `name` from posed vertices (B, V, 3) and smplx joints (B, 45, 3) → (B, J, 3)."""
        if name not in self.joint_set_names:
            missing = {"h36m17": "J_regressor_h36m", "lsp14": "J_regressor_h36m", "spin49": "J_regressor_extra"}
            hint = None
            if name in missing:
                hint = (f"This model file has no {missing[name]}; give it to `hmr-bench body convert-smpl` "
                        f"(--h36m-regressor / --extra-regressor)")
            raise InputError(self.source, "joint set", found=repr(name),
                             expected="one of " + ", ".join(self.joint_set_names), hint=hint)
        if name == "smpl24":
            return smplx_joints[:, :24]
        if name == "coco17":
            if self.J_regressor_coco is not None:
                return torch.einsum("jv,bvc->bjc", self.J_regressor_coco, vertices)
            return smplx_joints[:, list(js.COCO17_FROM_SMPLX45)]
        if name in ("h36m17", "lsp14"):
            h36m = torch.einsum("jv,bvc->bjc", self.J_regressor_h36m, vertices)
            return h36m if name == "h36m17" else h36m[:, list(js.H36M_TO_J14)]
        extra = torch.einsum("jv,bvc->bjc", self.J_regressor_extra, vertices)
        return torch.cat([smplx_joints, extra], dim=1)[:, list(js.SPIN49_FROM_54)]

    def describe(self) -> str:
        return (f"{self.source} ({self.gender}, {self.num_vertices} vertices, {self.num_betas} betas, "
                f"joint sets: {', '.join(self.joint_set_names)})")


@lru_cache(maxsize=8)
def _read_cached(path: str, mtime_ns: int, size: int) -> dict[str, np.ndarray]:
    return read_model_file(path)


def load_body_model(source: str | os.PathLike | None = None, gender: str | None = "neutral",
                    dtype: torch.dtype = torch.float32) -> BodyModel:
    """Loads a body model: ``"free"`` (default), a converted ``.npz`` file, or a folder of them.

    gender: the gender asked for (a folder then gives ``SMPL_{GENDER}.npz``); None takes a file's own.

    Raises `InputError` for a missing, truncated or malformed file, or a raw SMPL pickle (with the command that
    converts it).
    """
    source = default_source() if source is None else source
    path = resolve_model_path(source, gender or "neutral")
    if not path.exists():  # read_model_file says so too; checked here so stat() below cannot fail
        read_model_file(path)
    st = path.stat()
    arrays = _read_cached(str(path), st.st_mtime_ns, st.st_size)
    file_gender = str(arrays["gender"]) if "gender" in arrays else "neutral"
    if gender is not None and file_gender != gender:
        raise InputError(path, "gender", found=repr(file_gender), expected=repr(gender))
    return BodyModel(arrays, "free" if str(source) == "free" else str(path), dtype=dtype)
