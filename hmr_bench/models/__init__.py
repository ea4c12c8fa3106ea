"""Networks (spec §3): backbones, fusion, the IEF head, the Multi-RoI model, the HMR / CLIFF baselines, RoI feature
extraction, checkpoint loading, and the config → model builder (`build`).

Every model registers itself in `common.MODELS` where it is defined (`multiroi`: the Multi-RoI model and the
HMR / CLIFF baselines as presets of its builder); this package imports that file, so the registry is complete
whichever module of the package is imported.
"""

from hmr_bench.models import multiroi  # noqa: F401  (registers the models in MODELS)
from hmr_bench.models.backbones import BACKBONES, Backbone, build_backbone
from hmr_bench.models.checkpoints import LoadReport, load_backbone_weights
from hmr_bench.models.common import MODELS
from hmr_bench.models.roi_align import roi_align

__all__ = ["BACKBONES", "MODELS", "Backbone", "LoadReport", "build_backbone", "load_backbone_weights", "roi_align"]
