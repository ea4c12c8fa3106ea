"""Single-RoI baselines HMR and CLIFF, on the same backbones, returning the same `ModelOutput` (M = 1).

- `hmr` (Kanazawa et al. / SPIN): backbone -> IEF regressor with input [h, θ_6d, β, C] (no box code),
  fc1 → 1024; C is the crop (weak-perspective) camera.
- `cliff` (Li et al., ECCV 2022): the same with the RoI's own bbox_info (3 values) in the regressor input,
  [h, bbox_info, θ_6d, β, C]; the camera is still predicted in the crop frame and converted to the full
  image with `hmr_bench.geometry.cameras` (the CLIFF loss lives there, not here).

HMR, CLIFF and Multi-RoI with M = 1 and fusion `none` are the same architecture up to the regressor's box
input (none / own 3 / all 3M, which is the own 3 when M = 1) and the fc1 width (1024 here, 2048 in the
official Multi-RoI): a `build_model(num_rois=1, fusion="none", box_input="own", fc1_dim=1024,
projection=None)` takes CLIFF's state dict unchanged and gives identical outputs. No contrastive projection,
no fusion weights (both None in the output).
"""

from __future__ import annotations

import torch
from torch import nn

from hmr_bench.errors import InputError
from hmr_bench.models.common import MODELS, ModelOutput, backbone_of, component_rng
from hmr_bench.models.head import IEFHead


class SingleRoIModel(nn.Module):
    """backbone -> IEF head (M = 1). `box_input`: "none" (HMR) or "own" (CLIFF)."""

    def __init__(self, backbone: nn.Module, head: IEFHead, name: str):
        super().__init__()
        self.backbone, self.head, self.name = backbone, head, name
        self.num_rois = 1
        self.input_mode = "crops"

    def forward(self, crops: torch.Tensor, bbox_info: torch.Tensor | None = None,
                roi: int | None = None) -> ModelOutput:
        """crops: (B, 3, H, W) or (B, 1, 3, H, W); bbox_info: (B, 3) or (B, 1, 3) (None allowed for HMR).

        Returns ModelOutput with M = 1.
        """
        src = f"{self.name}.forward"
        if crops.ndim == 5 and crops.shape[1] == 1:
            crops = crops[:, 0]
        c = getattr(self.backbone, "in_chans", 3)
        if crops.ndim != 4 or crops.shape[1] != c:
            raise InputError(src, "crops", found=f"shape {tuple(crops.shape)}",
                             expected=f"shape (B, {c}, H, W) or (B, 1, {c}, H, W): one crop per sample")
        return self.decode(self.backbone(crops)[:, None], bbox_info, roi)

    def decode(self, h: torch.Tensor, bbox_info: torch.Tensor | None, roi: int | None = None) -> ModelOutput:
        """h: (B, 1, d) backbone features (or (B, M, d): RoI 0 is used); bbox_info: (B, 3), (B, M, 3) or None.
        roi: None or 0 (the one RoI; `ModelOutput.roi` is set to it)."""
        src = f"{self.name}.decode"
        if roi not in (None, 0):
            raise InputError(src, "roi", found=roi, expected="0 or None: a single-RoI model has one RoI")
        h = h[:, :1]
        B = h.shape[0]
        if bbox_info is None:
            if self.head.box_input != "none":
                raise InputError(src, "bbox_info", found="None", expected=f"shape (B, 3) for {self.name}")
            bbox_info = h.new_zeros(B, 3)
        if bbox_info.ndim == 3:
            bbox_info = bbox_info[:, 0]
        if tuple(bbox_info.shape) != (B, 3):
            raise InputError(src, "bbox_info", found=f"shape {tuple(bbox_info.shape)}",
                             expected=f"shape (B, 3) or (B, 1, 3) with B = {B}")
        pred = self.head(h, bbox_info[:, None])
        return ModelOutput(rotmat=pred.rotmat, betas=pred.betas, cam=pred.cam, features=h, fused=h, roi=roi)


def build_single_roi(kind: str, backbone="cnn-small", mean_params=None, fc1_dim=1024, backbone_kwargs=None,
                     init_seed: int | None = None):
    """kind: "hmr" (no box input) or "cliff" (own bbox_info); init_seed: as `multiroi.build_model`'s."""
    with component_rng(init_seed, 0):
        bb = backbone_of(backbone, backbone_kwargs)
    box_input = {"hmr": "none", "cliff": "own"}[kind]
    with component_rng(init_seed, 2):
        head = IEFHead(bb.out_dim, 1, mean_params, box_input=box_input, fc1_dim=fc1_dim)
    return SingleRoIModel(bb, head, kind)


@MODELS.register("hmr")
def hmr(backbone="cnn-small", mean_params=None, fc1_dim=1024, backbone_kwargs=None, init_seed=None) -> SingleRoIModel:
    return build_single_roi("hmr", backbone, mean_params, fc1_dim, backbone_kwargs, init_seed)


@MODELS.register("cliff")
def cliff(backbone="cnn-small", mean_params=None, fc1_dim=1024, backbone_kwargs=None,
          init_seed=None) -> SingleRoIModel:
    return build_single_roi("cliff", backbone, mean_params, fc1_dim, backbone_kwargs, init_seed)
