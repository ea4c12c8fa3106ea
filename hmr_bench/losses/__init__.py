"""Losses of the Multi-RoI model and the HMR/CLIFF baselines (spec §4), each a small batched function.

Per-RoI tensors are (B, M, ...), sample-major (the official flat row is k = b·M + m). Where the paper and
the official code disagree, both are named variants: ``official`` (what produced the paper's numbers,
the default) and ``paper`` (what the text says); `config.LossConfig` holds a run's choices (checked against
`LOSS_VARIANTS`), `total_loss` applies the weights.
"""

from hmr_bench.losses.camera import CAM_LOSS_DEFAULTS, CAM_VARIANTS, camera_consistency_loss, full_cameras
from hmr_bench.losses.contrastive import CONT_VARIANTS, contrastive_loss, same_sample_mask
from hmr_bench.losses.keypoints import (
    KEYPOINT_WEIGHTINGS,
    REPROJECTION_FRAMES,
    keypoint_3d_loss,
    keypoint_confidence,
    reprojection_loss_2d,
)
from hmr_bench.losses.mesh import VERTEX_NORMS, smpl_param_loss, vertex_loss
from hmr_bench.losses.total import (
    LOSS_VARIANTS,
    TERMS,
    LossWeights,
    NonFiniteLossError,
    check_finite,
    total_loss,
)

__all__ = [
    "CAM_LOSS_DEFAULTS", "CAM_VARIANTS", "CONT_VARIANTS", "KEYPOINT_WEIGHTINGS", "LOSS_VARIANTS",
    "REPROJECTION_FRAMES", "TERMS", "VERTEX_NORMS", "LossWeights", "NonFiniteLossError",
    "camera_consistency_loss", "check_finite", "contrastive_loss", "full_cameras", "keypoint_3d_loss",
    "keypoint_confidence", "reprojection_loss_2d", "same_sample_mask", "smpl_param_loss", "total_loss",
    "vertex_loss",
]
