"""Benchmark results with their provenance, written where the report reads them.

Two files in the bench folder (default ``<repo>/.benchmarks``, `paths.bench_dir`, where the report reads them):

- ``bench_results.json``: the report's Table 4 FPS records (format: `hmr_bench.report.bench`), merged with the
  records already there (a record replaces an older one with the same `record_key`). Only end-to-end
  inference of the paper's model (separate crops) goes there, one series per (backbone, device label, batch);
  the device label carries precision and memory layout, e.g. "cuda (NVIDIA H100 80GB HBM3) · bf16 ·
  channels_last", so runs with other settings make other series instead of overwriting each other.
- ``hmr_bench_<tag>.json``: every benchmark of the run (all scopes, shared mode, training breakdown, MACs, data
  rates) with full provenance; `tag` names device, precision, memory layout and torch version.

Each is merged under a lock file beside it (``<name>.lock``, empty): processes of one host that write at once
lose nothing.

A benchmark marks a Table 4 figure by ``extra_info["table4"] = True`` with the record's fields in extra_info
(`inference_info`); `records_from_pytest_benchmark` turns a pytest-benchmark JSON (a saved file or the dict of
its `pytest_benchmark_update_json` hook) into records; ``python -m hmr_bench.bench.results SAVED.json`` does
so for a saved file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
from pathlib import Path

import torch

from hmr_bench.errors import InputError
from hmr_bench.io import atomic_write, file_lock
from hmr_bench.paths import BENCH_FILE, bench_dir

RECORD_KEY = ("name", "backbone", "batch", "device", "scope")
TABLE4_FIELDS = ("name", "num_rois", "backbone", "batch", "device", "scope", "mode", "precision", "memory_format",
                 "compile", "crop_size", "threads", "device_name", "torch", "date")


def device_name(device) -> str:
    """The hardware: "NVIDIA H100 80GB HBM3", or the CPU model from /proc/cpuinfo (platform's name elsewhere)."""
    dev = device if isinstance(device, torch.device) else torch.device(device)
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def precision_of(cfg) -> str:
    return "fp32" if cfg.train.amp == "off" else cfg.train.amp


def layout_of(cfg) -> str:
    return "channels_last" if cfg.train.channels_last else "contiguous"


def device_label(device, cfg) -> str:
    """The report's series label of a device and its settings: "cpu (AMD EPYC 7B13, 2 threads) · fp32 ·
    contiguous", "cuda (NVIDIA H100 80GB HBM3) · bf16 · channels_last" (+ " · compiled")."""
    dev = device if isinstance(device, torch.device) else torch.device(device)
    n = torch.get_num_threads()
    where = f"{dev.type} ({device_name(dev)}" + (f", {n} thread{'s' if n != 1 else ''})" if dev.type == "cpu" else ")")
    label = f"{where} · {precision_of(cfg)} · {layout_of(cfg)}"
    return label + (" · compiled" if cfg.train.compile else "")


def provenance(device, cfg=None, **extra) -> dict:
    """Where and how a figure was measured: device and its name, precision, memory layout, compile, threads,
    cudnn.benchmark, torch / CUDA / cuDNN versions, code version, load average, date; plus `extra`."""
    from hmr_bench.config import code_version

    dev = device if isinstance(device, torch.device) else torch.device(device)
    prov = {"device": dev.type, "device_name": device_name(dev), "threads": torch.get_num_threads(),
            "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "torch": torch.__version__, "python": platform.python_version(), "code_version": code_version(),
            "load_avg_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    if dev.type == "cuda":
        prov.update(cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),
                    cudnn_benchmark=bool(torch.backends.cudnn.benchmark))
    else:
        prov["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    if cfg is not None:
        prov.update(precision=precision_of(cfg), memory_format=layout_of(cfg), compile=bool(cfg.train.compile),
                    device_label=device_label(dev, cfg))
    return {**prov, **extra}


def tag(prov: dict) -> str:
    """File-name tag of a provenance: device name, precision, layout, torch, e.g.
    "cuda-nvidia-h100-80gb-hbm3_bf16_channels-last_torch2.13.0"."""
    parts = [f"{prov.get('device', 'cpu')}-{prov.get('device_name', '')}", prov.get("precision", "fp32"),
             prov.get("memory_format", "contiguous"), f"torch{prov.get('torch', torch.__version__)}"]
    if prov.get("compile"):
        parts.append("compiled")
    return "_".join(re.sub(r"[^a-z0-9.]+", "-", str(p).lower()).strip("-") for p in parts)


def inference_info(cfg, device, scope: str, batch: int, table4: bool | None = None) -> dict:
    """extra_info of an inference benchmark: the record's fields (name "multiroi-M5" / "multiroi-shared-M5",
    num_rois, backbone, batch, device label, scope, mode, crop) with provenance; `table4` (default: end-to-end
    scope in crops mode) marks it for bench_results.json."""
    shared = bool(cfg.model.shared_backbone)
    M = cfg.data.num_rois
    if table4 is None:
        table4 = scope == "end-to-end" and not shared
    info = provenance(device, cfg)
    info["device_type"] = info["device"]  # "device" becomes the report's series label below
    info.update(name=f"multiroi{'-shared' if shared else ''}-M{M}", num_rois=M, backbone=cfg.model.backbone,
                batch=batch, device=device_label(device, cfg), scope=scope, mode="shared" if shared else "crops",
                crop_size=list(cfg.data.crop_size), table4=bool(table4))
    if shared:
        info["union_crop"] = list(cfg.data.union_crop)
    return info


def records_from_pytest_benchmark(data: dict, source: str = "pytest-benchmark JSON") -> tuple[list[dict], list[dict]]:
    """(table4_records, all_rows) of a pytest-benchmark JSON dict ({"benchmarks": [...], ...}).

    A Table 4 record takes its fields from extra_info and samples_per_s = batch / median round seconds;
    all_rows has one row per benchmark: name, group, extra_info and the round statistics (seconds)."""
    benches = data.get("benchmarks") if isinstance(data, dict) else None
    if not isinstance(benches, list):
        raise InputError(source, "benchmarks", found=type(benches).__name__,
                         expected="a pytest-benchmark JSON with a 'benchmarks' list")
    table4, rows = [], []
    for b in benches:
        info, stats = b.get("extra_info") or {}, b.get("stats") or {}
        keep = ("min", "max", "mean", "median", "stddev", "rounds", "iterations")
        rows.append({"benchmark": b.get("fullname") or b.get("name"), "group": b.get("group"),
                     "stats_s": {k: stats.get(k) for k in keep}, **info})
        median = stats.get("median")
        if info.get("table4") and median:
            rec = {k: info[k] for k in TABLE4_FIELDS if k in info}
            rec["samples_per_s"] = round(info["batch"] / median, 3)
            rec["latency_ms"] = round(1e3 * median, 4)
            table4.append(rec)
    return table4, rows


def record_key(rec: dict) -> tuple:
    return tuple(json.dumps(rec.get(k)) for k in RECORD_KEY)


def merge_records(old: list[dict], new: list[dict]) -> list[dict]:
    """`old` without the records that `new` replaces (same `record_key`), then `new`."""
    keys = {record_key(r) for r in new}
    return [r for r in old if record_key(r) not in keys] + list(new)


def _write_json(path: Path, obj) -> Path:
    return atomic_write(path, lambda f: f.write((json.dumps(obj, indent=1, default=str) + "\n").encode()))


def lock_path(path: Path) -> Path:
    """The lock file of a results file: ``<name>.lock`` beside it (see `hmr_bench.io.file_lock`)."""
    return path.with_name(path.name + ".lock")


def write_results(table4: list[dict], rows: list[dict], folder: str | Path | None = None,
                  meta: dict | None = None) -> list[Path]:
    """Merges `table4` into `folder`/bench_results.json and writes every row to `folder`/hmr_bench_<tag>.json
    (tag from `meta`, the run's provenance; none written without rows). Returns the paths written.

    Each file's read-merge-write holds its lock (`lock_path`, between processes of this host), so benchmark
    processes writing at once lose none of each other's records."""
    folder = Path(folder) if folder is not None else bench_dir()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    if table4:
        path = folder / BENCH_FILE
        with file_lock(lock_path(path)):
            old = []
            if path.is_file():
                try:
                    old = json.loads(path.read_text())
                except ValueError as e:
                    raise InputError(path, found=f"unreadable JSON ({e})", expected="a JSON list of records",
                                     hint="move it away to start a new one") from None
                if not isinstance(old, list):
                    raise InputError(path, found=type(old).__name__, expected="a JSON list of records")
            written.append(_write_json(path, merge_records(old, table4)))
    if rows:
        meta = dict(meta or {})
        path = folder / f"hmr_bench_{tag(meta)}.json"
        with file_lock(lock_path(path)):
            old_rows = []
            if path.is_file():  # an earlier run with the same tag: its benchmarks that this run did not repeat stay
                try:
                    old_rows = json.loads(path.read_text())["results"]
                except (ValueError, TypeError, KeyError) as e:
                    raise InputError(path, found=f"unreadable earlier results ({type(e).__name__}: {e})",
                                     expected="a JSON object with a 'results' list",
                                     hint="move it away to start a new one") from None
            names = {r.get("benchmark") for r in rows}
            kept = [r for r in old_rows if isinstance(r, dict) and r.get("benchmark") not in names]
            written.append(_write_json(path, {"provenance": meta, "results": kept + list(rows)}))
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m hmr_bench.bench.results SAVED.json [--bench-dir DIR]``: a saved pytest-benchmark file →
    bench_results.json (merged) and the full JSON."""
    p = argparse.ArgumentParser(prog="python -m hmr_bench.bench.results", description=main.__doc__)
    p.add_argument("saved", type=Path, help="a pytest-benchmark JSON (.benchmarks/<machine>/NNNN_*.json)")
    p.add_argument("--bench-dir", type=Path, default=None, help="output folder (default <repo>/.benchmarks)")
    a = p.parse_args(argv)
    try:
        data = json.loads(a.saved.read_text())
    except (OSError, ValueError) as e:
        raise InputError(a.saved, found=f"unreadable ({e})", expected="a pytest-benchmark JSON file") from None
    table4, rows = records_from_pytest_benchmark(data, str(a.saved))
    meta = (data.get("machine_info") or {}).get("hmr_bench")  # written by benchmarks/conftest.py
    if not meta:
        row = next((r for r in rows if r.get("device_type")), {})
        meta = {k: row[k] for k in ("device_name", "precision", "memory_format", "torch", "compile") if k in row}
        meta["device"] = row.get("device_type", "cpu")
    for path in write_results(table4, rows, a.bench_dir, meta):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
