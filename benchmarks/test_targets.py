"""The issue's speed targets (`hmr_bench.bench.targets`), one benchmark each, recorded with their verdict.

Each measures its ratio within one call of `run_targets` (so the machine's load cancels as far as it can) at the
CPU target's case, cnn-small (the cpu profile's model) at batch 32 on one thread — as the cpu profile trains: a
table on the CPU runs one worker per core, each pinned to its core (`hmr-bench run --jobs auto`, the nox
sessions' default); `--bench-threads N` measures at N instead — with at least 10 rounds after 2 warm-ups (the
ratios are within a few per cent of their bounds; tiny scale: cnn-tiny at batch 2, the scale's one round); on
CUDA ResNet-50 at batch 32, where `run_targets` adds the throughput at batch 64 and the latency at batch 1. The
benchmark's own time is that of measuring; the figures are the target's value (with op, bound and met / not met)
and its details, as speed records (`bench.targets.target_records`).

loader_vs_synthetic (`bench.loader`) trains the same case fed by the real DataLoader over a small SynthHMR split
of the backbone's profile (rendered into the cache the first time: 352 images of 256² for cnn-small, 22 of 128²
at the tiny scale) with the target's defaults: crops cut on the CPU by 1 loader worker, on CUDA on the device by
min(8, cores) workers (`bench.targets.loader_defaults`).

    pytest benchmarks/test_targets.py --benchmark-only --benchmark-autosave        # ~1.5 min on 2 cores
"""

from __future__ import annotations

import contextlib

import pytest

TARGETS = ("inference_overhead", "train_vs_backbone", "shared_scaling", "loader_vs_synthetic")


def target_case(opts) -> dict[str, int]:
    """{backbone: batch} measured at `opts` (conftest.BenchOptions): the CPU target's cnn-small at batch 32, the
    GPU's ResNet-50 at batch 32, cnn-tiny at batch 2 at the tiny scale."""
    if opts.scale == "tiny":
        return {"cnn-tiny": 2}
    return {"resnet50": 32} if opts.device.startswith("cuda") else {"cnn-small": 32}


@pytest.mark.parametrize("target", TARGETS)
def test_target(benchmark, target, bench_opts, bench_threads):
    from hmr_bench.bench.targets import run_targets, target_records
    from hmr_bench.train.perf import threads

    rounds, warmup = bench_opts.rounds
    if bench_opts.scale != "tiny":
        rounds, warmup = max(rounds, 10), max(warmup, 2)
    cpu_profile_threads = bench_opts.threads is None and not bench_opts.device.startswith("cuda")
    result = {}

    def measure():
        with threads(1) if cpu_profile_threads else contextlib.nullcontext():
            result.update(run_targets(bench_opts.device, target_case(bench_opts), bench_opts.settings, rounds,
                                      warmup, only=(target,)))

    benchmark.group = "speed targets"
    benchmark.pedantic(measure, rounds=1, iterations=1)
    benchmark.extra_info["records"] = target_records(result)
