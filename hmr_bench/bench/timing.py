"""Timing between device synchronisations (nanoGPT `bench.py`, timm `benchmark.py`): warm-up calls, then timed
rounds, each ended by a synchronisation of the device so that queued GPU work is inside the round it belongs to.

    t = time_fn(fn, rounds=10, warmup=3, device="cuda")
    t.median_s, t.rate(items=batch)           # seconds per call, items per second
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from hmr_bench.errors import InputError


def synchronize(device) -> None:
    """Waits for the queued work of `device` (CUDA / MPS / XPU); nothing to wait for on CPU."""
    dev = device if isinstance(device, torch.device) else torch.device(device)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elif dev.type == "mps":
        torch.mps.synchronize()
    elif dev.type == "xpu":
        torch.xpu.synchronize(dev)


@dataclass(frozen=True)
class Timing:
    """Seconds of each timed round (`times`), warm-up excluded."""

    times: tuple[float, ...]

    @property
    def mean_s(self) -> float:
        return statistics.fmean(self.times)

    @property
    def median_s(self) -> float:
        return statistics.median(self.times)

    @property
    def min_s(self) -> float:
        return min(self.times)

    @property
    def std_s(self) -> float:
        return statistics.stdev(self.times) if len(self.times) > 1 else 0.0

    def rate(self, items: int = 1) -> float:
        """items per second at the median round (robust to a few rounds disturbed by other processes)."""
        return items / self.median_s

    def as_dict(self, items: int | None = None) -> dict:
        d = {"rounds": len(self.times), "median_s": self.median_s, "mean_s": self.mean_s, "min_s": self.min_s,
             "std_s": self.std_s}
        if items is not None:
            d["items_per_s"] = self.rate(items)
        return d


def check_rounds(rounds: int, warmup: int, source: str) -> None:
    if not isinstance(rounds, int) or rounds < 1:
        raise InputError(source, "rounds", found=repr(rounds), expected="a positive integer")
    if not isinstance(warmup, int) or warmup < 0:
        raise InputError(source, "warmup", found=repr(warmup), expected="an integer ≥ 0")


def time_fn(fn: Callable[[], object], rounds: int = 10, warmup: int = 2, device="cpu",
            clock: Callable[[], float] = time.perf_counter) -> Timing:
    """Calls `fn()` `warmup` times untimed, then `rounds` times, each timed from a synchronised start to a
    synchronised end on `device`. Returns the Timing of the timed rounds."""
    check_rounds(rounds, warmup, "time_fn")
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(rounds):
        t0 = clock()
        fn()
        synchronize(device)
        times.append(clock() - t0)
    return Timing(tuple(times))


def synced(fn: Callable[[], object], device) -> Callable[[], object]:
    """`fn` followed by a synchronisation of `device`: what a pytest-benchmark round must time on a GPU."""
    def call():
        out = fn()
        synchronize(device)
        return out

    return call
