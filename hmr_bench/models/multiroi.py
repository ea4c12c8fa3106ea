"""The Multi-RoI model (spec §3): backbone per RoI -> fusion -> head, plus the contrastive embedding.

    model = build_model(backbone="resnet50", fusion="raf-official", head="ief", num_rois=5, mean_params=...)
    out = model(crops, bbox_info)          # crops: (B, M, 3, H, W), bbox_info: (B, M, 3)
    pred = select_eval_roi(out)            # models.common: RoI 0, as the official evaluation (spec §3.3)

One backbone pass over all B·M crops, sample-major (row b·M + m), so BatchNorm statistics span all B·M crops
as in the official code. The embedding z is computed from the backbone features h (before fusion, §4.2).

Shared-backbone mode (`multiroi-shared`, `shared_backbone=True`; not in the paper) [INF]: instead of M crops,
one "union" image per sample covering all M RoIs goes through `backbone.forward_features` once; each RoI's
features are RoIAligned from that map (boxes in union-image pixels) to the feature-map size a normal crop
would have (⌈H/stride⌉ × ⌈W/stride⌉ of `crop_size`, e.g. 8×6 for 256×192 at stride 32), then averaged to
h (B, M, d); fusion, head and projection are unchanged. BatchNorm then sees B union images, not B·M crops.
Use `forward_shared(image, roi_boxes, bbox_info)`; `input_mode` ("crops" / "union") tells the trainer which
inputs the model was built for. The same weights also run `forward` on crops.

Every model of `MODELS` (`models.common`) is registered here: `multiroi`, `multiroi-shared`, and the single-RoI
baselines `hmr` and `cliff` as presets of the same builder (`BASELINES`):

- `hmr` (Kanazawa et al. / SPIN): backbone → IEF regressor with input [h, θ_6d, β, C] (no box code), fc1 → 1024;
  C is the crop (weak-perspective) camera.
- `cliff` (Li et al., ECCV 2022): the same with the RoI's own bbox_info (3 values) in the regressor input,
  [h, bbox_info, θ_6d, β, C]; the camera is still predicted in the crop frame and converted to the full image
  with `hmr_bench.geometry.cameras` (the CLIFF loss lives there, not here).

Both are `build_model(num_rois=1, fusion="none", projection=None, fc1_dim=1024, box_input="none" | "own")`: the
Multi-RoI architecture at M = 1 up to the regressor's box input (none / own 3 / all 3M, which is the own 3 when
M = 1) and fc1's width (2048 in the official Multi-RoI). Their state dicts hold the backbone and the head only,
the layout of CLIFF's and of the earlier separate baseline class, so older checkpoints load unchanged; their
outputs have no embedding and no fusion weights (None).
"""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn

from hmr_bench.errors import InputError
from hmr_bench.models.common import MODELS, ModelOutput, backbone_of, component_rng
from hmr_bench.models.fusion import FUSIONS
from hmr_bench.models.head import HEADS
from hmr_bench.models.projection import PROJECTIONS


def check_crops(crops: torch.Tensor, bbox_info: torch.Tensor, source: str, channels: int = 3) -> None:
    """Raises InputError unless crops is (B, M, C, H, W) with C = `channels` (3 RGB, 24 proxy heatmaps) and
    bbox_info (B, M, 3)."""
    if crops.ndim != 5 or crops.shape[2] != channels:
        raise InputError(source, "crops", found=f"shape {tuple(crops.shape)}",
                         expected=f"shape (B, M, {channels}, H, W): M crops per sample")
    if tuple(bbox_info.shape) != (crops.shape[0], crops.shape[1], 3):
        raise InputError(source, "bbox_info", found=f"shape {tuple(bbox_info.shape)}",
                         expected=f"shape (B, M, 3) = {(crops.shape[0], crops.shape[1], 3)} to match crops")


class MultiRoIModel(nn.Module):
    """backbone (shared over RoIs) -> fusion -> head; projection (or None) on the backbone features."""

    def __init__(self, backbone: nn.Module, fusion: nn.Module, head: nn.Module, projection: nn.Module | None,
                 num_rois: int, crop_size: tuple[int, int] | None = None,
                 roi_output_size: tuple[int, int] | None = None, shared_backbone: bool = False):
        super().__init__()
        self.backbone, self.fusion, self.head, self.projection = backbone, fusion, head, projection
        self.num_rois = num_rois
        self.input_mode = "union" if shared_backbone else "crops"
        self.crop_size = tuple(crop_size or getattr(backbone, "default_input", (256, 192)))
        stride = getattr(backbone, "stride", 32)
        self.roi_output_size = tuple(roi_output_size or (math.ceil(self.crop_size[0] / stride),
                                                         math.ceil(self.crop_size[1] / stride)))

    def forward(self, crops: torch.Tensor, bbox_info: torch.Tensor, roi: int | None = None) -> ModelOutput:
        """crops: (B, M, 3, H, W) ImageNet-normalised; bbox_info: (B, M, 3) (spec §2.2) -> ModelOutput (of RoI
        `roi` only when given: see `decode`)."""
        check_crops(crops, bbox_info, "MultiRoIModel.forward", getattr(self.backbone, "in_chans", 3))
        B, M = crops.shape[:2]
        h = self.backbone(crops.reshape(B * M, *crops.shape[2:])).reshape(B, M, -1)
        return self.decode(h, bbox_info, roi)

    def forward_shared(self, image: torch.Tensor, roi_boxes: torch.Tensor, bbox_info: torch.Tensor,
                       roi: int | None = None) -> ModelOutput:
        """image: (B, 3, Hu, Wu) union crop; roi_boxes: (B, M, 4) as (x1, y1, x2, y2) in its pixels;
        bbox_info: (B, M, 3) -> ModelOutput. One `forward_features` pass, then RoIAlign + mean per RoI."""
        from hmr_bench.models.roi_align import roi_align

        if image.ndim != 4 or image.shape[1] != 3:
            raise InputError("MultiRoIModel.forward_shared", "image", found=f"shape {tuple(image.shape)}",
                             expected="shape (B, 3, H, W): one union image per sample")
        B = image.shape[0]
        if roi_boxes.ndim != 3 or roi_boxes.shape[0] != B or roi_boxes.shape[2] != 4:
            raise InputError("MultiRoIModel.forward_shared", "roi_boxes", found=f"shape {tuple(roi_boxes.shape)}",
                             expected=f"shape (B, M, 4) with B = {B}, as (x1, y1, x2, y2)")
        M = roi_boxes.shape[1]
        if tuple(bbox_info.shape) != (B, M, 3):
            raise InputError("MultiRoIModel.forward_shared", "bbox_info", found=f"shape {tuple(bbox_info.shape)}",
                             expected=f"shape (B, M, 3) = {(B, M, 3)} to match roi_boxes")
        feats = self.backbone.forward_features(image)  # (B, d, h, w)
        batch_idx = torch.arange(B, device=image.device, dtype=feats.dtype).repeat_interleave(M)
        boxes = torch.cat([batch_idx[:, None], roi_boxes.reshape(B * M, 4).to(feats.dtype)], dim=1)  # (B·M, 5)
        pooled = roi_align(feats, boxes, self.roi_output_size, spatial_scale=1.0 / self.backbone.stride,
                           sampling_ratio=2, aligned=True)  # (B·M, d, ph, pw)
        return self.decode(pooled.mean(dim=(2, 3)).reshape(B, M, -1), bbox_info, roi)

    def decode(self, h: torch.Tensor, bbox_info: torch.Tensor, roi: int | None = None) -> ModelOutput:
        """h: (B, M, d) backbone features, bbox_info: (B, M, 3) -> ModelOutput (fusion, head, projection).

        roi: None decodes every RoI (training). An index k decodes RoI k only, as inference needs (the official
        evaluation keeps RoI 0): fusion still mixes all M RoIs, the head regresses only row k (1/M of its work)
        and the contrastive projection, a training-only output, is skipped; `ModelOutput.roi` = k."""
        if h.ndim != 3 or h.shape[1] != self.num_rois:
            raise InputError("MultiRoIModel.decode", "h", found=f"shape {tuple(h.shape)}", expected=f"shape "
                             f"(B, {self.num_rois}, d): the model was built for M = {self.num_rois} RoIs")
        u, weights = self.fusion(h, bbox_info)
        pred = self.head(u, bbox_info, roi)
        if roi is not None:
            return ModelOutput(rotmat=pred.rotmat, betas=pred.betas, cam=pred.cam, features=h,
                               fused=u[:, roi:roi + 1], fusion_weights=weights, roi=roi)
        z = None if self.projection is None else self.projection(h)
        return ModelOutput(rotmat=pred.rotmat, betas=pred.betas, cam=pred.cam, features=h, fused=u,
                           embedding=z, fusion_weights=weights)


def build_model(backbone="cnn-small", fusion="raf-official", head="ief", projection="official", num_rois=5,
                pe_freqs=32, pe_precision="float32", box_input="all", fc1_dim=2048, mean_params=None,
                shared_backbone=False, backbone_kwargs=None, pe_flavour="official", crop_size=None,
                init_seed: int | None = None) -> MultiRoIModel:
    """Builds a MultiRoIModel from registry names (`backbone` may also be a built module).

    projection: a `PROJECTIONS` name, or None / "none" for no embedding. mean_params: (pose6d (144,),
    shape (10,), cam (3,)), e.g. `head.mean_params_from_body(body)`; None = identity pose, zero shape,
    cam (0.9, 0, 0). crop_size: (H, W) of a crop, default the backbone's `default_input`. init_seed: when set,
    each component (backbone, fusion, head, projection) is initialised from its own generator seeded by
    (init_seed, component), so two variants with the same seed start from the same head whatever fusion they
    have (common random numbers across the rows of a table); None: the global RNG in build order.
    """
    with component_rng(init_seed, 0):
        bb = backbone_of(backbone, backbone_kwargs)
    d = bb.out_dim
    with component_rng(init_seed, 1):
        fus = FUSIONS.build(fusion, dim=d, num_rois=num_rois, pe_freqs=pe_freqs, pe_flavour=pe_flavour,
                            pe_precision=pe_precision)
    with component_rng(init_seed, 2):
        hd = HEADS.build(head, feat_dim=d, num_rois=num_rois, mean_params=mean_params, box_input=box_input,
                         fc1_dim=fc1_dim)
    with component_rng(init_seed, 3):
        proj = None if projection in (None, "none") else PROJECTIONS.build(projection, dim=d)
    return MultiRoIModel(bb, fus, hd, proj, num_rois, crop_size=crop_size, shared_backbone=shared_backbone)


@MODELS.register("multiroi")
def multiroi(**kw) -> MultiRoIModel:
    return build_model(**kw)


@MODELS.register("multiroi-shared")
def multiroi_shared(**kw) -> MultiRoIModel:
    return build_model(**{**kw, "shared_backbone": True})


# The single-RoI baselines: presets of the one builder (module docstring); a call's own arguments (backbone,
# mean_params, fc1_dim, init_seed, ...) override these.
BASELINES = {"hmr": "none", "cliff": "own"}  # baseline → the regressor's box input
for _kind, _box_input in BASELINES.items():
    MODELS.register(_kind)(partial(build_model, fusion="none", head="ief", projection=None, num_rois=1,
                                   box_input=_box_input, fc1_dim=1024))
