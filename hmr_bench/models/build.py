"""The config → model builder: the model a run of `cfg` trains, and the input sizes it is built for.

    model = build_model(cfg, body)     # cfg.model.kind from MODELS, the data's crop size and channels, init seed
    union_crop(cfg)                    # (W_u, H_u) of the shared-backbone mode's union image, or None

The trainer, the benchmarks and the report's gallery all build their models here, so a run's checkpoint always
loads into the model the report rebuilds from the run's stored config.
"""

from __future__ import annotations

from hmr_bench.config import RunConfig
from hmr_bench.data.proxy import CHANNELS
from hmr_bench.data.rois import default_union
from hmr_bench.models.backbones import size_multiple
from hmr_bench.models.common import MODELS
from hmr_bench.models.head import mean_params_from_body


def build_model(cfg: RunConfig, body):
    """The model of `cfg` (`cfg.model.kind` from `MODELS`), its components initialised from `cfg.train.seed`
    (`common.component_rng`), the head's mean parameters from `body`, and the backbone's weights loaded from
    `cfg.model.pretrained` when set (the `LoadReport` kept as `model.load_report`)."""
    m = cfg.model
    crop_hw = (cfg.data.crop_size[1], cfg.data.crop_size[0])
    bb_kw = {"default_input": crop_hw}
    if cfg.data.input != "rgb":
        bb_kw["in_chans"] = CHANNELS[cfg.data.input]
    mean = mean_params_from_body(body)
    if m.kind in ("hmr", "cliff"):
        model = MODELS.build(m.kind, backbone=m.backbone, mean_params=mean, fc1_dim=m.fc1_dim,
                             backbone_kwargs=bb_kw, init_seed=cfg.train.seed)
    else:
        model = MODELS.build("multiroi", backbone=m.backbone, fusion=m.fusion, head=m.head,
                             projection=m.projection, num_rois=cfg.data.num_rois, pe_freqs=m.pe_freqs,
                             pe_precision=m.pe_precision, pe_flavour=m.pe_flavour, box_input=m.box_input,
                             fc1_dim=m.fc1_dim, mean_params=mean, shared_backbone=m.shared_backbone,
                             backbone_kwargs=bb_kw, crop_size=crop_hw, init_seed=cfg.train.seed)
    if m.pretrained:
        from hmr_bench.models.checkpoints import load_backbone_weights
        from hmr_bench.models.pretrained import resolve_pretrained

        model.load_report = load_backbone_weights(model.backbone, resolve_pretrained(m.pretrained))
    return model


def union_crop(cfg: RunConfig) -> tuple[int, int] | None:
    """(W_u, H_u) of the union image: `data.union_crop`; in the shared-backbone mode without one, 1.5× the crop
    rounded up to the backbone's size multiple (`data.rois.default_union`: 48×64 → 72×96, 192×256 → 288×384);
    None in the separate-crops mode."""
    if cfg.data.union_crop:
        return tuple(cfg.data.union_crop)
    if not cfg.model.shared_backbone:
        return None
    return default_union(tuple(cfg.data.crop_size), size_multiple(cfg.model.backbone))
