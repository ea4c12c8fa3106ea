"""Per-sample 3D errors in millimetres (spec §6): MPJPE, PA-MPJPE, PVE, PA-PVE, per-joint and per-action.

Inputs are metres; every function returns millimetres (× 1000). No body-model calls here: the protocol
(`protocols.evaluate_batch`) selects joints and subtracts pelvises, the trainer poses the meshes.

Per-joint errors (Fig. 7 right) are the errors of each joint AFTER one whole-skeleton alignment per sample:
root alignment for MPJPE (the caller's pelvis subtraction) and one similarity transform per sample, fitted on
all J joints at once, for PA. The official `--by_keypoint` code instead runs Procrustes on each joint alone;
a similarity transform fitted to a single point maps it onto its GT exactly, so that per-joint PA error is
degenerate (≈ 0 for every joint). The mean of our per-joint errors over joints is the sample's MPJPE /
PA-MPJPE exactly.

Non-finite inputs give NaN errors for the affected samples (no exception): a diverged model shows up as NaN
in the results rather than stopping an evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from hmr_bench.errors import InputError
from hmr_bench.geometry.procrustes import similarity_align

MM_PER_M = 1000.0


def _pair(pred, gt, source: str, what: str = "J") -> tuple[torch.Tensor, torch.Tensor]:
    """pred, gt → tensors of the same (N, P, 3) shape and floating dtype (pred's, else float32)."""
    pred = torch.as_tensor(pred)
    if not pred.is_floating_point():
        pred = pred.to(torch.get_default_dtype())
    gt = torch.as_tensor(gt, dtype=pred.dtype, device=pred.device)
    for name, x in (("pred", pred), ("gt", gt)):
        if x.ndim != 3 or x.shape[-1] != 3:
            raise InputError(source, name, found=f"shape {tuple(x.shape)}", expected=f"shape (N, {what}, 3), metres")
    if pred.shape != gt.shape:
        raise InputError(source, "gt", found=f"shape {tuple(gt.shape)}", expected=f"pred's shape {tuple(pred.shape)}")
    return pred, gt


def _procrustes(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """pred aligned to gt by one similarity transform per sample (computed in float64), pred's dtype.
    Samples with a non-finite point come back all NaN (the SVD would fail on them)."""
    p, g = pred.double(), gt.double()
    bad = ~(torch.isfinite(p).all(-1).all(-1) & torch.isfinite(g).all(-1).all(-1))
    if bad.any():
        p, g = p.masked_fill(bad[:, None, None], 0.0), g.masked_fill(bad[:, None, None], 0.0)
    aligned = similarity_align(p, g)
    return aligned.masked_fill(bad[:, None, None], float("nan")).to(pred.dtype)


def _point_errors(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(pred - gt, dim=-1) * MM_PER_M


def per_joint_error(pred, gt) -> torch.Tensor:
    """Per-joint L2 error in mm of root-aligned joints. pred, gt: (N, J, 3) metres, each already minus its
    own pelvis. Returns (N, J); its mean over J is `mpjpe`."""
    pred, gt = _pair(pred, gt, "per_joint_error")
    return _point_errors(pred, gt)


def mpjpe(pred, gt) -> torch.Tensor:
    """MPJPE: mean over joints of the L2 error, mm. pred, gt: (N, J, 3) metres, root-aligned by the caller.
    Returns (N,)."""
    pred, gt = _pair(pred, gt, "mpjpe")
    return _point_errors(pred, gt).mean(-1)


def pa_per_joint_error(pred, gt) -> torch.Tensor:
    """Per-joint L2 error in mm after ONE similarity Procrustes per sample fitted on all J joints
    (not per joint, see the module docstring). pred, gt: (N, J, 3) metres. Returns (N, J)."""
    pred, gt = _pair(pred, gt, "pa_per_joint_error")
    return _point_errors(_procrustes(pred, gt), gt)


def pa_mpjpe(pred, gt) -> torch.Tensor:
    """PA-MPJPE: MPJPE after per-sample similarity Procrustes of pred onto gt (`similarity_align`: rotation,
    uniform scale, translation; no reflection). pred, gt: (N, J, 3) metres. Returns (N,) mm."""
    pred, gt = _pair(pred, gt, "pa_mpjpe")
    return _point_errors(_procrustes(pred, gt), gt).mean(-1)


def pve(pred_v, gt_v, pred_pelvis=None, gt_pelvis=None) -> torch.Tensor:
    """PVE (per-vertex error): mean over vertices of the L2 error, mm, no Procrustes (spec §6).

    pred_v, gt_v: (N, V, 3) metres; pred_pelvis, gt_pelvis: (N, 3) or None — each mesh's own pelvis (H36M
    regressor joint 0 of that mesh), subtracted here when given; None means the caller already did.
    Returns (N,).
    """
    pred_v, gt_v = _pair(pred_v, gt_v, "pve", "V")
    n = pred_v.shape[0]
    for name, p in (("pred_pelvis", pred_pelvis), ("gt_pelvis", gt_pelvis)):
        if p is not None and tuple(torch.as_tensor(p).shape) != (n, 3):
            raise InputError("pve", name, found=f"shape {tuple(torch.as_tensor(p).shape)}", expected=f"({n}, 3)")
    if pred_pelvis is not None:
        pred_v = pred_v - torch.as_tensor(pred_pelvis, dtype=pred_v.dtype, device=pred_v.device)[:, None]
    if gt_pelvis is not None:
        gt_v = gt_v - torch.as_tensor(gt_pelvis, dtype=gt_v.dtype, device=gt_v.device)[:, None]
    return _point_errors(pred_v, gt_v).mean(-1)


def pa_pve(pred_v, gt_v) -> torch.Tensor:
    """PA-PVE: PVE after one similarity Procrustes per sample fitted on all vertices (translation-invariant, so
    no pelvis is needed). pred_v, gt_v: (N, V, 3) metres. Returns (N,) mm."""
    pred_v, gt_v = _pair(pred_v, gt_v, "pa_pve", "V")
    return _point_errors(_procrustes(pred_v, gt_v), gt_v).mean(-1)


def per_action_mean(errors, labels: Sequence[str]) -> dict[str, float]:
    """Mean of per-sample errors for each action label (Fig. 7 left).

    errors: (N,) tensor / array of per-sample errors; labels: N strings (None or "" rows are skipped, e.g.
    H36M Smoking, which no Fig. 7 category holds). Returns {label: mean}, labels sorted; NaN errors propagate
    into their label's mean.
    """
    e = np.asarray(errors.detach().cpu() if isinstance(errors, torch.Tensor) else errors, dtype=np.float64)
    labels = list(labels)
    if e.ndim != 1 or len(labels) != e.shape[0]:
        raise InputError("per_action_mean", "labels", found=f"{len(labels)} labels for errors of shape {e.shape}",
                         expected="one label per sample of a 1-D errors array")
    out: dict[str, float] = {}
    for name in sorted({str(x) for x in labels if x}):
        out[name] = float(e[[str(x) == name for x in labels]].mean())
    return out
