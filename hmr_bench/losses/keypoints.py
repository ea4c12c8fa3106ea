"""Keypoint losses: the 2D reprojection loss through each RoI's full camera (spec §2.5, §4.3, §8 items 9–10)
and the pelvis-centred 3D joint loss (spec §4.4).

2D keypoints are 49 joints in SPIN order: 0..24 OpenPose, 25..48 the 24 GT joints. GT 2D keypoints arrive in
crop pixels of each RoI (x ∈ [0, W_c), y ∈ [0, H_c)) with a confidence in the last column.
"""

from __future__ import annotations

import torch

from hmr_bench.errors import InputError, check_variant, require_shape
from hmr_bench.geometry.cameras import project_full, weak_perspective
from hmr_bench.geometry.crops import apply_affine, box_to_crop_pixels, invert_affine, normalize_crop_points
from hmr_bench.losses._checks import valid_rows
from hmr_bench.losses.camera import full_cameras

KEYPOINT_WEIGHTINGS = ("official", "spin")
REPROJECTION_FRAMES = ("crop", "full", "weak-perspective")
NUM_OPENPOSE = 25  # joints 0..24 of the 49-joint SPIN set
CROP_SIZE = (192, 256)  # (W_c, H_c) of the rect crops
SPIN_OPENPOSE_WEIGHT, SPIN_GT_WEIGHT = 0.0, 1.0  # SPIN's openpose_train_weight / gt_train_weight


def keypoint_confidence(conf, keypoint_weighting: str = "official", openpose_weight: float | None = None,
                        gt_weight: float | None = None) -> torch.Tensor:
    """Per-joint weights of the 2D loss (spec §4.3, §8 item 10).

    conf: (..., J) dataset confidences. "official": returned unchanged — the official trainer never applies
    openpose/gt weights (its `agora_occ` branch), so OpenPose joints count with their raw confidences;
    passing a weight with it is an error. "spin": J must be 49; joints 0..24 × openpose_weight (default 0),
    joints 25..48 × gt_weight (default 1). Returns (..., J).
    """
    check_variant(keypoint_weighting, KEYPOINT_WEIGHTINGS, "keypoint_confidence", "keypoint_weighting")
    if keypoint_weighting == "official":
        if openpose_weight is not None or gt_weight is not None:
            raise InputError("keypoint_confidence", "openpose_weight/gt_weight",
                             found=f"{openpose_weight}/{gt_weight}",
                             expected="None with keypoint_weighting='official' (the official trainer never "
                                      "applies them)", hint="use keypoint_weighting='spin'")
        return conf
    if conf.shape[-1] != 49:
        raise InputError("keypoint_confidence", "conf", found=f"{conf.shape[-1]} joints",
                         expected="49 joints (SPIN order: 0..24 OpenPose, 25..48 GT) for keypoint_weighting='spin'")
    op = SPIN_OPENPOSE_WEIGHT if openpose_weight is None else openpose_weight
    gt = SPIN_GT_WEIGHT if gt_weight is None else gt_weight
    return torch.cat([conf[..., :NUM_OPENPOSE] * op, conf[..., NUM_OPENPOSE:] * gt], dim=-1)


def reprojection_loss_2d(joints3d, cam, center, b, img_w, img_h, focal, crop_trans, gt_kp_crop,
                         crop_size=CROP_SIZE, keypoint_weighting: str = "official",
                         openpose_weight: float | None = None, gt_weight: float | None = None,
                         frame: str = "crop") -> torch.Tensor:
    """L_2D: each RoI's joints through its own full camera, compared with its own GT (spec §2.5, §4.3).

    joints3d: (B, M, J, 3) root-relative predicted joints (no translation); cam: (B, M, 3) as (s, tx, ty);
    center: (B, M, 2); b: (B, M); img_w, img_h, focal: float or (B,); crop_trans: (B, M, 2, 3) NON-rotated
    full → crop affine of each RoI; gt_kp_crop: (B, M, J, 3) GT in crop pixels + confidence;
    crop_size: (W_c, H_c).

    Prediction: p = project_full(J, crop_to_full(cam)) in full-image pixels. Then per `frame`:

    - "crop" (official, §2.5): q = crop_trans·p, and both q and the GT are normalised per axis by the crop,
      x' = 2x/W_c − 1, y' = 2y/H_c − 1.
    - "full" (the paper's wording "in the full image", §8 item 9): the GT is mapped back to full-image
      pixels with the inverse of the same crop_trans, and both are normalised by the image,
      x' = 2x/W − 1, y' = 2y/H − 1. A pixel error then weighs (b·W_c/(H_c·W))² (x) and (b/H)² (y) times
      what it weighs in "crop" (far less for small boxes): keypoint weights do not carry over between frames.
    - "weak-perspective" (HMR): no full camera; the crop camera projects weak-perspectively in box units,
      which `box_to_crop_pixels` turns into crop pixels, then normalised as in "crop".

    Loss = mean over (B, M, J, 2) of w_j·(pred' − gt')², w from `keypoint_confidence` (keypoint_weighting,
    openpose_weight, gt_weight). Returns a 0-d tensor.
    """
    check_variant(frame, REPROJECTION_FRAMES, "reprojection_loss_2d", "frame")
    t_full, _, (w, h, f) = full_cameras(cam, center, b, img_w, img_h, focal, "reprojection_loss_2d")
    B, M = t_full.shape[:2]
    joints3d = torch.as_tensor(joints3d, dtype=t_full.dtype, device=t_full.device)
    require_shape(joints3d, (B, M, None, 3), "reprojection_loss_2d", "joints3d", "root-relative joints")
    J = joints3d.shape[2]
    gt_kp_crop = torch.as_tensor(gt_kp_crop, dtype=t_full.dtype, device=t_full.device)
    require_shape(gt_kp_crop, (B, M, J, 3), "reprojection_loss_2d", "gt_kp_crop", "crop pixels + confidence")
    crop_trans = torch.as_tensor(crop_trans, dtype=t_full.dtype, device=t_full.device)
    require_shape(crop_trans, (B, M, 2, 3), "reprojection_loss_2d", "crop_trans", "full → crop affine")
    if len(crop_size) != 2:
        raise InputError("reprojection_loss_2d", "crop_size", found=repr(crop_size), expected="(W_c, H_c)")

    if frame == "weak-perspective":
        pred = normalize_crop_points(box_to_crop_pixels(weak_perspective(joints3d, cam), crop_size), crop_size)
        gt = normalize_crop_points(gt_kp_crop[..., :2], crop_size)
        conf = keypoint_confidence(gt_kp_crop[..., 2], keypoint_weighting, openpose_weight, gt_weight)
        return (conf[..., None] * (pred - gt).pow(2)).mean()
    pred_full = project_full(joints3d, t_full, f, w, h)  # (B, M, J, 2)
    if frame == "crop":
        pred = normalize_crop_points(apply_affine(crop_trans, pred_full), crop_size)
        gt = normalize_crop_points(gt_kp_crop[..., :2], crop_size)
    else:
        gt_full = apply_affine(invert_affine(crop_trans), gt_kp_crop[..., :2])
        size = torch.stack(torch.broadcast_tensors(w, h), dim=-1)[..., None, :]  # (.., 1, 2) against J
        pred, gt = 2 * pred_full / size - 1, 2 * gt_full / size - 1
    conf = keypoint_confidence(gt_kp_crop[..., 2], keypoint_weighting, openpose_weight, gt_weight)
    return (conf[..., None] * (pred - gt).pow(2)).mean()


def keypoint_3d_loss(pred, gt, has_3d) -> torch.Tensor:
    """L_3D: pelvis-centred, confidence-weighted squared error on the 24 GT joints (spec §4.4).

    pred: (B, M, 24, 3) predicted joints (joints 25..48 of the 49-set); gt: (B, M, 24, 4) as (x, y, z, conf);
    has_3d: (B, M) bool or 0/1. Both sets are centred at their own mid-hip (joints 2 and 3 of the 24-set).
    Loss = mean over (valid rows, 24, 3) of conf·Δ². Returns exactly 0 (still in the graph, finite zero
    gradients) if no row is valid; invalid rows never enter the computation (NaN there does not leak).
    """
    pred = torch.as_tensor(pred)
    if pred.ndim != 4:
        raise InputError("keypoint_3d_loss", "pred", found=f"shape {tuple(pred.shape)}", expected="shape (B, M, 24, 3)")
    B, M = pred.shape[:2]
    require_shape(pred, (B, M, 24, 3), "keypoint_3d_loss", "pred")
    gt = torch.as_tensor(gt, dtype=pred.dtype, device=pred.device)
    require_shape(gt, (B, M, 24, 4), "keypoint_3d_loss", "gt", "as (x, y, z, conf)")
    rows = valid_rows(has_3d, B, M, "keypoint_3d_loss", "has_3d", pred.device)
    p, g = pred[rows], gt[rows]  # (n, 24, 3), (n, 24, 4)
    conf, g = g[..., 3:], g[..., :3]
    p = p - (p[:, 2:3] + p[:, 3:4]) / 2
    g = g - (g[:, 2:3] + g[:, 3:4]) / 2
    return (conf * (p - g).pow(2)).sum() / max(p.numel(), 1)
