"""The trivial baseline: every sample gets the body model's mean pose, mean shape and mean camera.

It needs no image, so it is the floor a trained model must beat by far: with SynthHMR's free headings a fixed
global orientation is wrong for most people before alignment (high MPJPE), while after Procrustes alignment the
mean pose is a fair guess (moderate PA-MPJPE).
"""

from __future__ import annotations

import torch

from hmr_bench.geometry.rotations import rot6d_to_matrix
from hmr_bench.models.common import ModelOutput
from hmr_bench.models.head import mean_params_from_body

TRIVIAL_TABLE = "trivial"  # the results store's table of trivial-baseline runs (one per test data and body model)


class MeanPredictor(torch.nn.Module):
    """A model with no parameters: ModelOutput of the mean parameters for every RoI of every sample."""

    def __init__(self, body):
        super().__init__()
        pose6d, shape, cam = mean_params_from_body(body)
        self.register_buffer("rotmat", rot6d_to_matrix(pose6d.reshape(24, 6)))  # (24, 3, 3)
        self.register_buffer("betas", shape)
        self.register_buffer("cam", cam)

    def forward(self, crops: torch.Tensor, bbox_info: torch.Tensor, roi: int | None = None) -> ModelOutput:
        """crops (B, M, 3, H, W) → the mean parameters broadcast to (B, M, ...). `roi` (the models' decode-one-RoI
        argument) changes nothing: every RoI gets the same mean, so all M are returned for `select_eval_roi`."""
        B, M = bbox_info.shape[:2]
        empty = crops.new_zeros(B, M, 0)
        return ModelOutput(rotmat=self.rotmat.expand(B, M, 24, 3, 3), betas=self.betas.expand(B, M, -1),
                           cam=self.cam.expand(B, M, 3), features=empty, fused=empty)

    def forward_shared(self, union: torch.Tensor, roi_boxes: torch.Tensor, bbox_info: torch.Tensor,
                       roi: int | None = None) -> ModelOutput:
        return self.forward(union[:, None].expand(-1, bbox_info.shape[1], -1, -1, -1), bbox_info, roi)
