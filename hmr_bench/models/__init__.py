"""Networks: backbones, RoI feature extraction, checkpoint loading (spec §3)."""

from hmr_bench.models.backbones import BACKBONES, Backbone, build_backbone
from hmr_bench.models.checkpoints import LoadReport, load_backbone_weights
from hmr_bench.models.roi_align import roi_align

__all__ = ["BACKBONES", "Backbone", "LoadReport", "build_backbone", "load_backbone_weights", "roi_align"]
