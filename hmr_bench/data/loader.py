"""The DataLoader path: epoch-aware sampler, deterministic workers, a collate that keeps uint8 crops and pads images.

`make_loader` returns a ``torch.utils.data.DataLoader`` whose sampler yields `dataset.SampleKey`s
(index, epoch, seed): a sample's augmentation depends only on (seed, epoch, index), never on the worker that
made it or on how many workers there are. The epoch advances by one each time the loader is iterated (or is
set with ``loader.sampler.set_epoch(e)`` before iterating); the shuffle order is drawn from (seed, epoch).

Workers: ``torch.set_num_threads(1)`` and ``cv2.setNumThreads(1)`` (small per-sample work; see the pitfalls in
shared/prototypes/README.md), persistent between epochs, each keeping `PREFETCH` batches ready; pin_memory only for a
CUDA device (so that `train.step.to_device`'s non-blocking copies overlap the step).

With ``data.crop_on = "device"`` samples hold the decoded ``image`` (H, W, 3) instead of crops (`device_crops`):
`collate_samples` pads a batch's images with zeros at the bottom and right to the batch's largest H and W (pixel
coordinates unchanged; a batch of equal sizes, e.g. SynthHMR's, is stacked as it is).

Nothing here draws from the global RNGs: each loader has its own ``torch.Generator`` seeded from `seed`, from
which torch takes the workers' base seed when an iterator is made (without one, torch draws it from the global
torch RNG, so a resumed run, whose loader makes its first iterator at a later epoch, and a run with another
number of workers, would train with a different global RNG stream). Batches depend on (seed, epoch, index) only,
so the number of workers never changes a result.

Workers exit within about a second when the process that made the loader dies, even by SIGKILL: they are children
of the forkserver, which itself lives as long as any of its children (they hold its liveness pipe), so torch's own
parent check never fires; each worker watches the loader's process instead (`_exit_with`).
"""

from __future__ import annotations

import multiprocessing
import os
import select
import threading
import time
from functools import partial

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler, get_worker_info

from hmr_bench.data.dataset import SampleKey
from hmr_bench.errors import InputError
from hmr_bench.io import pid_alive


class EpochSampler(Sampler):
    """Yields SampleKey(index, epoch, seed) for index in 0..n−1, shuffled by (seed, epoch) when `shuffle`."""

    def __init__(self, n: int, shuffle: bool, seed: int = 0):
        self.n, self.shuffle, self.seed, self.epoch = int(n), bool(shuffle), int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        """The epoch of the next iteration."""
        self.epoch = int(epoch)

    def __iter__(self):
        epoch, self.epoch = self.epoch, self.epoch + 1
        order = np.random.default_rng([self.seed, epoch]).permutation(self.n) if self.shuffle else range(self.n)
        return iter([SampleKey(int(i), epoch, self.seed) for i in order])

    def __len__(self) -> int:
        return self.n


PREFETCH = 2  # batches each worker keeps ready (torch's default): workers·2 batches in flight hide a slow sample;
# more only holds more shared memory (a crop_on='device' batch of 32 real 1920×1080 images is 200 MB)
PADDED_KEYS = ("image",)  # uint8 (H, W, C) arrays of varying size: zero-padded to the batch's largest


def _pad_stack(values: list, key: str) -> torch.Tensor:
    """uint8 (H_i, W_i, C) arrays → (B, max H, max W, C), each at the top left, zeros elsewhere."""
    if any(not isinstance(v, np.ndarray) or v.dtype != np.uint8 or v.ndim != 3 or v.shape[2] != values[0].shape[2]
           for v in values):
        found = ", ".join(f"{getattr(v, 'dtype', type(v).__name__)} {getattr(v, 'shape', '')}" for v in values[:3])
        raise InputError("collate_samples", key, found=found, expected="uint8 (H, W, C) arrays with one C")
    h, w = max(v.shape[0] for v in values), max(v.shape[1] for v in values)
    out = torch.empty((len(values), h, w, values[0].shape[2]), dtype=torch.uint8)
    if get_worker_info() is not None:  # written once, into the shared memory the batch leaves the worker in
        out.share_memory_()
    if all(v.shape[:2] == (h, w) for v in values):
        np.stack(values, out=out.numpy())
        return out
    out.zero_()
    for i, v in enumerate(values):
        out[i, :v.shape[0], :v.shape[1]] = torch.from_numpy(v)
    return out


def _stack(values: list, key: str):
    v0 = values[0]
    if key in PADDED_KEYS:
        return _pad_stack(values, key)
    if isinstance(v0, tuple):
        if any(v != v0 for v in values):
            raise InputError("collate_samples", key, found=f"{v0!r} and {next(v for v in values if v != v0)!r}",
                             expected="the same tuple in every sample of a batch")
        return v0
    if isinstance(v0, np.ndarray):
        return torch.from_numpy(np.stack(values))
    if isinstance(v0, torch.Tensor):
        return torch.stack(values)
    if isinstance(v0, (bool, np.bool_)):
        return torch.tensor(values, dtype=torch.bool)
    if isinstance(v0, (int, np.integer)):
        return torch.tensor(values, dtype=torch.int64)
    if isinstance(v0, (float, np.floating)):
        return torch.tensor(values, dtype=torch.float32)
    if isinstance(v0, str):
        return list(values)
    raise InputError("collate_samples", key, found=f"a value of type {type(v0).__name__}",
                     expected="numpy arrays, tensors, bools, ints, floats or strings")


def collate_samples(samples: list[dict]) -> dict:
    """List of sample dicts → batch dict: arrays stacked as tensors (uint8 stays uint8; `PADDED_KEYS` zero-padded
    to the batch's largest size), bools → bool, ints → int64, floats → float32, strings → lists, tuples (the same in
    every sample) → that tuple. Every sample must have the same keys."""
    keys = samples[0].keys()
    for s in samples[1:]:
        if s.keys() != keys:
            raise InputError("collate_samples", "keys", found=f"{sorted(set(s) ^ set(keys))} in some samples only",
                             expected="the same keys in every sample of a batch")
    return {k: _stack([s[k] for s in samples], k) for k in keys}


def _worker_init(owner_pid: int, worker_id: int) -> None:
    import cv2

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    threading.Thread(target=_exit_with, args=(owner_pid,), name="exit-with-owner", daemon=True).start()


def _exit_with(pid: int, poll_s: float = 1.0) -> None:
    """Ends this process as soon as process `pid` has ended (waits on a pidfd; polls where there is none)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        os._exit(1)
    except (AttributeError, OSError):  # no pidfd (not Linux ≥ 5.3)
        while pid_alive(pid):
            time.sleep(poll_s)
        os._exit(1)
    select.select([fd], [], [])  # readable once the process has ended
    os._exit(1)


def default_workers() -> int:
    """min(cores − 1, 4), at least 0 (cores = CPUs this process may run on)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(0, min(cores - 1, 4))


def make_loader(dataset, batch_size: int, shuffle: bool, seed: int = 0, workers: int | None = None,
                drop_last: bool = False, device: str | torch.device | None = None) -> DataLoader:
    """A DataLoader over `dataset` (takes SampleKeys) yielding `collate_samples` batches.

    workers: None → `default_workers()`; device: where batches go (pin_memory only for CUDA).
    The sampler is ``loader.sampler`` (`EpochSampler`); ``loader.generator`` is the loader's own (seeded from
    `seed`), so iterating the loader never draws from the global torch RNG.
    """
    if batch_size < 1:
        raise InputError("make_loader", "batch_size", found=batch_size, expected="a positive integer")
    workers = default_workers() if workers is None else int(workers)
    if workers < 0:
        raise InputError("make_loader", "workers", found=workers, expected="≥ 0 or None")
    pin = device is not None and torch.device(device).type == "cuda"
    # Workers come from a forkserver, never a fork of this process: a child forked after torch's OpenMP pool
    # started can hang in torch.set_num_threads (libgomp is not fork-safe).
    context = multiprocessing.get_context("forkserver") if workers > 0 else None
    return DataLoader(dataset, batch_size=batch_size, sampler=EpochSampler(len(dataset), shuffle, seed),
                      num_workers=workers, collate_fn=collate_samples, pin_memory=pin, drop_last=drop_last,
                      persistent_workers=workers > 0, prefetch_factor=PREFETCH if workers > 0 else None,
                      worker_init_fn=partial(_worker_init, os.getpid()) if workers > 0 else None,
                      multiprocessing_context=context, generator=torch.Generator().manual_seed(int(seed)))
