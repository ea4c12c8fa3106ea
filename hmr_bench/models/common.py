"""What every model shares: the `MODELS` registry, the per-RoI output (`ModelOutput`), the choice of the evaluated
RoI (`select_eval_roi`) and the per-component initialisation seed (`component_rng`).

    model = MODELS.build("cliff", backbone="cnn-small", init_seed=0)     # or "multiroi", "multiroi-shared", "hmr"
    pred = select_eval_roi(model(crops, bbox_info))                      # RoI 0, as the official evaluation

Each model registers itself where it is defined (`multiroi`, which also registers the HMR / CLIFF baselines as
presets of its builder); importing `hmr_bench.models` imports it, so `MODELS` is complete whichever module is
imported first.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

from hmr_bench.errors import InputError
from hmr_bench.models.backbones import build_backbone
from hmr_bench.registry import Registry

MODELS = Registry("model")
OFFICIAL_EVAL_ROI = 0  # the original (unshifted, unrescaled) box; the other M−1 meshes are discarded


@dataclass
class ModelOutput:
    """Per-RoI predictions (M = 1 for the HMR / CLIFF baselines).

    rotmat: (B, M, 24, 3, 3); betas: (B, M, 10); cam: (B, M, 3) as (s, tx, ty), the crop camera;
    features: h (B, M, d) backbone features; fused: u (B, M, d); embedding: z (B, M, dz) or None;
    fusion_weights: (B, M, M), row m = weights over source RoIs n, or None.
    roi: None when every RoI was decoded; k when only RoI k was (inference: `decode(..., roi=k)`), then M = 1 in
    rotmat, betas, cam and fused (features keep all M RoIs, embedding is None).
    """

    rotmat: torch.Tensor
    betas: torch.Tensor
    cam: torch.Tensor
    features: torch.Tensor
    fused: torch.Tensor
    embedding: torch.Tensor | None = None
    fusion_weights: torch.Tensor | None = None
    roi: int | None = None


@dataclass
class RoIPrediction:
    """One RoI's predictions per sample: rotmat (B, 24, 3, 3), betas (B, 10), cam (B, 3)."""

    rotmat: torch.Tensor
    betas: torch.Tensor
    cam: torch.Tensor


def select_eval_roi(output: ModelOutput, roi: int = OFFICIAL_EVAL_ROI) -> RoIPrediction:
    """The evaluation prediction: RoI `roi` of every sample (official: 0, spec §3.3; no averaging). `output` may hold
    every RoI or, decoded with `roi=`, that RoI only."""
    if output.roi is not None:
        if output.roi != roi:
            raise InputError("select_eval_roi", "roi", found=roi, expected=f"{output.roi}, the only RoI decoded")
        return RoIPrediction(output.rotmat[:, 0], output.betas[:, 0], output.cam[:, 0])
    M = output.rotmat.shape[1]
    if not 0 <= roi < M:
        raise InputError("select_eval_roi", "roi", found=roi, expected=f"an index in [0, {M})")
    return RoIPrediction(output.rotmat[:, roi], output.betas[:, roi], output.cam[:, roi])


@contextlib.contextmanager
def component_rng(init_seed: int | None, component: int):
    """Initialisation inside: the global torch RNG seeded by (init_seed, component), restored afterwards; a
    no-op when init_seed is None."""
    if init_seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(init_seed) * 1009 + component)
        yield


def backbone_of(backbone, backbone_kwargs=None) -> nn.Module:
    """`backbone` itself when it is a module, else `build_backbone(backbone, **backbone_kwargs)`."""
    if isinstance(backbone, nn.Module):
        return backbone
    return build_backbone(backbone, **(backbone_kwargs or {}))
