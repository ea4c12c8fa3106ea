"""Inference callables per scope, and the per-part times of one inference (no_grad, eval mode, cfg.train.amp).

Scopes (what one call computes, for a batch of B samples with M RoIs each; the batch is already on the device):

    backbone     the backbone on B·M normalised crops (shared mode: `forward_features` on B union images)
    model        + fusion, head and projection: `model(crops, bbox_info)` / `forward_shared(...)` on normalised input
    end-to-end   uint8 → normalised, model decoding RoI 0 only (`decode(..., roi=0)`: fusion over all M, head on
                 RoI 0, no projection), body model → vertices and H36M-17 joints
                 (what evaluation and a deployed model compute; Table 4's FPS is this scope)

    fn = inference_fn(model, body, batch, cfg, "end-to-end")     # a zero-argument callable
    t = time_inference(model, body, batch, cfg, rounds=10, device="cuda")
    parts = inference_parts(model, body, batch, cfg, rounds=10, device="cuda")   # backbone / fusion_head / body
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from hmr_bench.bench.timing import Timing, check_rounds, time_fn
from hmr_bench.errors import InputError
from hmr_bench.models.common import OFFICIAL_EVAL_ROI

SCOPES = ("backbone", "model", "end-to-end")
PARTS = ("backbone", "fusion_head", "body")  # the parts of one end-to-end inference


def _check_scope(scope: str) -> None:
    if scope not in SCOPES:
        raise InputError("inference", "scope", found=repr(scope), expected="one of " + ", ".join(SCOPES))


def _normalised(batch: dict, cfg) -> dict:
    """Float inputs of the model, normalised once (outside the timed region of the backbone/model scopes)."""
    from hmr_bench.data.images import normalize_crops

    if cfg.model.shared_backbone:
        return {"union": normalize_crops(batch["union"]), "roi_boxes": batch["roi_boxes_union"].float(),
                "bbox_info": batch["bbox_info"].float()}
    return {"crops": normalize_crops(batch["crops"]), "bbox_info": batch["bbox_info"].float()}


def _backbone_features(model, x: dict, cfg) -> torch.Tensor:
    """h: (B, M, d) as the model computes it (crops mode: pooled per crop; shared: RoIAlign + mean)."""
    if not cfg.model.shared_backbone:
        crops = x["crops"]
        B, M = crops.shape[:2]
        return model.backbone(crops.reshape(B * M, *crops.shape[2:])).reshape(B, M, -1)
    from hmr_bench.models.roi_align import roi_align

    feats = model.backbone.forward_features(x["union"])
    B, M = x["roi_boxes"].shape[:2]
    idx = torch.arange(B, device=feats.device, dtype=feats.dtype).repeat_interleave(M)
    boxes = torch.cat([idx[:, None], x["roi_boxes"].reshape(B * M, 4).to(feats.dtype)], dim=1)
    pooled = roi_align(feats, boxes, model.roi_output_size, spatial_scale=1.0 / model.backbone.stride,
                       sampling_ratio=2, aligned=True)
    return pooled.mean(dim=(2, 3)).reshape(B, M, -1)


def _model(model, x: dict, cfg, roi: int | None = None):
    if cfg.model.shared_backbone:
        return model.forward_shared(x["union"], x["roi_boxes"], x["bbox_info"], roi)
    return model(x["crops"], x["bbox_info"], roi)


def _body(body, out):
    """Vertices (B, V, 3) and H36M-17 joints (B, 17, 3) of RoI 0 (the official evaluation RoI)."""
    from hmr_bench.models.common import select_eval_roi

    roi = select_eval_roi(out)
    pred = body(roi.betas.float(), rotmat=roi.rotmat.float())
    return pred.vertices, pred.joints("h36m17")


def inference_fn(model, body, batch: dict, cfg, scope: str = "end-to-end", device="cpu") -> Callable[[], object]:
    """A zero-argument callable running one inference of `scope` (see the module docstring) on `batch` under
    no_grad and `train.perf.autocast(cfg, device)`. It does not synchronise the device (`timing.synced` does)."""
    from hmr_bench.data.images import normalize_crops
    from hmr_bench.train.perf import autocast

    _check_scope(scope)
    with torch.no_grad():
        x = _normalised(batch, cfg)

    def call():
        with torch.no_grad(), autocast(cfg, device):
            if scope == "backbone":
                if cfg.model.shared_backbone:
                    return model.backbone.forward_features(x["union"])
                c = x["crops"]
                return model.backbone(c.reshape(-1, *c.shape[2:]))
            if scope == "model":
                return _model(model, x, cfg)
            key = "union" if cfg.model.shared_backbone else "crops"
            xe = {**x, key: normalize_crops(batch[key])}
            return _body(body, _model(model, xe, cfg, roi=OFFICIAL_EVAL_ROI))

    return call


def time_inference(model, body, batch: dict, cfg, scope: str = "end-to-end", rounds: int = 10, warmup: int = 2,
                   device="cpu") -> Timing:
    """Timing of `inference_fn(...)` (seconds per batch; samples/s = `timing.rate(B)`)."""
    return time_fn(inference_fn(model, body, batch, cfg, scope, device), rounds, warmup, device)


def inference_parts(model, body, batch: dict, cfg, rounds: int = 10, warmup: int = 2, device="cpu") -> dict:
    """Timing of each part of one end-to-end inference, each timed on its own inputs (computed once before):

        backbone     normalised input → h (B, M, d) (shared mode: forward_features + RoIAlign + mean)
        fusion_head  h → RoI 0's ModelOutput: fusion, head (`model.decode(h, bbox_info, roi=0)`)
        body         ModelOutput → RoI 0 → body model → vertices, H36M-17 joints

    Returns {part: Timing} in `PARTS` order. Timing parts apart keeps a small part's time from being the
    difference of two large, noisy totals."""
    from hmr_bench.train.perf import autocast

    check_rounds(rounds, warmup, "inference_parts")
    with torch.no_grad(), autocast(cfg, device):
        x = _normalised(batch, cfg)
        h = _backbone_features(model, x, cfg)
        out = model.decode(h, x["bbox_info"], OFFICIAL_EVAL_ROI)

    def timed(fn):
        def call():
            with torch.no_grad(), autocast(cfg, device):
                return fn()

        return time_fn(call, rounds, warmup, device)

    return {"backbone": timed(lambda: _backbone_features(model, x, cfg)),
            "fusion_head": timed(lambda: model.decode(h, x["bbox_info"], OFFICIAL_EVAL_ROI)),
            "body": timed(lambda: _body(body, out))}


def overhead_share(parts: dict[str, Timing]) -> float:
    """Share of one inference spent outside the backbone: (fusion_head + body) / (backbone + fusion_head + body),
    from the parts' median seconds."""
    t = {k: parts[k].median_s for k in PARTS}
    return (t["fusion_head"] + t["body"]) / sum(t.values())
