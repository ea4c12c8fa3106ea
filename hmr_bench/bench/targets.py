"""The issue's speed targets, each a ratio measured within one run (``python -m hmr_bench.bench.targets``):

                                                                                   target: GPU      CPU
    inference_overhead   (fusion + head + body model) / end-to-end inference at M = 5      ≤ 0.05   ≤ 0.15
    train_vs_backbone    training-step rate / backbone-alone fwd+bwd rate, same batch       ≥ 0.85   ≥ 0.75
    shared_scaling       shared-backbone cost(M = 5) / cost(M = 1) (vs separate crops ≈ 5)  ≤ 1.5    ≤ 1.5
    loader_vs_synthetic  training-step rate fed by the real DataLoader / on a synthetic batch ≥ 0.9    ≥ 0.9
    gpu_throughput       ResNet-50 M = 5 end-to-end samples/s at batch 64 (CUDA only)       ≥ 800
    gpu_latency_ms       ResNet-50 M = 5 end-to-end latency at batch 1 (CUDA only)          reported

Each backbone is benchmarked with the compute settings of the profile it serves (`bench.inputs.profile_compute`:
cnn-small the cpu profile's crop 48×64, fc1 1024 and vertex-loss stride 8; ResNet-50 the paper's). Inference
decodes RoI 0 only, as evaluation does (`MultiRoIModel.decode(..., roi=0)`). On the CPU everything runs on one thread
unless `--threads`: the cpu profile's tables train one run per core, each pinned to its core (`--jobs auto`), so
that is the step rate the main job gets (at 2 threads the small head and body model gain little from the second
core while the backbone nearly doubles: train_vs_backbone measured 0.65 against 0.77 on one thread).

loader_vs_synthetic (`bench.loader`) is measured only when named (``--only loader_vs_synthetic``): it renders a
small SynthHMR train split into the cache the first time (the preset of the backbone's profile, batch · 11 images)
and starts DataLoader workers. Its options: ``--crop-on`` cpu | device (default cpu on the CPU, device on CUDA:
crops cut on the GPU from the decoded image, `data.device_crops`) and ``--workers`` (default 1 on the CPU, beside
the one-thread trainer on a 2-core machine; min(8, cores) on CUDA); its CPU case is cnn-small at batch 32 (~35 s
on 2 cores once the split exists).

With ``--cpu-checks`` also the backbone forward with channels_last and with (emulated) bf16 against fp32 —
the evidence behind the CPU defaults. Results print as a table and go to the bench folder as speed records with
provenance, one file per run (`bench.results`: ``speed_<run>.jsonl``), where the report's speed page reads them;
`nox -s bench` records the CPU targets too (benchmarks/test_targets.py).

    python -m hmr_bench.bench.targets                          # CPU: resnet50 (batch 4) and cnn-small (batch 32)
    python -m hmr_bench.bench.targets --device cuda            # bf16 + channels_last by default on CUDA
    python -m hmr_bench.bench.targets --backbone resnet50 --batch 8 --rounds 5 --bench-dir out/
    python -m hmr_bench.bench.targets --only loader_vs_synthetic --rounds 10     # CPU: cnn-small, crop_on cpu
    python -m hmr_bench.bench.targets --device cuda --batch 64 --only loader_vs_synthetic --crop-on device
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
from functools import partial
from pathlib import Path

import torch

from hmr_bench.bench.inference import inference_parts, overhead_share, time_inference
from hmr_bench.bench.inputs import bench_config, bench_model, synthetic_batch
from hmr_bench.bench.loader import loader_dataset, loader_rate, loader_synth_config
from hmr_bench.bench.results import provenance, records, run_id, write_records
from hmr_bench.bench.timing import time_fn
from hmr_bench.bench.training import backbone_fb_fn, train_step_fn, training_step_breakdown
from hmr_bench.config import CROP_ON
from hmr_bench.errors import InputError
from hmr_bench.train.perf import available_cores

log = logging.getLogger(__name__)
# The targets per device type: a GPU (ResNet-50, bf16, batch 64) and the 2-core CPU (cnn-small, the cpu
# profile's model at batch 32). (op, bound); a name without a bound on a device is reported without a verdict.
TARGETS = {
    "cuda": {"inference_overhead": ("≤", 0.05), "train_vs_backbone": ("≥", 0.85), "shared_scaling": ("≤", 1.5),
             "gpu_throughput": ("≥", 800.0), "loader_vs_synthetic": ("≥", 0.9)},
    "cpu": {"inference_overhead": ("≤", 0.15), "train_vs_backbone": ("≥", 0.75), "shared_scaling": ("≤", 1.5),
            "loader_vs_synthetic": ("≥", 0.9)},
}
WHAT = {  # what each target (or reported figure) measures
    "inference_overhead": "(fusion + head + body model) / end-to-end inference at M = 5",
    "train_vs_backbone": "training-step rate / backbone-alone fwd+bwd rate, same batch",
    "shared_scaling": "shared-backbone cost(M = 5) / cost(M = 1) (separate crops ≈ 5)",
    "loader_vs_synthetic": "training-step rate fed by the real DataLoader (SynthHMR, augmented) / rate on a "
                           "synthetic batch already on the device",
    "gpu_throughput": "ResNet-50, M = 5, end-to-end samples/s at batch 64",
    "gpu_latency_ms": "ResNet-50, M = 5, end-to-end latency at batch 1 (ms)",
    "channels_last_speedup": "CPU backbone forward: fp32 contiguous time / channels_last time",
    "bf16_slowdown": "CPU backbone forward: bf16 autocast time / fp32 time",
}
CPU_DEFAULT = {"resnet50": 4, "cnn-small": 32}  # backbone → batch on CPU (cnn-small: the cpu profile's)
GPU_DEFAULT = {"resnet50": 32}
LOADER_CPU_DEFAULT = {"cnn-small": 32}  # the loader target's CPU case: the cpu profile's model and batch
DEFAULT_TARGETS = ("inference_overhead", "train_vs_backbone", "shared_scaling")  # measured unless `only` says
# ("loader_vs_synthetic" renders a SynthHMR split and starts loader workers: measured when named)


def target_of(name: str, device_type: str) -> tuple[str, float] | None:
    """(op, bound) of target `name` on a device type ("cuda" or "cpu"), None when it has none there."""
    return TARGETS.get("cuda" if device_type == "cuda" else "cpu", {}).get(name)


def _entry(name: str, value: float, device_type: str, **detail) -> dict:
    t = target_of(name, device_type)
    met = None if t is None else (value <= t[1] if t[0] == "≤" else value >= t[1])
    return {"measured": value, "target": f"{t[0]} {t[1]}" if t else None, "met": met, **detail}


def measure_inference_overhead(backbone: str, batch: int, body, device, settings: dict, rounds: int,
                               warmup: int) -> dict:
    """Target 1 at M = 5: the share of end-to-end inference outside the backbone, from the parts timed apart
    (`inference_parts`), with the end-to-end time and its own estimate 1 − backbone / end-to-end beside it."""
    cfg = bench_config(backbone, 5, batch_size=batch, **settings)
    model = bench_model(cfg, body, device, train=False)
    b = synthetic_batch(cfg, batch, device=device)
    parts = inference_parts(model, body, b, cfg, rounds, warmup, device)
    total = time_inference(model, body, b, cfg, "end-to-end", rounds, warmup, device)
    share = overhead_share(parts)
    return _entry("inference_overhead", share, device.type, backbone=backbone, batch=batch, num_rois=5,
                  parts_ms={k: 1e3 * t.median_s for k, t in parts.items()}, end_to_end_ms=1e3 * total.median_s,
                  share_from_end_to_end=1 - parts["backbone"].median_s / total.median_s,
                  samples_per_s=total.rate(batch))


def measure_training(backbone: str, batch: int, body, device, settings: dict, rounds: int, warmup: int) -> dict:
    """Target 2 at M = 5: step rate / backbone-alone fwd+bwd rate (= backbone seconds / step seconds), with the
    step's per-part breakdown."""
    from hmr_bench.train.trainer import make_optimizer

    cfg = bench_config(backbone, 5, batch_size=batch, **settings)
    model = bench_model(cfg, body, device, train=True)
    opt = make_optimizer(model, cfg)
    b = synthetic_batch(cfg, batch, device=device)
    step = time_fn(train_step_fn(model, body, b, cfg, opt, device), rounds, warmup, device)
    bb = time_fn(backbone_fb_fn(model, b, cfg, device), rounds, warmup, device)
    parts = training_step_breakdown(model, body, b, cfg, opt, rounds=max(1, rounds // 2), warmup=1, device=device)
    ratio = bb.median_s / step.median_s
    return _entry("train_vs_backbone", ratio, device.type, backbone=backbone, batch=batch, num_rois=5,
                  step_ms=1e3 * step.median_s, backbone_fwd_bwd_ms=1e3 * bb.median_s,
                  step_samples_per_s=step.rate(batch), outside_backbone_share=1 - ratio,
                  breakdown_ms={k: 1e3 * v for k, v in parts.items()})


def measure_shared_scaling(backbone: str, batch: int, body, device, settings: dict, rounds: int,
                           warmup: int) -> dict:
    """Target 3: end-to-end inference cost(M = 5) / cost(M = 1) in shared-backbone mode, and the same ratio with
    separate crops (≈ 5 when the backbone dominates)."""
    ms = {}
    for mode in ("shared", "crops"):
        for M in (1, 5):
            cfg = bench_config(backbone, M, batch_size=batch, shared=mode == "shared", **settings)
            model = bench_model(cfg, body, device, train=False)
            b = synthetic_batch(cfg, batch, device=device)
            ms[f"{mode}_M{M}"] = 1e3 * time_inference(model, body, b, cfg, "end-to-end", rounds, warmup,
                                                      device).median_s
            del model, b
    shared = ms["shared_M5"] / ms["shared_M1"]
    return _entry("shared_scaling", shared, device.type, backbone=backbone, batch=batch,
                  crops_ratio=ms["crops_M5"] / ms["crops_M1"], shared_vs_crops_at_M5=ms["shared_M5"] / ms["crops_M5"],
                  ms=ms,
                  union_crop=list(bench_config(backbone, 5, shared=True).data.union_crop))


def loader_defaults(device_type: str, crop_on: str | None = None, workers: int | None = None) -> tuple[str, int]:
    """(crop_on, workers) of the loader target: given, else on CUDA "device" and min(8, cores) workers, on the CPU
    "cpu" and 1 worker (beside the one-thread trainer: the cpu profile's 2 cores)."""
    cuda = device_type == "cuda"
    crop_on = crop_on or ("device" if cuda else "cpu")
    if crop_on not in CROP_ON:
        raise InputError("run_targets", "crop_on", found=repr(crop_on), expected=" | ".join(CROP_ON))
    if workers is None:
        workers = min(8, available_cores()) if cuda else 1
    if not isinstance(workers, int) or workers < 0:
        raise InputError("run_targets", "workers", found=repr(workers), expected="an integer ≥ 0")
    return crop_on, workers


def measure_loader(backbone: str, batch: int, body, device, settings: dict, rounds: int, warmup: int,
                   crop_on: str | None = None, workers: int | None = None, synth_root=None) -> dict:
    """The loader target at M = 5: synthetic-batch step seconds / real-loader step seconds (`bench.loader`), on
    the SynthHMR split of the backbone's profile (`loader_synth_config`, in `synth_root`, default the cache), crops cut
    per `crop_on` by `workers` loader workers (`loader_defaults`)."""
    from hmr_bench.data.synth.generate import generate
    from hmr_bench.train.trainer import make_optimizer

    crop_on, workers = loader_defaults(device.type, crop_on, workers)
    cfg = bench_config(backbone, 5, batch_size=batch, overrides={"data.crop_on": crop_on}, **settings)
    synth = loader_synth_config(backbone, batch)
    dataset = loader_dataset(cfg, generate(synth, root=synth_root))
    model = bench_model(cfg, body, device, train=True)
    r = loader_rate(model, body, cfg, make_optimizer(model, cfg), dataset, device, workers, rounds, warmup)
    w, h = synth.image_size
    return _entry("loader_vs_synthetic", r.ratio, device.type, backbone=backbone, batch=batch, num_rois=5,
                  crop_on=crop_on, workers=workers, images=len(dataset),
                  note=f"crop_on {crop_on}, {workers} loader worker{'s' if workers != 1 else ''}, {len(dataset)} "
                       f"SynthHMR images {w}×{h} (augmented), {r.steps} timed steps in {r.passes} passes",
                  data_wait_ms=1e3 * r.data_wait_s, synthetic_step_ms=1e3 * r.synthetic_s,
                  loader_step_ms=1e3 * r.loader_s,
                  synthetic_before_after_ms={"before": 1e3 * r.synthetic_before_s,
                                             "after": 1e3 * r.synthetic_after_s})


def measure_gpu(body, device, settings: dict, rounds: int, warmup: int) -> dict:
    """ResNet-50, M = 5, end-to-end: samples/s at batch 64 (target ≥ 800) and latency at batch 1."""
    out = {}
    for batch in (64, 1):
        cfg = bench_config("resnet50", 5, batch_size=batch, **settings)
        model = bench_model(cfg, body, device, train=False)
        t = time_inference(model, body, synthetic_batch(cfg, batch, device=device), cfg, "end-to-end", rounds,
                           warmup, device)
        if batch == 64:
            out["gpu_throughput"] = _entry("gpu_throughput", t.rate(64), device.type, backbone="resnet50", batch=64,
                                           num_rois=5)
        else:
            out["gpu_latency_ms"] = _entry("gpu_latency_ms", 1e3 * t.median_s, device.type, backbone="resnet50",
                                           batch=1, num_rois=5)
    return out


def measure_cpu_settings(backbone: str, batch: int, body, rounds: int, warmup: int) -> dict:
    """Backbone forward (M = 5, batch) on CPU: fp32 contiguous, fp32 channels_last and bf16 autocast (emulated
    where the CPU lacks bf16: torch.autocast directly, bypassing `perf.autocast`'s refusal). Ratios to fp32."""
    from hmr_bench.bench.inference import inference_fn

    ms = {}
    for name, cl, bf16 in (("fp32", False, False), ("channels_last", True, False), ("bf16", False, True)):
        cfg = bench_config(backbone, 5, batch_size=batch, channels_last=cl)
        model = bench_model(cfg, body, "cpu", train=False)
        fn = inference_fn(model, body, synthetic_batch(cfg, batch), cfg, "backbone", "cpu")
        ctx = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext

        def call(fn=fn, ctx=ctx):
            with ctx():
                fn()

        ms[name] = 1e3 * time_fn(call, rounds, warmup, "cpu").median_s
    from hmr_bench.train.perf import cpu_bf16_native

    native, why = cpu_bf16_native()
    return {"backbone": backbone, "batch": batch, "ms": ms, "channels_last_speedup": ms["fp32"] / ms["channels_last"],
            "bf16_slowdown": ms["bf16"] / ms["fp32"], "bf16_native": native, "bf16_why": why}


def run_targets(device="cpu", backbones: dict[str, int] | None = None, settings: dict | None = None,
                rounds: int | None = None, warmup: int | None = None, cpu_checks: bool = False,
                only: tuple[str, ...] | None = None, crop_on: str | None = None, workers: int | None = None,
                synth_root=None) -> dict:
    """The targets for every backbone (→ batch) on `device`; returns {"provenance", "settings", "targets":
    {backbone: {target: entry}}, "gpu", "cpu_settings"}. `only`: some of "inference_overhead",
    "train_vs_backbone", "shared_scaling", "loader_vs_synthetic" (default `DEFAULT_TARGETS`, the first three);
    crop_on, workers and synth_root are the loader target's (`measure_loader`). "gpu" (ResNet-50 M = 5 throughput
    at batch 64 and latency at batch 1) is measured on CUDA when `only` is None."""
    from hmr_bench.body import load_body_model

    dev = torch.device(device)
    cuda = dev.type == "cuda"
    settings = dict(settings if settings is not None else
                    ({"amp": "bf16", "channels_last": True} if cuda else {"amp": "off", "channels_last": False}))
    backbones = dict(backbones or (GPU_DEFAULT if cuda else CPU_DEFAULT))
    rounds = rounds if rounds is not None else (20 if cuda else 3)
    warmup = warmup if warmup is not None else (5 if cuda else 1)
    body = load_body_model("free").to(dev)
    measures = {"inference_overhead": measure_inference_overhead, "train_vs_backbone": measure_training,
                "shared_scaling": measure_shared_scaling,
                "loader_vs_synthetic": partial(measure_loader, crop_on=crop_on, workers=workers,
                                               synth_root=synth_root)}
    chosen = only or DEFAULT_TARGETS
    unknown = [n for n in chosen if n not in measures]
    if unknown:
        raise InputError("run_targets", "only", found=", ".join(unknown), expected="among " + ", ".join(measures))
    out = {"provenance": provenance(dev, bench_config("cnn-tiny", **settings)), "settings": settings,
           "rounds": rounds, "warmup": warmup, "targets": {}}
    for bb, batch in backbones.items():
        for name in chosen:
            log.info("measuring %s for %s at batch %d", name, bb, batch)
            out["targets"].setdefault(bb, {})[name] = measures[name](bb, batch, body, dev, settings, rounds, warmup)
    if cuda and only is None:  # the ResNet-50 throughput and latency: once per full run, not per chosen target
        out["gpu"] = measure_gpu(body, dev, settings, rounds, warmup)
    if cpu_checks and not cuda:
        bb, batch = next(iter(backbones.items()))
        out["cpu_settings"] = measure_cpu_settings(bb, batch, body, rounds, warmup)
    return out


def target_entries(result: dict) -> list[tuple[dict, dict]]:
    """(info, figures) of every entry of a `run_targets` result (`bench.results.records` makes its records): info
    the run's provenance with the case (backbone, batch, num_rois), scope "target", the target's name, what it
    measures and its verdict (op, bound, met; none for a reported figure); figures the measured value under the
    target's name and its details (parts, times, rates). The CPU settings checks are reported figures."""
    base = {**result["provenance"], "scope": "target", "rounds": result["rounds"], "warmup": result["warmup"]}
    entries = [(bb, name, e) for bb, per in result["targets"].items() for name, e in per.items()]
    entries += [("resnet50", name, e) for name, e in result.get("gpu", {}).items()]
    if "cpu_settings" in result:
        c = result["cpu_settings"]
        note = f"native bf16: {c['bf16_native']}" + (f" ({c['bf16_why']})" if c.get("bf16_why") else "")
        entries += [(c["backbone"], "channels_last_speedup", {"measured": c["channels_last_speedup"],
                                                             "batch": c["batch"], "ms": c["ms"]}),
                    (c["backbone"], "bf16_slowdown", {"measured": c["bf16_slowdown"], "batch": c["batch"],
                                                      "note": note})]
    out = []
    for bb, name, e in entries:
        case = {k: e[k] for k in ("batch", "num_rois", "note", "union_crop", "crop_on", "workers", "images") if k in e}
        op, bound = target_of(name, base["device"]) or (None, None)
        met = None if op is None or not math.isfinite(e["measured"]) else e["met"]
        bench = f"target {name} {bb} b{e.get('batch')}" + (f" {e['crop_on']}-crops w{e['workers']}" if "crop_on" in e
                                                           else "")
        info = {**base, **case, "backbone": bb, "target": name, "what": WHAT.get(name, name), "op": op,
                "bound": bound, "met": met, "benchmark": bench}
        details = {k: v for k, v in e.items() if k not in ("measured", "target", "met", *case, "backbone")}
        out.append((info, {name: e["measured"], **details}))
    return out


def target_records(result: dict) -> list[dict]:
    """The speed records of a `run_targets` result (`target_entries`)."""
    return [r for info, figures in target_entries(result) for r in records(info, figures)]


def summary_lines(recs: list[dict]) -> list[str]:
    """One line per measured target: backbone, name, measured value, target, met."""
    lines = []
    for r in recs:
        if r["figure"] == r.get("target"):
            met = {True: "met", False: "NOT met"}.get(r.get("met"), "")
            bound = f"{r['op']} {r['bound']:g}" if r.get("op") else ""
            how = (f"  ({r['crop_on']} crops, {r['workers']} worker{'s' if r['workers'] != 1 else ''})"
                   if r.get("crop_on") else "")
            lines.append(f"{r['backbone']:10s} {r['target']:22s} {r['value']:10.4g}  {bound:8s} {met}{how}")
    return lines


def _backbones(text: str | None, batch: int | None, cuda: bool, only: tuple[str, ...] | None = None
               ) -> dict[str, int]:
    default = GPU_DEFAULT if cuda else LOADER_CPU_DEFAULT if only == ("loader_vs_synthetic",) else CPU_DEFAULT
    names = [s for s in (text or "").split(",") if s] or list(default)
    return {n: batch or default.get(n, 32 if cuda else 4) for n in names}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m hmr_bench.bench.targets", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--backbone", help="comma-separated backbones (default: resnet50 and cnn-small on CPU, "
                   "cnn-small alone for --only loader_vs_synthetic; resnet50 on CUDA)")
    p.add_argument("--batch", type=int, help="batch for every backbone (default: resnet50 4 / cnn-small 32 on CPU, "
                   "32 on CUDA)")
    p.add_argument("--rounds", type=int)
    p.add_argument("--warmup", type=int)
    p.add_argument("--amp", choices=("off", "bf16", "fp16"), help="default: bf16 on CUDA, off on CPU")
    p.add_argument("--channels-last", choices=("on", "off"), help="default: on for CUDA, off on CPU")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (inductor)")
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: 1 on the CPU, as the cpu "
                   "profile trains: one worker per core, each on its core; every available core on CUDA)")
    p.add_argument("--cpu-checks", action="store_true", help="also channels_last and bf16 vs fp32 on CPU")
    p.add_argument("--only", help="comma-separated: inference_overhead, train_vs_backbone, shared_scaling (the "
                   "default three), loader_vs_synthetic")
    p.add_argument("--crop-on", choices=CROP_ON, help="loader_vs_synthetic: where the RoI crops are cut "
                   "(default: cpu on the CPU, device on CUDA)")
    p.add_argument("--workers", type=int, help="loader_vs_synthetic: DataLoader workers (default: 1 on the CPU, "
                   "min(8, cores) on CUDA)")
    p.add_argument("--bench-dir", type=Path, help="folder of the speed records (default <repo>/.benchmarks)")
    a = p.parse_args(argv)
    from hmr_bench.train.perf import set_threads

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cuda = torch.device(a.device).type == "cuda"
    settings = {"amp": a.amp or ("bf16" if cuda else "off"),
                "channels_last": (a.channels_last or ("on" if cuda else "off")) == "on", "compile": a.compile}
    set_threads(a.threads if a.threads is not None or cuda else 1)
    only = tuple(a.only.split(",")) if a.only else None
    result = run_targets(a.device, _backbones(a.backbone, a.batch, cuda, only), settings, a.rounds, a.warmup,
                         a.cpu_checks, only, crop_on=a.crop_on, workers=a.workers)
    recs = target_records(result)
    path = write_records(recs, run_id("targets", result["provenance"]), a.bench_dir)
    print("\n".join(summary_lines(recs)))
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
