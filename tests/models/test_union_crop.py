"""The union image size of the shared-backbone mode when the config names none (Table 4's shared-M5 row)."""

from hmr_bench.config import RunConfig, apply_overrides
from hmr_bench.models.build import union_crop


def _cfg(**over):
    return apply_overrides(RunConfig(), over)


def test_crops_mode_has_no_union_image():
    assert union_crop(_cfg(**{"model.shared_backbone": False})) is None


def test_shared_mode_defaults_to_one_and_a_half_crops_on_the_backbone_grid():
    # 1.5 × (48, 64) = (72, 96), already multiples of 8
    assert union_crop(_cfg(**{"model.shared_backbone": True, "data.crop_size": (48, 64)})) == (72, 96)
    # 1.5 × (40, 52) = (60, 78) → rounded up to multiples of 8: (64, 80)
    assert union_crop(_cfg(**{"model.shared_backbone": True, "data.crop_size": (40, 52)})) == (64, 80)
    # HRNet inputs must be multiples of 32: 1.5 × (100, 130) = (150, 195) → (160, 224)
    assert union_crop(_cfg(**{"model.shared_backbone": True, "model.backbone": "hrnet_w32",
                              "data.crop_size": (100, 130)})) == (160, 224)


def test_an_explicit_union_size_wins():
    cfg = _cfg(**{"model.shared_backbone": True, "data.union_crop": (80, 96)})
    assert union_crop(cfg) == (80, 96)


def test_benchmark_batches_use_the_same_default_union():
    from hmr_bench.bench.inputs import synthetic_batch

    cfg = _cfg(**{"model.shared_backbone": True, "data.crop_size": (48, 64), "model.backbone": "cnn-tiny"})
    batch = synthetic_batch(cfg, batch_size=2)
    assert tuple(batch["union"].shape) == (2, 3, 96, 72)  # (B, 3, H_u, W_u): 1.5 × (64, 48)
