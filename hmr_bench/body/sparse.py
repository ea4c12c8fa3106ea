"""What a training step needs of the body model, without skinning every vertex.

    sb = SparseBody(body, vertex_stride=8)
    out = sb(betas, rotmat)          # out.joints("spin49") (N, 49, 3), out.pelvis (N, 3), out.vertices (N, V/8, 3)
    out = sb(betas, rotmat, vertices=False)   # joints and pelvis only (a step without the vertex loss)

Regressed joints are linear in the skinned vertices, and skinning is linear in the rest vertices and the bone
transforms A_k: J_j = Σ_v R_jv Σ_k w_vk A_k [v_v(β, θ); 1]. So every regressed joint is Σ_k A_k P_jk with
P_jk = Σ_v R_jv w_vk [v_v; 1], a (J, 24, 4) tensor that is linear in the betas (and in the pose feature when the
model has pose correctives): precomputed once, it gives the exact joints at the cost of J × 24 small products
instead of V × 24. Vertices are skinned on a fixed subset only (every `vertex_stride`-th vertex), for the vertex
loss: the mean of a per-vertex error over that subset estimates the mean over the mesh.

Numbers equal `BodyModel.forward` (joints to float rounding; the subset's vertices exactly as skinned there);
checked in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from smplx.lbs import batch_rigid_transform

from hmr_bench.body import joint_sets as js
from hmr_bench.body.model import BodyModel
from hmr_bench.errors import InputError


@dataclass
class SparseOutput:
    """joints54: (N, 54, 3) = smplx's 45 + SPIN's 9 extra; pelvis: (N, 3) H36M-regressor pelvis; vertices:
    (N, V_s, 3) the subset `SparseBody.vertex_ids`, or None when not asked for."""

    joints54: torch.Tensor
    pelvis: torch.Tensor
    vertices: torch.Tensor | None

    def joints(self, name: str) -> torch.Tensor:
        if name != "spin49":
            raise InputError("SparseOutput.joints", "name", found=repr(name), expected="'spin49'")
        return self.joints54[:, list(js.SPIN49_FROM_54)]


class SparseBody(torch.nn.Module):
    """SPIN-49 joints, the H36M pelvis and a vertex subset of `body` (module docstring)."""

    def __init__(self, body: BodyModel, vertex_stride: int = 1):
        super().__init__()
        if body.J_regressor_extra is None or body.J_regressor_h36m is None:
            raise InputError(body.source, "J_regressor_extra/J_regressor_h36m", found="missing",
                             expected="both, for SPIN-49 joints and the vertex-loss pelvis")
        if vertex_stride < 1:
            raise InputError("SparseBody", "vertex_stride", found=vertex_stride, expected="an integer ≥ 1")
        s = body.smpl
        V = body.num_vertices
        self.parents = s.parents
        self.has_posedirs = body.has_posedirs
        sel = s.vertex_joint_selector.extra_joints_idxs.long()  # the 21 vertex-picked joints
        R = torch.cat([torch.nn.functional.one_hot(sel, V).to(s.v_template.dtype),
                       body.J_regressor_extra, body.J_regressor_h36m[js.H36M_PELVIS:js.H36M_PELVIS + 1]])
        w = s.lbs_weights  # (V, 24)
        Rw = R[:, :, None] * w[None]  # (J, V, 24)
        self.register_buffer("P0", torch.einsum("jvk,vc->jkc", Rw, s.v_template))  # (J, 24, 3)
        self.register_buffer("Pb", torch.einsum("jvk,vcb->jkcb", Rw, s.shapedirs))  # (J, 24, 3, K)
        self.register_buffer("W1", Rw.sum(1))  # (J, 24): the homogeneous coordinate's weights
        if self.has_posedirs:  # smplx stores posedirs as (207, 3V)
            pd = s.posedirs.reshape(-1, V, 3).permute(1, 2, 0)  # (V, 3, 207)
            self.register_buffer("Pp", torch.einsum("jvk,vcp->jkcp", Rw, pd))
        self.register_buffer("J_template", s.J_regressor @ s.v_template)  # (24, 3)
        self.register_buffer("J_dirs", torch.einsum("jv,vcb->jcb", s.J_regressor, s.shapedirs))  # (24, 3, K)
        ids = torch.arange(0, V, vertex_stride)
        self.register_buffer("vertex_ids", ids)
        self.register_buffer("v_template", s.v_template[ids])
        self.register_buffer("shapedirs", s.shapedirs[ids])
        self.register_buffer("lbs_weights", w[ids])
        if self.has_posedirs:
            self.register_buffer("posedirs", pd[ids])  # (V_s, 3, 207)
        self.num_betas = body.num_betas

    def forward(self, betas: torch.Tensor, rotmat: torch.Tensor, vertices: bool = True) -> SparseOutput:
        """betas: (N, K); rotmat: (N, 24, 3, 3) → SparseOutput (root-relative, like `BodyModel.forward`);
        vertices=False skips skinning the vertex subset (its shape and pose blend shapes too)."""
        if betas.shape[1] < self.num_betas:
            betas = torch.nn.functional.pad(betas, (0, self.num_betas - betas.shape[1]))
        n = rotmat.shape[0]
        rest = self.J_template + torch.einsum("jcb,nb->njc", self.J_dirs, betas)  # (N, 24, 3)
        posed24, A = batch_rigid_transform(rotmat, rest, self.parents, dtype=rotmat.dtype)
        A3 = A[:, :, :3]  # (N, 24, 3, 4)
        P = self.P0 + torch.einsum("jkcb,nb->njkc", self.Pb, betas)  # (N, J, 24, 3)
        if self.has_posedirs:
            feat = (rotmat[:, 1:] - torch.eye(3, dtype=rotmat.dtype, device=rotmat.device)).reshape(n, -1)
            P = P + torch.einsum("jkcp,np->njkc", self.Pp, feat)
        reg = torch.einsum("nkac,njkc->nja", A3[..., :3], P) + torch.einsum("nka,jk->nja", A3[..., 3], self.W1)
        joints54 = torch.cat([posed24, reg[:, :-1]], dim=1)
        if not vertices:
            return SparseOutput(joints54=joints54, pelvis=reg[:, -1], vertices=None)
        v_s = self.v_template + torch.einsum("vcb,nb->nvc", self.shapedirs, betas)  # (N, V_s, 3)
        if self.has_posedirs:
            v_s = v_s + torch.einsum("vcp,np->nvc", self.posedirs, feat)
        T = torch.matmul(self.lbs_weights, A3.reshape(n, 24, 12)).view(n, -1, 3, 4)  # (N, V_s, 3, 4)
        verts = (T[..., :3] * v_s[:, :, None, :]).sum(-1) + T[..., 3]
        return SparseOutput(joints54=joints54, pelvis=reg[:, -1], vertices=verts)
