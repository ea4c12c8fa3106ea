"""What a benchmark runs on: a RunConfig per variant, the model the trainer would build, and synthetic batches in
the trainer's exact batch format (`data.samples.build_sample` + `data.loader.collate_samples` on random pixels).

    cfg = bench_config("resnet50", num_rois=5, amp="bf16", channels_last=True)
    model = bench_model(cfg, body, "cuda", train=False)
    batch = synthetic_batch(cfg, batch_size=32, device="cuda")     # crops uint8 (B, M, 3, H, W), bbox_info, ...

Speed does not depend on pixel values; the batch holds every key `train.step.losses` reads, and the union image
and RoI boxes when `cfg.model.shared_backbone`.
"""

from __future__ import annotations

import numpy as np
import torch

from hmr_bench.config import RunConfig, apply_overrides
from hmr_bench.data.rois import default_union
from hmr_bench.errors import InputError
from hmr_bench.models.backbones import size_multiple

# The profile each backbone serves: a benchmark of that backbone computes what the profile's runs compute outside
# the backbone (crop, head width, vertex subset of the vertex loss); the profile's input and frozen-backbone
# choices are not taken: a benchmark times the backbone too, on RGB crops.
BACKBONE_PROFILE = {"cnn-tiny": "smoke", "cnn-small": "cpu", "resnet50": "paper"}
PROFILE_COMPUTE = ("data.crop_size", "model.fc1_dim", "loss.vertex_stride")


def profile_compute(backbone: str) -> dict:
    """{dotted key: value} of `PROFILE_COMPUTE` from the profile `backbone` serves (`BACKBONE_PROFILE`); for any
    other backbone the paper profile's, i.e. the defaults (192×256 crops, fc1 2048, every vertex)."""
    from hmr_bench.config import get_path
    from hmr_bench.profiles import profile_config

    cfg = profile_config(BACKBONE_PROFILE.get(backbone, "paper"))
    return {key: get_path(cfg, key) for key in PROFILE_COMPUTE}


def bench_config(backbone: str = "cnn-small", num_rois: int = 5, crop_size: tuple[int, int] | None = None, *,
                 shared: bool = False, union_crop: tuple[int, int] | None = None, batch_size: int = 32,
                 amp: str = "off", channels_last: bool = False, compile: bool = False,
                 overrides: dict | None = None) -> RunConfig:
    """The RunConfig of one benchmark variant: the default (official) method with this backbone and its profile's
    compute settings (`profile_compute`), M, crop (W, H), mode (separate crops, or shared backbone with a union
    image), batch size and speed settings; `overrides` (dotted keys) on top."""
    compute = profile_compute(backbone)
    crop = tuple(crop_size) if crop_size is not None else tuple(compute["data.crop_size"])
    ov = {**compute, "model.backbone": backbone, "data.num_rois": num_rois, "data.crop_size": crop,
          "model.shared_backbone": shared, "train.batch_size": batch_size, "train.amp": amp,
          "train.channels_last": channels_last, "train.compile": compile}
    if shared:
        ov["data.union_crop"] = (tuple(union_crop) if union_crop is not None
                                 else default_union(crop, size_multiple(backbone)))
    return apply_overrides(RunConfig(profile="bench"), {**ov, **(overrides or {})}, source="bench_config")


def bench_model(cfg: RunConfig, body, device="cpu", train: bool = False, seed: int = 0,
                compile_backend: str | None = None) -> torch.nn.Module:
    """The model the trainer builds for `cfg` (`models.build.build_model`, seeded), prepared by
    `train.perf.prepare_model` (device, channels_last, compile), in train or eval mode."""
    from hmr_bench.models.build import build_model
    from hmr_bench.train.perf import prepare_model

    torch.manual_seed(seed)
    model = prepare_model(build_model(cfg, body), cfg, device, compile_backend=compile_backend)
    return model.train(train)


def _annotation(rng: np.random.Generator, side: float):
    """A plausible person in a side×side image: box centre mid-image, height 0.6·side, keypoints inside it."""
    from hmr_bench.data.samples import Annotation

    center = np.array([side / 2, side / 2])
    b = 0.6 * side
    kp = np.concatenate([center + rng.uniform(-0.3, 0.3, size=(49, 2)) * b, np.ones((49, 1))], -1)
    j3d = np.concatenate([rng.normal(0, 0.3, size=(24, 3)) + [0, 0, 4.0], np.ones((24, 1))], -1)
    return Annotation(center=center, b=b, keypoints=kp, pose=rng.normal(0, 0.2, size=72), betas=rng.normal(size=10),
                      joints3d=j3d, has_smpl=True, has_3d=True, focal=float(side), img_w=float(side),
                      img_h=float(side))


def synthetic_batch(cfg: RunConfig, batch_size: int | None = None, seed: int = 0, device="cpu") -> dict:
    """A training/evaluation batch for `cfg` (batch_size samples, default cfg.train.batch_size) on `device`:
    the keys and dtypes of a real loader batch (see `data.samples`), random pixels and a random body per sample.
    crops: uint8 (B, M, 3, H_c, W_c); with cfg.model.shared_backbone also union uint8 (B, 3, H_u, W_u) and
    roi_boxes_union (B, M, 4)."""
    from hmr_bench.data.augment import NO_AUGMENT
    from hmr_bench.data.loader import collate_samples
    from hmr_bench.data.samples import SampleConfig, build_sample
    from hmr_bench.models.build import union_crop
    from hmr_bench.train.step import to_device

    n = cfg.train.batch_size if batch_size is None else batch_size
    if not isinstance(n, int) or n < 1:
        raise InputError("synthetic_batch", "batch_size", found=repr(batch_size), expected="a positive integer")
    d = cfg.data
    scfg = SampleConfig(num_rois=d.num_rois, crop_size=tuple(d.crop_size), roi_variant=d.roi_variant,
                        rotation=d.rotation, union_crop=union_crop(cfg) if cfg.model.shared_backbone else None)
    rng = np.random.default_rng(seed)
    side = int(2 * max(d.crop_size))
    identity = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    samples = []
    for i in range(n):
        image = rng.integers(0, 256, size=(side, side, 3), dtype=np.uint8)
        sample = build_sample(image, identity, _annotation(rng, side), NO_AUGMENT, scfg)
        sample["index"] = i
        samples.append(sample)
    return to_device(collate_samples(samples), torch.device(device))
