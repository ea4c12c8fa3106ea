"""Loss weights, loss variants and the weighted total (spec §4.7, §8 items 5, 6, 9–12).

    L = 60 · ( 5·L_2D + 5·L_3D + 1·L_vert + 1·L_pose + 0.001·L_beta + 1·L_cam + 0.1·L_cont )

Term names (the keys of the `terms` dict and the fields of `LossWeights`): keypoint (2D), keypoint3d,
vertex, pose, beta, cam, cont. The global ×60 (`scale`) is in the official code only (§8 item 11).
"""

from __future__ import annotations

from dataclasses import dataclass

from hmr_bench.errors import InputError, NonFiniteLossError
from hmr_bench.losses.camera import CAM_VARIANTS
from hmr_bench.losses.contrastive import CONT_VARIANTS
from hmr_bench.losses.keypoints import KEYPOINT_WEIGHTINGS, REPROJECTION_FRAMES
from hmr_bench.losses.mesh import VERTEX_NORMS

TERMS = ("keypoint", "keypoint3d", "vertex", "pose", "beta", "cam", "cont")

# `config.LossConfig` field → its valid choices; the first one is the official default
LOSS_VARIANTS: dict[str, tuple[str, ...]] = {
    "cam": CAM_VARIANTS,
    "cont": CONT_VARIANTS,
    "keypoint_weighting": KEYPOINT_WEIGHTINGS,
    "reprojection_frame": REPROJECTION_FRAMES,
    "vertex_norm": VERTEX_NORMS,
}


def check_finite(terms: dict) -> None:
    """Raises `NonFiniteLossError` naming every term of `terms` (name → tensor/float) that holds NaN or Inf."""
    error = NonFiniteLossError(terms)
    if error.names:
        raise error


@dataclass(frozen=True)
class LossWeights:
    """Loss weights (spec §4.7, the official / SPIN defaults); `scale` multiplies the whole sum."""

    keypoint: float = 5.0  # 2D reprojection
    keypoint3d: float = 5.0
    vertex: float = 1.0
    pose: float = 1.0
    beta: float = 0.001
    cam: float = 1.0
    cont: float = 0.1
    scale: float = 60.0


def total_loss(terms: dict, weights: LossWeights | None = None):
    """Weighted total L = scale · Σ_k w_k·L_k (spec §4.7).

    terms: name → 0-d tensor, names from `TERMS` (absent terms count as switched off); weights: LossWeights
    (None = defaults). A term whose weight is 0 is left out entirely, so an ablation that switches a loss off
    never depends on its value. Returns (total 0-d tensor, {name: scale·w·L}) whose values sum to total.
    """
    weights = LossWeights() if weights is None else weights
    unknown = sorted(set(terms) - set(TERMS))
    if unknown:
        raise InputError("total_loss", "terms", found=f"unknown term(s) {', '.join(unknown)}",
                         expected="names among " + ", ".join(TERMS))
    weighted = {k: weights.scale * getattr(weights, k) * v for k, v in terms.items()
                if getattr(weights, k) != 0 and weights.scale != 0}
    if not weighted:
        raise InputError("total_loss", "terms", found=f"no term with a non-zero weight among {sorted(terms)}",
                         expected="at least one weighted loss term")
    total = sum(weighted.values())
    return total, weighted

