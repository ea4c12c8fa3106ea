"""Model speed: inference throughput and latency vs M per backbone, batch and scope; the training step with its
breakdown and the backbone-alone fwd+bwd rate; params and MACs per variant and resolution.

Run: ``nox -s bench`` (= ``pytest benchmarks --benchmark-only --benchmark-autosave``), options in conftest.py
(``--bench-device``, ``--bench-scale``, ...). The measuring code is `hmr_bench.bench`; here it is only
parametrised (`hmr_bench.bench.plan`) and timed with pytest-benchmark's pedantic rounds, each ended by a device
synchronisation. Each benchmark stores its figures as speed records with their case and provenance
(``extra_info["records"]``, `hmr_bench.bench.results`); end-to-end crops-mode inference is the report's Table 4 FPS.
"""

from __future__ import annotations

import pytest


def _median(benchmark) -> float | None:
    stats = getattr(benchmark, "stats", None)
    return stats.stats.median if stats is not None else None


# -------------------------------------------------------------------------------------------- inference
def test_inference(benchmark, inference_case, bench_opts, model_cache, body_on_device, bench_threads):
    """One inference of `scope` on a batch of B samples × M RoIs (already on the device): samples/s, latency."""
    from hmr_bench.bench.inference import inference_fn
    from hmr_bench.bench.results import inference_info, records
    from hmr_bench.bench.timing import synced

    case, device = inference_case, bench_opts.device
    cfg = bench_opts.config(case)
    model, batch = model_cache.model(cfg), model_cache.batch(cfg, case.batch)
    fn = synced(inference_fn(model, body_on_device, batch, cfg, case.scope, device), device)
    benchmark.group = f"inference {case.backbone} batch {case.batch} {case.scope} {case.mode}"
    rounds, warmup = bench_opts.rounds
    benchmark.pedantic(fn, rounds=rounds, warmup_rounds=warmup, iterations=1)
    median = _median(benchmark)
    figures = {"samples_per_s": case.batch / median, "latency_ms": 1e3 * median} if median else {}
    benchmark.extra_info["records"] = records(inference_info(cfg, device, case.scope, case.batch), figures)


# -------------------------------------------------------------------------------------------- training
def test_training_step(benchmark, training_case, bench_opts, body_on_device, bench_threads):
    """One training step (losses, backward, Adam) at M RoIs: samples/s; beside it the backbone-alone fwd+bwd rate
    at the same batch (the ratio target ≥ 0.85) and the step's per-part breakdown (eager models only)."""
    from hmr_bench.bench.inputs import bench_model, synthetic_batch
    from hmr_bench.bench.results import provenance, records
    from hmr_bench.bench.timing import synced, time_fn
    from hmr_bench.bench.training import backbone_fb_fn, train_step_fn, training_step_breakdown
    from hmr_bench.train.trainer import make_optimizer

    case, device = training_case, bench_opts.device
    cfg = bench_opts.config(case)
    model = bench_model(cfg, body_on_device, device, train=True)
    opt = make_optimizer(model, cfg)
    batch = synthetic_batch(cfg, case.batch, device=device)
    benchmark.group = "training step"
    rounds, warmup = bench_opts.rounds
    benchmark.pedantic(synced(train_step_fn(model, body_on_device, batch, cfg, opt, device), device),
                       rounds=rounds, warmup_rounds=warmup, iterations=1)
    bb = time_fn(backbone_fb_fn(model, batch, cfg, device), rounds, warmup, device)
    info = provenance(device, cfg, backbone=case.backbone, num_rois=case.num_rois, batch=case.batch, mode=case.mode,
                      crop_size=list(cfg.data.crop_size), scope="train-step")
    figures = {"backbone_fwd_bwd_ms": 1e3 * bb.median_s, "backbone_fwd_bwd_samples_per_s": bb.rate(case.batch)}
    if not cfg.train.compile:
        parts = training_step_breakdown(model, body_on_device, batch, cfg, opt, rounds=max(1, rounds // 2),
                                        warmup=min(1, warmup), device=device)
        figures["breakdown_ms"] = {k: 1e3 * v for k, v in parts.items()}
    median = _median(benchmark)
    if median:
        figures.update(samples_per_s=case.batch / median, step_ms=1e3 * median,
                       step_vs_backbone=bb.median_s / median, outside_backbone_share=1 - bb.median_s / median)
    benchmark.extra_info["records"] = records(info, figures)


def test_training_data_wait(benchmark, bench_opts, body_on_device, bench_threads, request):
    """Training steps fed by the real loader (SynthHMR, default workers): the step's data wait beside its compute
    (cnn-small, M = 5, batch 32: the CPU profile)."""
    if bench_opts.scale == "tiny":
        pytest.skip("the data-wait benchmark needs the SynthHMR split (quick and full scales)")
    from hmr_bench.bench.inputs import bench_config, bench_model
    from hmr_bench.bench.results import provenance, records
    from hmr_bench.bench.training import training_step_breakdown
    from hmr_bench.data.dataset import SpinDataset
    from hmr_bench.data.loader import default_workers, make_loader
    from hmr_bench.train.trainer import make_optimizer

    synth_split = request.getfixturevalue("synth_split")  # generated only when this benchmark runs
    device = bench_opts.device
    cfg = bench_config("cnn-small", 5, batch_size=32, **bench_opts.settings)
    ds = SpinDataset(synth_split.npz("train"), synth_split.image_root, num_rois=5, crop_size=cfg.data.crop_size,
                     train=True)
    workers = default_workers()
    loader = make_loader(ds, 32, shuffle=True, workers=workers, drop_last=True, device=device)
    model = bench_model(cfg, body_on_device, device, train=True)
    opt = make_optimizer(model, cfg)
    steps = len(loader) - 1  # one warm-up step, the rest timed, within one epoch
    parts = {}

    def run():
        parts.update(training_step_breakdown(model, body_on_device, None, cfg, opt, rounds=steps, warmup=1,
                                             device=device, batches=iter(loader)))

    benchmark.group = "training step"
    benchmark.pedantic(run, rounds=1, iterations=1)
    info = provenance(device, cfg, backbone="cnn-small", num_rois=5, batch=32, mode="crops", workers=workers,
                      steps=steps, scope="train-step+loader")
    benchmark.extra_info["records"] = records(info, {"breakdown_ms": {k: 1e3 * v for k, v in parts.items()},
                                                     "data_wait_share": parts["data"] / parts["total"]})


# ------------------------------------------------------------------------------------------ params, MACs
def test_params_macs(benchmark, cost_case, bench_opts, body):
    """Parameters and MACs (FLOPs / 2 of convs and matmuls) of one sample, per part, on CPU in fp32 (counts do
    not depend on device or timing; the benchmark's time is that of counting)."""
    from hmr_bench.bench.flops import model_cost
    from hmr_bench.bench.inputs import bench_config, bench_model, synthetic_batch
    from hmr_bench.bench.results import provenance, records

    case = cost_case
    cfg = bench_config(case.backbone, case.num_rois, case.crop_size, shared=case.mode == "shared", batch_size=1)
    model = bench_model(cfg, body, "cpu", train=False)
    batch = synthetic_batch(cfg, 1)
    cost = {}
    benchmark.group = "params and MACs"
    benchmark.pedantic(lambda: cost.update(model_cost(model, body, batch, cfg)), rounds=1, iterations=1)
    info = provenance("cpu", cfg, backbone=case.backbone, num_rois=case.num_rois, batch=1, mode=case.mode,
                      crop_size=list(cfg.data.crop_size), scope="cost",
                      union_crop=list(cfg.data.union_crop) if cfg.data.union_crop else None)
    macs = cost["macs"]
    benchmark.extra_info["records"] = records(info, {
        "params": cost["params"], "macs": macs, "gmacs_per_sample": cost["macs_per_sample"] / 1e9,
        "backbone_mac_share": macs["backbone"] / macs["end_to_end"] if macs.get("end_to_end") else None})
