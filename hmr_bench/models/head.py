"""Regression heads: fused RoI features -> SMPL pose (6D), shape, crop camera (spec §3.3, paper Eq. 4–6).

Every head maps `u: (B, M, d)`, `bbox_info: (B, M, 3)` to a `HeadOutput` and is built by
`HEADS.build(name, feat_dim=d, num_rois=M, mean_params=..., box_input=..., fc1_dim=..., n_iter=3)`.

- `ief` (official): ONE shared HMR-style iterative regressor applied to every RoI. Its input at each of the
  3 iterations is [u_m, box block, θ_6d (144), β (10), C (3)]; fc1 (→ `fc1_dim`: 2048 official Multi-RoI,
  1024 CLIFF/HMR) → Dropout 0.5 → fc2 (→ 1024) → Dropout 0.5 → decpose / decshape / deccam (Xavier-uniform,
  gain 0.01; no non-linearities, as SPIN/CLIFF); θ, β, C ← θ, β, C + deltas. The box block (`box_input`):
  `all` = bbox_info of all M RoIs in order 0..M−1 (3M values, the same for every m: official R50),
  `own` = the RoI's own 3 (CLIFF, official HR48 `wo_fuse`), `none` = nothing (HMR), `all-mixed` = the official
  self-attention model as run (`HMR_msa`, spec §8 item 17): it repeats bbox_info_all (B, 3M) with
  ``repeat(1, M, 1).view(M·B, -1)`` without reshaping to (B, M, 3) first, so regressor row b·M+m gets the 3M
  codes of sample (b·M+m) mod B, not of sample b (`all` is the correct behaviour; both agree when B = 1).
  R50: 2048 + 15 + 157 = 2220 inputs; HR48: 720 + 15 + 157 = 892.
- `shared-mesh` (paper Eq. 4–6; the paper gives no layer detail, so these are design choices [INF]):
  ū = mean_m u_m; D_mesh is an IEF decoder of pose + shape only, input [ū, all 3M box codes if
  box_input = `all` else nothing, θ, β] (the per-RoI `own` code has no meaning for the pooled feature),
  giving ONE mesh per sample, repeated to every RoI; D_cam is an IEF decoder of the camera only, input
  [u_m, box block per `box_input`, C], per RoI. Both have the official widths (fc1_dim → 1024 → outputs),
  Dropout 0.5, Xavier gain 0.01 outputs, 3 iterations, and start from the mean parameters.

Initial values are the body model's mean parameters (`mean_pose_6d` (144), `mean_shape` (K), `mean_cam` (3)),
stored as buffers `init_pose`, `init_shape`, `init_cam`. Rotations use SPIN's 6D convention
(`hmr_bench.geometry.rotations.rot6d_to_matrix`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from hmr_bench.errors import InputError
from hmr_bench.geometry.rotations import rot6d_to_matrix
from hmr_bench.registry import Registry

HEADS = Registry("head")
BOX_INPUTS = ("all", "own", "none", "all-mixed")
NUM_JOINTS = 24
DEFAULT_CAM = (0.9, 0.0, 0.0)  # SPIN's smpl_mean_params.npz `cam` (spec §2.3), used when no means are given


@dataclass
class HeadOutput:
    """rotmat: (B, M, 24, 3, 3); betas: (B, M, K); cam: (B, M, 3) as (s, tx, ty); pose6d: (B, M, 144)."""

    rotmat: torch.Tensor
    betas: torch.Tensor
    cam: torch.Tensor
    pose6d: torch.Tensor


def default_mean_params(num_betas: int = 10) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stand-in means when no body model is given: identity rotations (144,), zero betas (K,), cam (0.9, 0, 0)."""
    eye6 = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.0, 0.0])  # first two columns of I, row-major
    return eye6.repeat(NUM_JOINTS), torch.zeros(num_betas), torch.tensor(DEFAULT_CAM)


def mean_params_from_body(body) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mean_pose_6d (144,), mean_shape (K,), mean_cam (3,)) of a `hmr_bench.body` BodyModel."""
    if body.mean_pose_6d is None or body.mean_cam is None:
        raise InputError("body model", "mean_pose_6d/mean_cam", found="missing",
                         expected="a model file with SPIN-style means (mean_pose_6d (144,), mean_cam (3,))")
    return body.mean_pose_6d.float(), body.mean_shape.float(), body.mean_cam.float()


def _check_mean_params(mean_params) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    if mean_params is None:
        return default_mean_params()
    if len(mean_params) != 3:
        raise InputError("head", "mean_params", found=f"{len(mean_params)} items", expected="(pose6d, shape, cam)")
    pose, shape, cam = (torch.as_tensor(p, dtype=torch.float32).reshape(-1) for p in mean_params)
    if pose.numel() != 6 * NUM_JOINTS or cam.numel() != 3 or shape.numel() == 0:
        raise InputError("head", "mean_params", found=f"sizes {(pose.numel(), shape.numel(), cam.numel())}",
                         expected="(144, K ≥ 1, 3)")
    return pose, shape, cam


def box_block(bbox_info: torch.Tensor, box_input: str) -> torch.Tensor:
    """bbox_info: (B, M, 3) -> (B, M, k): `all` k = 3M (all RoIs, same for every m), `own` k = 3, `none` k = 0,
    `all-mixed` k = 3M of sample (b·M + m) mod B at [b, m] (official HMR_msa as run)."""
    B, M, _ = bbox_info.shape
    if box_input == "all":
        return bbox_info.reshape(B, 1, 3 * M).expand(B, M, 3 * M)
    if box_input == "all-mixed":  # the official (B, 3M).repeat(1, M, 1).view(M·B, -1), rows in b·M+m order
        return bbox_info.reshape(B, 3 * M).repeat(1, M, 1).view(M * B, -1).reshape(B, M, 3 * M)
    if box_input == "own":
        return bbox_info
    return bbox_info.new_zeros(B, M, 0)


def box_dim(box_input: str, num_rois: int) -> int:
    if box_input not in BOX_INPUTS:
        raise InputError("head", "box_input", found=repr(box_input), expected=f"one of {BOX_INPUTS}")
    return {"all": 3 * num_rois, "own": 3, "none": 0, "all-mixed": 3 * num_rois}[box_input]


class IEFDecoder(nn.Module):
    """fc1 → Dropout → fc2 → Dropout → one Linear per output (`dec<name>`, Xavier-uniform gain 0.01).

    forward(x: (N, in_dim)) -> {name: (N, size)} (the deltas).
    """

    def __init__(self, in_dim: int, outputs: dict[str, int], fc1_dim: int = 2048, fc2_dim: int = 1024,
                 dropout: float = 0.5):
        super().__init__()
        self.in_dim, self.names = in_dim, tuple(outputs)
        self.fc1, self.drop1 = nn.Linear(in_dim, fc1_dim), nn.Dropout(dropout)
        self.fc2, self.drop2 = nn.Linear(fc1_dim, fc2_dim), nn.Dropout(dropout)
        for name, size in outputs.items():
            layer = nn.Linear(fc2_dim, size)
            nn.init.xavier_uniform_(layer.weight, gain=0.01)
            self.add_module(f"dec{name}", layer)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.drop2(self.fc2(self.drop1(self.fc1(x))))
        return {name: getattr(self, f"dec{name}")(x) for name in self.names}

    def iterate(self, context: torch.Tensor, state: dict[str, torch.Tensor], n_iter: int) -> dict[str, torch.Tensor]:
        """IEF: n_iter times x = [context, state...] (in `names` order), state += deltas. context: (N, c).

        The same maths as calling `forward` on the concatenation each iteration, but fc1's context columns are
        applied once: fc1(x) = W_c context + W_s state + b, and the context does not change between iterations
        (for the official head it is most of fc1's input: d + 3M of d + 3M + 157 columns)."""
        c = context.shape[-1]
        w = self.fc1.weight
        fixed = nn.functional.linear(context, w[:, :c], self.fc1.bias)  # W_c context + b, once
        for _ in range(n_iter):
            x = fixed + nn.functional.linear(torch.cat([state[n] for n in self.names], dim=-1), w[:, c:])
            x = self.drop2(self.fc2(self.drop1(x)))
            state = {n: state[n] + getattr(self, f"dec{n}")(x) for n in self.names}
        return state


class _HeadBase(nn.Module):
    def __init__(self, feat_dim, num_rois, mean_params, box_input):
        super().__init__()
        self.feat_dim, self.num_rois, self.box_input = feat_dim, num_rois, box_input
        self.box_dim = box_dim(box_input, num_rois)
        pose, shape, cam = _check_mean_params(mean_params)
        self.num_betas = shape.numel()
        self.register_buffer("init_pose", pose)
        self.register_buffer("init_shape", shape)
        self.register_buffer("init_cam", cam)

    def _check(self, u: torch.Tensor, bbox_info: torch.Tensor, source: str) -> None:
        if u.ndim != 3 or u.shape[-1] != self.feat_dim:
            raise InputError(source, "u", found=f"shape {tuple(u.shape)}", expected=f"shape (B, M, {self.feat_dim})")
        if tuple(bbox_info.shape) != (u.shape[0], u.shape[1], 3):
            raise InputError(source, "bbox_info", found=f"shape {tuple(bbox_info.shape)}",
                             expected=f"shape (B, M, 3) = {(u.shape[0], u.shape[1], 3)}")
        if self.box_input in ("all", "all-mixed") and u.shape[1] != self.num_rois:
            raise InputError(source, "u", found=f"M = {u.shape[1]}",
                             expected=f"M = {self.num_rois} (box_input 'all' feeds 3M box codes)")

    @staticmethod
    def _rois(x: torch.Tensor, roi: int | None) -> torch.Tensor:
        """x: (B, M, ...) → the rows the head decodes: all M, or only RoI `roi` (B, 1, ...)."""
        if roi is None:
            return x
        if not 0 <= roi < x.shape[1]:
            raise InputError("head", "roi", found=roi, expected=f"an index in [0, {x.shape[1]}) or None (all RoIs)")
        return x[:, roi:roi + 1]

    def _init(self, name: str, n: int) -> torch.Tensor:
        return getattr(self, name).unsqueeze(0).expand(n, -1)

    @staticmethod
    def _output(pose6d, betas, cam, B, M) -> HeadOutput:
        rotmat = rot6d_to_matrix(pose6d.reshape(B, M, NUM_JOINTS, 6))
        return HeadOutput(rotmat=rotmat, betas=betas.reshape(B, M, -1), cam=cam.reshape(B, M, 3),
                          pose6d=pose6d.reshape(B, M, -1))


class IEFHead(_HeadBase):
    """Official single shared IEF regressor, per RoI (spec §3.3)."""

    def __init__(self, feat_dim: int, num_rois: int, mean_params=None, box_input: str = "all", fc1_dim: int = 2048,
                 fc2_dim: int = 1024, n_iter: int = 3, dropout: float = 0.5):
        super().__init__(feat_dim, num_rois, mean_params, box_input)
        self.n_iter = n_iter
        self.in_dim = feat_dim + self.box_dim + 6 * NUM_JOINTS + self.num_betas + 3
        self.regressor = IEFDecoder(self.in_dim, {"pose": 6 * NUM_JOINTS, "shape": self.num_betas, "cam": 3},
                                    fc1_dim, fc2_dim, dropout)

    def forward(self, u: torch.Tensor, bbox_info: torch.Tensor, roi: int | None = None) -> HeadOutput:
        """u: (B, M, d), bbox_info: (B, M, 3) -> HeadOutput with per-RoI rotmat, betas, cam; with `roi` only that
        RoI's (M = 1): each RoI's regression reads its own row of fused features and box codes, so the others
        need not be computed (inference evaluates one RoI)."""
        self._check(u, bbox_info, "head (ief)")
        context = self._rois(torch.cat([u, box_block(bbox_info, self.box_input).to(u.dtype)], dim=-1), roi)
        B, M, _ = context.shape
        context = context.reshape(B * M, -1)
        n = B * M
        state = {"pose": self._init("init_pose", n), "shape": self._init("init_shape", n),
                 "cam": self._init("init_cam", n)}
        state = self.regressor.iterate(context, state, self.n_iter)
        return self._output(state["pose"], state["shape"], state["cam"], B, M)


class SharedMeshHead(_HeadBase):
    """Paper Eq. 4–6: one mesh from D_mesh(mean_m u_m), one camera per RoI from D_cam(u_m)."""

    def __init__(self, feat_dim: int, num_rois: int, mean_params=None, box_input: str = "all", fc1_dim: int = 2048,
                 fc2_dim: int = 1024, n_iter: int = 3, dropout: float = 0.5):
        super().__init__(feat_dim, num_rois, mean_params, box_input)
        self.n_iter = n_iter
        self.mesh_box_dim = self.box_dim if box_input == "all" else 0
        mesh_in = feat_dim + self.mesh_box_dim + 6 * NUM_JOINTS + self.num_betas
        self.mesh = IEFDecoder(mesh_in, {"pose": 6 * NUM_JOINTS, "shape": self.num_betas}, fc1_dim, fc2_dim, dropout)
        self.cam = IEFDecoder(feat_dim + self.box_dim + 3, {"cam": 3}, fc1_dim, fc2_dim, dropout)

    def forward(self, u: torch.Tensor, bbox_info: torch.Tensor, roi: int | None = None) -> HeadOutput:
        """u: (B, M, d), bbox_info: (B, M, 3) -> HeadOutput (rotmat/betas equal across the M RoIs); with `roi` only
        that RoI's camera is decoded (M = 1; the mesh still pools all M)."""
        self._check(u, bbox_info, "head (shared-mesh)")
        B, M, _ = u.shape
        pooled = u.mean(dim=1)  # ū: (B, d)
        mesh_ctx = pooled if self.mesh_box_dim == 0 else torch.cat([pooled, bbox_info.reshape(B, 3 * M)], dim=-1)
        mesh = self.mesh.iterate(mesh_ctx, {"pose": self._init("init_pose", B), "shape": self._init("init_shape", B)},
                                 self.n_iter)
        cam_ctx = self._rois(torch.cat([u, box_block(bbox_info, self.box_input).to(u.dtype)], dim=-1), roi)
        M = cam_ctx.shape[1]
        cam_ctx = cam_ctx.reshape(B * M, -1)
        cam = self.cam.iterate(cam_ctx, {"cam": self._init("init_cam", B * M)}, self.n_iter)["cam"]
        pose = mesh["pose"].unsqueeze(1).expand(B, M, -1).reshape(B * M, -1)
        betas = mesh["shape"].unsqueeze(1).expand(B, M, -1).reshape(B * M, -1)
        return self._output(pose, betas, cam, B, M)


@HEADS.register("ief")
def ief(feat_dim, num_rois, mean_params=None, box_input="all", fc1_dim=2048, n_iter=3):
    return IEFHead(feat_dim, num_rois, mean_params, box_input, fc1_dim, n_iter=n_iter)


@HEADS.register("shared-mesh")
def shared_mesh(feat_dim, num_rois, mean_params=None, box_input="all", fc1_dim=2048, n_iter=3):
    return SharedMeshHead(feat_dim, num_rois, mean_params, box_input, fc1_dim, n_iter=n_iter)
