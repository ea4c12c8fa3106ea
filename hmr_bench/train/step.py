"""One training step's maths and one evaluation batch: model → body model → losses / metrics.

Batch tensors are (B, M, ...) per RoI and (B, ...) per sample, as `data.samples` documents. Every RoI's
prediction is supervised with the sample's GT (spec §4.7); evaluation uses RoI 0 (`official`).
"""

from __future__ import annotations

import weakref

import torch

from hmr_bench.body.lbs import rotmats_from_axis_angle
from hmr_bench.body.source import gt_bodies
from hmr_bench.body.sparse import SparseBody
from hmr_bench.config import RunConfig
from hmr_bench.data.device_crops import cut_crops
from hmr_bench.data.images import normalize_crops
from hmr_bench.errors import NonFiniteLossError
from hmr_bench.eval.gt_choice import with_gt_convention
from hmr_bench.eval.protocols import Protocol, evaluate_batch, ground_truth
from hmr_bench.losses import (
    camera_consistency_loss,
    contrastive_loss,
    keypoint_3d_loss,
    reprojection_loss_2d,
    smpl_param_loss,
    total_loss,
    vertex_loss,
)
from hmr_bench.models.common import select_eval_roi
from hmr_bench.train.features import decode_features


def to_device(batch: dict, device: torch.device) -> dict:
    """The batch on `device` (non-blocking copies from the loader's pinned memory); with `data.crop_on = "device"`
    its M RoI crops are cut there from the decoded images (`data.device_crops.cut_crops`; a "cpu" batch passes
    through unchanged)."""
    return cut_crops({k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()})


def run_model(model, batch: dict, cfg: RunConfig, roi: int | None = None):
    """ModelOutput of a batch (crops mode, or the union image in shared-backbone mode); of RoI `roi` only when
    given (inference: `MultiRoIModel.decode`). `model` may be the DistributedDataParallel wrapper of a
    `BatchForward` (then its forward does this, for every RoI)."""
    if isinstance(model, torch.nn.parallel.DistributedDataParallel):
        return model(batch)
    if "features" in batch:  # a frozen backbone's cached features (train.features)
        return decode_features(model, batch["features"], batch["bbox_info"].float(), cfg.train.tail_blocks, roi)
    if cfg.model.shared_backbone:
        return model.forward_shared(normalize_crops(batch["union"]), batch["roi_boxes_union"].float(),
                                    batch["bbox_info"].float(), roi)
    return model(normalize_crops(batch["crops"]), batch["bbox_info"].float(), roi)


class BatchForward(torch.nn.Module):
    """model(batch) → ModelOutput as `run_model` computes it: the module DistributedDataParallel wraps (DDP
    synchronises gradients only through its own forward, so the shared-backbone path must go through it too)."""

    def __init__(self, model: torch.nn.Module, cfg: RunConfig):
        super().__init__()
        self.model, self.cfg = model, cfg

    def forward(self, batch: dict):
        return run_model(self.model, batch, self.cfg)


_SPARSE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def sparse_body(body, vertex_stride: int) -> SparseBody:
    """The `SparseBody` of `body` at a vertex stride, built once per body model (and device)."""
    per_body = _SPARSE.setdefault(body, {})
    key = (vertex_stride, body.mean_shape.device, body.mean_shape.dtype)
    if key not in per_body:
        per_body[key] = SparseBody(body, vertex_stride)
    return per_body[key]


def losses(model, body, batch: dict, cfg: RunConfig) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Total loss (0-d) and the weighted terms {name: 0-d} of one batch (spec §4). Weight-0 terms are not
    computed. Nothing here checks for NaN/Inf (that would wait for the device every step): the trainer hands the
    results to a `FiniteWatch`."""
    out = run_model(model, batch, cfg)
    B, M = out.cam.shape[:2]
    w, lc = cfg.loss.weights, cfg.loss
    sbody = sparse_body(body, lc.vertex_stride)  # exact joints; the vertex loss's vertices only
    pred = sbody(out.betas.reshape(B * M, -1), out.rotmat.reshape(B * M, 24, 3, 3), vertices=bool(w.vertex))
    joints49 = pred.joints("spin49").reshape(B, M, 49, 3)
    has_smpl = batch["has_smpl"].bool()[:, None].expand(B, M)
    terms: dict[str, torch.Tensor] = {}
    if w.keypoint:
        terms["keypoint"] = reprojection_loss_2d(
            joints49, out.cam, batch["center"], batch["b"], batch["img_w"], batch["img_h"], batch["focal"],
            batch["crop_trans"], batch["keypoints_crop"], crop_size=cfg.data.crop_size,
            keypoint_weighting=lc.keypoint_weighting, openpose_weight=lc.openpose_weight, gt_weight=lc.gt_weight,
            frame=lc.reprojection_frame)
    if w.keypoint3d:
        gt3d = batch["joints3d"][:, None].expand(B, M, 24, 4)
        terms["keypoint3d"] = keypoint_3d_loss(joints49[:, :, 25:], gt3d, batch["has_3d"].bool()[:, None].expand(B, M))
    if w.vertex:
        with torch.no_grad():
            gt = sbody(batch["betas"].float(), rotmats_from_axis_angle(batch["pose"].float()))  # (B, V_s, 3)
        pv = pred.vertices.reshape(B, M, -1, 3)
        gv = gt.vertices[:, None].expand_as(pv)
        terms["vertex"] = vertex_loss(pv, gv, pred.pelvis.reshape(B, M, 3), gt.pelvis[:, None].expand(B, M, 3),
                                      has_smpl, norm=lc.vertex_norm)
    if w.pose or w.beta:
        gt_pose = batch["pose"].float()[:, None].expand(B, M, 72)
        gt_betas = batch["betas"].float()[:, None].expand(B, M, -1)
        terms["pose"], terms["beta"] = smpl_param_loss(out.rotmat, out.betas, gt_pose, gt_betas, has_smpl)
    if w.cam and M > 1:
        terms["cam"] = camera_consistency_loss(out.cam, batch["center"], batch["b"], batch["img_w"], batch["img_h"],
                                               batch["focal"], variant=lc.cam, lambda_x=lc.lambda_x,
                                               lambda_y=lc.lambda_y, lambda_s=lc.lambda_s)
    if w.cont and M > 1 and out.embedding is not None:
        terms["cont"] = contrastive_loss(out.embedding, variant=lc.cont, temperature=lc.temperature)
    return total_loss(terms, w)


class FiniteWatch:
    """NaN/Inf detection of the training loss without a host synchronisation per step.

    `if not torch.isfinite(loss)` makes the CPU wait for the GPU every step. The watch keeps each step's weighted
    terms and total on the device (detached 0-d tensors) and `check()` tests every step since the last check with
    one transfer, returning the error of the first non-finite step as the immediate check would word it (its
    terms named, prefixed by the step's `where`): a raw NaN/Inf term is NaN/Inf weighted too (weights are finite
    numbers, 0 · Inf = NaN). The steps after a bad one run on, with non-finite weights, until the check; the run
    fails all the same and no checkpoint is written in between (the trainer checks at the end of every epoch).

        watch.add("epoch 1, step 3", total, weighted)   # every step
        bad, last = watch.check()                        # every `every` steps: ((where, error) | None, loss)
    """

    def __init__(self, every: int = 25):
        self.every, self._steps = every, []

    def add(self, where: str, total: torch.Tensor, weighted: dict[str, torch.Tensor]) -> None:
        self._steps.append((where, total.detach(), {k: v.detach() for k, v in weighted.items()}))

    def due(self) -> bool:
        return len(self._steps) >= self.every

    def check(self) -> tuple[tuple[str, NonFiniteLossError] | None, float | None]:
        """((`where` of the first non-finite step, its error naming the terms) or None, the last step's total
        loss as a float); (None, None) when nothing was added since the last check."""
        steps, self._steps = self._steps, []
        if not steps:
            return None, None
        flags = torch.stack([torch.isfinite(torch.stack([t.float(), *(v.float() for v in w.values())])).all()
                             for _, t, w in steps]).tolist()  # the one synchronisation
        last = float(steps[-1][1])
        for ok, (where, total, weighted) in zip(flags, steps):
            if not ok:
                error = NonFiniteLossError(weighted)
                return (where, error if error.names else NonFiniteLossError({"total": total})), last
        return None, last


@torch.no_grad()
def evaluate_predictions(model, body, batch: dict, cfg: RunConfig, protocol: Protocol) -> dict[str, torch.Tensor]:
    """Per-sample metrics of one eval batch (RoI `protocol.roi`, official: 0)."""
    roi = select_eval_roi(run_model(model, batch, cfg, roi=protocol.roi), protocol.roi)
    pred = body(roi.betas, rotmat=roi.rotmat)
    protocol = with_gt_convention(protocol, cfg.data.eval_gt)  # the run's named GT source (eval.gt_choice)
    gt = ground_truth(protocol, batch, gt_bodies(body, cfg.body_model))  # gendered GT models when given
    return evaluate_batch(protocol, pred.vertices, pred.joints("h36m17"), gt)
