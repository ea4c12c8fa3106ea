"""Contrastive projection heads: backbone features h (before fusion) -> embeddings z (spec §4.2, §8 item 7).

`PROJECTIONS.build(name, dim=d)`; forward(h: (B, M, d)) -> z: (B, M, dz).

- `official` [C:trainer_sim.py / HMR_sim]: a sigmoid self-gate h̃ = h ⊙ sigmoid(ReLU(h)), then
  z = BN1d(Linear_nobias(ReLU(BN1d(Linear(h̃))))), both Linear d → d, BatchNorm over the B·M rows; dz = d.
  (Needs B·M ≥ 2 in training mode, like any BatchNorm1d.)
- `paper` [P §3.5 "project h into z"; layers inferred, INF]: Linear(d → d) → ReLU → Linear(d → 128), no gate,
  no BatchNorm (a SimCLR-style MLP head); dz = 128.
"""

from __future__ import annotations

import torch
from torch import nn

from hmr_bench.errors import InputError
from hmr_bench.registry import Registry

PROJECTIONS = Registry("projection")


class _Projection(nn.Module):
    def __init__(self, dim: int, out_dim: int):
        super().__init__()
        self.dim, self.out_dim = dim, out_dim

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """h: (B, M, d) -> z: (B, M, dz)."""
        if h.ndim != 3 or h.shape[-1] != self.dim:
            raise InputError(f"projection ({type(self).__name__})", "h", found=f"shape {tuple(h.shape)}",
                             expected=f"shape (B, M, {self.dim})")
        B, M, d = h.shape
        return self.project(h.reshape(B * M, d)).reshape(B, M, -1)


class OfficialProjection(_Projection):
    def __init__(self, dim: int):
        super().__init__(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.BatchNorm1d(dim), nn.ReLU(inplace=False),
                                 nn.Linear(dim, dim, bias=False), nn.BatchNorm1d(dim))

    def project(self, h: torch.Tensor) -> torch.Tensor:
        """h: (N, d) -> (N, d)."""
        return self.mlp(h * torch.sigmoid(torch.relu(h)))


class PaperProjection(_Projection):
    def __init__(self, dim: int, out_dim: int = 128):
        super().__init__(dim, out_dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(inplace=False), nn.Linear(dim, out_dim))

    def project(self, h: torch.Tensor) -> torch.Tensor:
        """h: (N, d) -> (N, 128)."""
        return self.mlp(h)


@PROJECTIONS.register("official")
def official(dim):
    return OfficialProjection(dim)


@PROJECTIONS.register("paper")
def paper(dim):
    return PaperProjection(dim)
