"""The training step fed by the real DataLoader against the same step on a synthetic batch already on the device:
does the data path keep the step fed? (the `loader_vs_synthetic` target of `bench.targets`, bound ≥ 0.9)

    split = generate(loader_synth_config("cnn-small", batch=32))   # SynthHMR train split, rendered once (cache)
    dataset = loader_dataset(cfg, split)                    # as the trainer's: augmentation, RoIs, crop_on
    r = loader_rate(model, body, cfg, optimizer, dataset, device="cpu", workers=1, rounds=10, warmup=2)
    r.ratio                                                 # synthetic step s / real-loader step s

The synthetic rate is the median `train_step_fn` time on `inputs.synthetic_batch` (`timing.time_fn`), measured
just before and just after the loader passes and averaged (the machine may be shared). The real-loader rate is
the trainer's loop body: ``next(loader)``, `train.step.to_device` (which cuts the crops on the device when
``data.crop_on = "device"``), the same step; per pass over the split (a new epoch: new augmentations, the loader's
persistent workers restarted on it) the first batch is fetched untimed (workers started, queue filled), then the
wall time of the remaining steps is taken, with one device synchronisation at the pass's end (the trainer does not
synchronise per step either, so the host fetches the next batch while the device runs the step). The loader time
per step is the passes' wall time over their steps; data wait is the host time in ``next`` + `to_device`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import torch

from hmr_bench.bench.timing import check_rounds, synchronize, time_fn
from hmr_bench.bench.training import train_step_fn
from hmr_bench.errors import InputError

LOADER_STEPS = 10  # timed steps per pass: the split holds batch · (LOADER_STEPS + 1) training images
MIN_PASSES = 2  # passes over the split at least (the second starts the persistent workers on a new epoch)


def loader_synth_config(backbone: str, batch: int, steps: int = LOADER_STEPS):
    """The SynthConfig of the split the loader is timed on (`data.synth.generate.generate` renders it once into
    the cache): the synth preset of the profile `backbone` serves (`bench.inputs.BACKBONE_PROFILE`: cnn-tiny
    smoke 128², cnn-small cpu 256², other backbones paper 512²) with batch · (steps + 1) training images and no
    val / test split."""
    from hmr_bench.bench.inputs import BACKBONE_PROFILE
    from hmr_bench.profiles import profile_config
    from hmr_bench.train.data import synth_config

    for field, v in (("batch", batch), ("steps", steps)):
        if not isinstance(v, int) or v < 1:
            raise InputError("loader_synth_config", field, found=repr(v), expected="a positive integer")
    preset = synth_config(profile_config(BACKBONE_PROFILE.get(backbone, "paper")))
    return dataclasses.replace(preset, n_train=batch * (steps + 1), n_val=0, n_test=0)


def loader_dataset(cfg, split):
    """The training dataset of `cfg` over `split`'s train split, made as `train.data.build_data` makes it
    (augmentation per ``data.augment``, RoIs, crop, union crop, input, ``data.crop_on``)."""
    from hmr_bench.data.dataset import SpinDataset
    from hmr_bench.models.build import union_crop

    d = cfg.data
    return SpinDataset(split.npz("train"), split.image_root, train=d.augment, num_rois=d.num_rois,
                       crop_size=tuple(d.crop_size), roi_variant=d.roi_variant, rotation=d.rotation,
                       union_crop=union_crop(cfg), input=d.input, crop_on=d.crop_on)


@dataclass(frozen=True)
class LoaderRate:
    """Seconds per training step: on the synthetic batch (median, just before and just after the loader passes)
    and fed by the loader (wall time over `steps` timed steps in `passes` passes), with the data wait in it."""

    synthetic_before_s: float
    synthetic_after_s: float
    loader_s: float
    data_wait_s: float
    steps: int
    passes: int

    @property
    def synthetic_s(self) -> float:
        return (self.synthetic_before_s + self.synthetic_after_s) / 2

    @property
    def ratio(self) -> float:
        """Real-loader step rate / synthetic step rate = synthetic seconds / loader seconds."""
        return self.synthetic_s / self.loader_s


def timed_passes(step, feed: dict, loader, device, passes: int) -> tuple[float, float, int]:
    """(wall seconds, data-wait seconds, steps) of `passes` passes of `loader`, each batch moved by
    `train.step.to_device` into `feed` (the dict `step` reads) and stepped; each pass's first batch untimed."""
    from hmr_bench.train import step as train_step

    dev = torch.device(device)
    wall = wait = 0.0
    steps = 0
    for _ in range(passes):
        it = iter(loader)
        next(it)  # untimed: workers started on the epoch, their queue filled
        t_start = time.perf_counter()
        while True:
            t0 = time.perf_counter()
            raw = next(it, None)
            if raw is None:
                break
            batch = train_step.to_device(raw, dev)
            wait += time.perf_counter() - t0
            feed.clear()
            feed.update(batch)
            step()
            steps += 1
        synchronize(device)
        wall += time.perf_counter() - t_start
    return wall, wait, steps


def loader_rate(model, body, cfg, optimizer, dataset, device="cpu", workers: int = 1, rounds: int = 10,
                warmup: int = 2, passes: int | None = None, seed: int = 0) -> LoaderRate:
    """The synthetic-batch step time (`time_fn` over `rounds` after `warmup` — at least one the first time —
    before and after) and the step time fed by `data.loader.make_loader(dataset, cfg.train.batch_size, shuffle,
    drop_last, workers)` over `passes` passes (default: enough for `rounds` timed steps, at least `MIN_PASSES`);
    see the module docstring."""
    from hmr_bench.bench.inputs import synthetic_batch
    from hmr_bench.data.loader import make_loader

    check_rounds(rounds, warmup, "loader_rate")
    batch = cfg.train.batch_size
    loader = make_loader(dataset, batch, shuffle=True, seed=seed, workers=workers, drop_last=True, device=device)
    per_pass = len(loader) - 1
    if per_pass < 1:
        raise InputError("loader_rate", "dataset", found=f"{len(dataset)} samples at batch {batch}",
                         expected="at least 2 batches (the first of each pass is not timed)")
    passes = passes if passes is not None else max(MIN_PASSES, math.ceil(rounds / per_pass))
    if not isinstance(passes, int) or passes < 1:
        raise InputError("loader_rate", "passes", found=repr(passes), expected="a positive integer")
    synthetic = train_step_fn(model, body, synthetic_batch(cfg, batch, device=device), cfg, optimizer, device)
    before = time_fn(synthetic, rounds, max(warmup, 1), device).median_s  # a model's first step is no rate
    feed: dict = {}  # the fed step reads its batch from here at each call: one step function (one grad scaler)
    try:
        wall, wait, steps = timed_passes(train_step_fn(model, body, feed, cfg, optimizer, device), feed, loader,
                                         device, passes)
    finally:
        del loader  # its persistent workers end with it
    after = time_fn(synthetic, rounds, warmup, device).median_s
    return LoaderRate(synthetic_before_s=before, synthetic_after_s=after, loader_s=wall / steps,
                      data_wait_s=wait / steps, steps=steps, passes=passes)
