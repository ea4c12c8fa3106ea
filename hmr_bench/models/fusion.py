"""Fusion of the M RoI features of a sample (spec §3.2, §3.4, §3.5; paper Eq. 2–4; Table 3; Fig. 8).

Every fusion maps

    h: (B, M, d) backbone features,  bbox_info: (B, M, 3) CLIFF-normalised box codes (spec §2.2)
    -> u: (B, M, d) fused features,  weights: (B, M, M) with weights[b, m, n] = w_mn (rows sum to 1), or None

and is built by `FUSIONS.build(name, dim=d, num_rois=M, pe_freqs=L, pe_flavour=..., pe_precision=...)`.
Every builder takes that same keyword set so one config builds any of them; a fusion without a
positional encoding (`none`, `null`, `mean`) ignores the three `pe_*` keywords, and the M-agnostic ones
(`none`, `mean`, `raf-paper`, `self-attention`) accept any M at run time.

Registered:

- `raf-official` (the method as run): Ω_mn = Γ(bbox_info_m − bbox_info_n); F_mn = [h_n, Ω_mn];
  g_mn = FC_fuse(F_mn) (d+P → 256); a_m = MLP_att([g_m0, …, g_m(M−1)]) (256M → 256 → Tanh → 256 → Tanh →
  M → Tanh); w_m = softmax_n(a_m); u_m = Σ_n w_mn h_n. Logits lie in (−1, 1), so for M = 5 every weight is
  in [1/(1+4e²), 1/(1+4e⁻²)] = [0.0327, 0.6488].
- `raf-paper` (paper Eq. 2–4): Ω_mn = Γ(B_m) − Γ(B_n); one shared Linear(d+P → 1) per pair F_mn = [h_n, Ω_mn]
  gives a scalar logit; softmax over n. B is the *normalised* bbox_info, not raw pixels: at frequencies up
  to π·2^32 a pixel coordinate (hundreds) makes every band but the first few pure float noise.
- `null` (Table 3 "h_n ⊕ NULL", code `--wo_enc`): F_mn = h_n, official weight network. F_mn does not depend
  on m, so all M rows of weights (and all u_m) are equal: the fusion is one learned pooling per sample.
- `absolute-pe` (Table 3 "h_n ⊕ Γ(B_n)"): F_mn = [h_n, Γ(B_n)], official weight network; also m-independent.
- `absolute-pe-both` (code `HMR_sim_catenc`, spec §3.4): F_mn = [h_n, Γ(B_m), Γ(B_n)] (d + 2P).
- `self-attention` (Fig. 8 baseline, code `HMR_msa`, spec §3.5): one BERT self-attention layer over the M
  tokens, 4 heads of size floor((d+P)/4); query/key input [h_m, Γ(B_m)], value input [h_m, 0_P]; heads
  concatenated → Linear(→ d) → LayerNorm(eps 1e-12); no residual, no FFN, no dropout (the spec lists
  none). `weights` are the attention probabilities averaged over the heads.
- `none` (code `--wo_fuse`, Table 2 "RAF ✗"): u_m = h_m; weights None.
- `mean`: u_m = mean_n h_n; weights all 1/M.

P = Γ's width (195 for L = 32 `official`); L, the flavour and the precision are set by `pe_*` (Table 3's
L = 0 / 32 / 64 rows).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from hmr_bench.errors import InputError
from hmr_bench.models.encoding import PositionalEncoding
from hmr_bench.registry import Registry

FUSIONS = Registry("fusion")


def check_fusion_inputs(h: torch.Tensor, bbox_info: torch.Tensor, dim: int, num_rois: int | None,
                        source: str) -> None:
    """Raises InputError unless h is (B, M, dim) and bbox_info (B, M, 3), with M = num_rois when given."""
    if h.ndim != 3 or h.shape[-1] != dim:
        raise InputError(source, "h", found=f"shape {tuple(h.shape)}", expected=f"shape (B, M, {dim})")
    if tuple(bbox_info.shape) != (h.shape[0], h.shape[1], 3):
        raise InputError(source, "bbox_info", found=f"shape {tuple(bbox_info.shape)}",
                         expected=f"shape (B, M, 3) = {(h.shape[0], h.shape[1], 3)} to match h")
    if num_rois is not None and h.shape[1] != num_rois:
        raise InputError(source, "h", found=f"M = {h.shape[1]} RoIs",
                         expected=f"M = {num_rois} (this fusion's weight network is built for a fixed M)")


def _weighted_sum(weights: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """weights: (B, M, M), h: (B, M, d) -> u: (B, M, d), u_m = Σ_n w_mn h_n."""
    return torch.einsum("bmn,bnd->bmd", weights, h)


class OfficialWeightFusion(nn.Module):
    """The official weight network over pair features F_mn = [h_n, code_mn] (spec §3.2).

    code: "relative" (Γ(B_m − B_n)), "null" (nothing), "absolute" (Γ(B_n)), "absolute-both" ([Γ(B_m), Γ(B_n)]).
    """

    CODES = ("relative", "null", "absolute", "absolute-both")

    def __init__(self, dim: int, num_rois: int, code: str = "relative", pe_freqs: int = 32,
                 pe_flavour: str = "official", pe_precision: str = "float32", hidden: int = 256):
        super().__init__()
        if code not in self.CODES:
            raise InputError("OfficialWeightFusion", "code", found=repr(code), expected=f"one of {self.CODES}")
        self.dim, self.num_rois, self.code = dim, num_rois, code
        self.pe = None if code == "null" else PositionalEncoding(pe_freqs, pe_flavour, pe_precision)
        code_dim = {"relative": 1, "null": 0, "absolute": 1, "absolute-both": 2}[code] * (
            0 if self.pe is None else self.pe.out_dim)
        self.pair_dim = dim + code_dim
        self.fuse_fc = nn.Linear(self.pair_dim, hidden)
        self.att = nn.Sequential(nn.Linear(hidden * num_rois, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                                 nn.Linear(hidden, num_rois), nn.Tanh())

    def pair_features(self, h: torch.Tensor, bbox_info: torch.Tensor) -> torch.Tensor:
        """h: (B, M, d), bbox_info: (B, M, 3) -> F: (B, M, M, pair_dim), F[b, m, n] = [h_n, code_mn]."""
        B, M, d = h.shape
        parts = [h.unsqueeze(1).expand(B, M, M, d)]
        if self.code == "relative":
            parts.append(self.pe(bbox_info.unsqueeze(2) - bbox_info.unsqueeze(1)))  # Δ[b,m,n] = B_m − B_n
        elif self.code in ("absolute", "absolute-both"):
            enc = self.pe(bbox_info)  # (B, M, P)
            if self.code == "absolute-both":
                parts.append(enc.unsqueeze(2).expand(B, M, M, enc.shape[-1]))  # Γ(B_m)
            parts.append(enc.unsqueeze(1).expand(B, M, M, enc.shape[-1]))  # Γ(B_n)
        return torch.cat(parts, dim=-1)

    def pair_projection(self, h: torch.Tensor, bbox_info: torch.Tensor) -> torch.Tensor:
        """g = FC_fuse(F): (B, M, M, hidden), g[b, m, n] = W [h_n, code_mn] + c, computed as W_h h_n (M rows per
        sample, not M²) + W_code code_mn: the same linear map without materialising the M² copies of h_n."""
        B, M, d = h.shape
        w, bias = self.fuse_fc.weight, self.fuse_fc.bias
        g = torch.nn.functional.linear(h, w[:, :d], bias).unsqueeze(1)  # (B, 1, M, hidden): W_h h_n + c
        if self.code == "null":
            return g.expand(B, M, M, g.shape[-1])
        code = self.pair_features(h[..., :0], bbox_info)  # (B, M, M, code_dim): [code_mn] alone
        return g + torch.nn.functional.linear(code, w[:, d:])

    def forward(self, h: torch.Tensor, bbox_info: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """h: (B, M, d), bbox_info: (B, M, 3) -> u: (B, M, d), weights: (B, M, M)."""
        check_fusion_inputs(h, bbox_info, self.dim, self.num_rois, f"fusion ({self.code})")
        B, M, _ = h.shape
        g = self.pair_projection(h, bbox_info)  # (B, M, M, 256)
        logits = self.att(g.reshape(B, M, -1))  # (B, M, M): row m from [g_m0, ..., g_m(M-1)]
        weights = torch.softmax(logits, dim=-1)
        return _weighted_sum(weights, h), weights


class PaperRAF(nn.Module):
    """Paper Eq. 2–4: logit_mn = Linear([h_n, Γ(B_m) − Γ(B_n)]), softmax over n. Any M."""

    def __init__(self, dim: int, pe_freqs: int = 32, pe_flavour: str = "official", pe_precision: str = "float32"):
        super().__init__()
        self.dim = dim
        self.pe = PositionalEncoding(pe_freqs, pe_flavour, pe_precision)
        self.fc = nn.Linear(dim + self.pe.out_dim, 1)

    def forward(self, h: torch.Tensor, bbox_info: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """h: (B, M, d), bbox_info: (B, M, 3) -> u: (B, M, d), weights: (B, M, M)."""
        check_fusion_inputs(h, bbox_info, self.dim, None, "fusion (raf-paper)")
        B, M, d = h.shape
        enc = self.pe(bbox_info)  # (B, M, P)
        omega = enc.unsqueeze(2) - enc.unsqueeze(1)  # Ω[b, m, n] = Γ(B_m) − Γ(B_n)
        pairs = torch.cat([h.unsqueeze(1).expand(B, M, M, d), omega], dim=-1)
        weights = torch.softmax(self.fc(pairs).squeeze(-1), dim=-1)
        return _weighted_sum(weights, h), weights


class SelfAttentionFusion(nn.Module):
    """Spec §3.5 (HMR_msa / BertSelfAttention, one layer, no residual). Any M."""

    def __init__(self, dim: int, num_heads: int = 4, pe_freqs: int = 32, pe_flavour: str = "official",
                 pe_precision: str = "float32"):
        super().__init__()
        self.dim, self.num_heads = dim, num_heads
        self.pe = PositionalEncoding(pe_freqs, pe_flavour, pe_precision)
        in_dim = dim + self.pe.out_dim
        self.head_size = in_dim // num_heads
        all_head = self.head_size * num_heads
        self.query = nn.Linear(in_dim, all_head)
        self.key = nn.Linear(in_dim, all_head)
        self.value = nn.Linear(in_dim, all_head)
        self.out = nn.Linear(all_head, dim)
        self.norm = nn.LayerNorm(dim, eps=1e-12)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        B, M, _ = x.shape
        return x.view(B, M, self.num_heads, self.head_size).transpose(1, 2)  # (B, heads, M, hs)

    def forward(self, h: torch.Tensor, bbox_info: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """h: (B, M, d), bbox_info: (B, M, 3) -> u: (B, M, d), weights: (B, M, M) (mean over heads)."""
        check_fusion_inputs(h, bbox_info, self.dim, None, "fusion (self-attention)")
        enc = self.pe(bbox_info)
        qk_in = torch.cat([h, enc], dim=-1)
        v_in = torch.cat([h, torch.zeros_like(enc)], dim=-1)
        q, k, v = self._split(self.query(qk_in)), self._split(self.key(qk_in)), self._split(self.value(v_in))
        probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.head_size), dim=-1)  # (B, heads, M, M)
        ctx = (probs @ v).transpose(1, 2).reshape(h.shape[0], h.shape[1], -1)
        return self.norm(self.out(ctx)), probs.mean(dim=1)


class NoFusion(nn.Module):
    """u_m = h_m (code `--wo_fuse`). Any M."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, h: torch.Tensor, bbox_info: torch.Tensor) -> tuple[torch.Tensor, None]:
        """h: (B, M, d) -> u = h, weights None."""
        check_fusion_inputs(h, bbox_info, self.dim, None, "fusion (none)")
        return h, None


class MeanFusion(nn.Module):
    """u_m = mean_n h_n. Any M."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, h: torch.Tensor, bbox_info: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """h: (B, M, d) -> u: (B, M, d) all equal to the mean, weights: (B, M, M) all 1/M."""
        check_fusion_inputs(h, bbox_info, self.dim, None, "fusion (mean)")
        B, M, _ = h.shape
        weights = h.new_full((B, M, M), 1.0 / M)
        return h.mean(dim=1, keepdim=True).expand_as(h), weights


# ------------------------------------------------------------------------------------------------------
# Registered builders: all take (dim, num_rois, pe_freqs, pe_flavour, pe_precision).
# ------------------------------------------------------------------------------------------------------

@FUSIONS.register("raf-official")
def raf_official(dim, num_rois, pe_freqs=32, pe_flavour="official", pe_precision="float32"):
    return OfficialWeightFusion(dim, num_rois, "relative", pe_freqs, pe_flavour, pe_precision)


@FUSIONS.register("raf-paper")
def raf_paper(dim, num_rois, pe_freqs=32, pe_flavour="official", pe_precision="float32"):
    return PaperRAF(dim, pe_freqs, pe_flavour, pe_precision)


@FUSIONS.register("null")
def null_code(dim, num_rois, pe_freqs=32, pe_flavour="official", pe_precision="float32"):
    return OfficialWeightFusion(dim, num_rois, "null")


@FUSIONS.register("absolute-pe")
def absolute_pe(dim, num_rois, pe_freqs=32, pe_flavour="official", pe_precision="float32"):
    return OfficialWeightFusion(dim, num_rois, "absolute", pe_freqs, pe_flavour, pe_precision)


@FUSIONS.register("absolute-pe-both")
def absolute_pe_both(dim, num_rois, pe_freqs=32, pe_flavour="official", pe_precision="float32"):
    return OfficialWeightFusion(dim, num_rois, "absolute-both", pe_freqs, pe_flavour, pe_precision)


@FUSIONS.register("self-attention")
def self_attention(dim, num_rois, pe_freqs=32, pe_flavour="official", pe_precision="float32"):
    return SelfAttentionFusion(dim, 4, pe_freqs, pe_flavour, pe_precision)


@FUSIONS.register("none")
def no_fusion(dim, num_rois, pe_freqs=32, pe_flavour="official", pe_precision="float32"):
    return NoFusion(dim)


@FUSIONS.register("mean")
def mean_fusion(dim, num_rois, pe_freqs=32, pe_flavour="official", pe_precision="float32"):
    return MeanFusion(dim)
