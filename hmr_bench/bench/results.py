"""Speed records: the one format of every speed figure hmr-bench measures, and the frame the report reads.

A record is one measured figure, a long row (JSON object):

    {"figure": "samples_per_s", "part": null, "value": 410.2, "unit": "samples/s",               the figure
     "benchmark": "test_inference[cnn-small-M5-b32-end-to-end-crops]", "scope": "end-to-end",
     "backbone": "cnn-small", "num_rois": 5, "batch": 32, "mode": "crops", "crop_size": "48x64",  the case
     "device": "cpu", "device_name": "AMD EPYC 7B13", "precision": "fp32", "memory_format": "contiguous",
     "compile": false, "threads": 2, "torch": "2.13.0+cpu", "git_sha": "8ff8b62", "code_version": "…",
     "load_avg_1min": 1.3, "date": "2026-01-02T03:04:05+00:00", "run": "20260102T030405_bench_cpu-…"}  provenance

`part` names the part of a figure that has several (breakdown_ms: "backward"; params: "head"). `scope` says what
was measured: "backbone" / "model" / "end-to-end" inference, "train-step" / "train-step+loader", "data" (SynthHMR
generation, sample assembly), "cost" (params and MACs) or "target" (`bench.targets`: the figure named after its
target carries "op", "bound" and "met"; its details are figures of the same "target").

Writers: the pytest-benchmark suite (a benchmark stores ``extra_info["records"] = records(info, figures)``;
benchmarks/conftest.py writes the run's when pytest-benchmark saves), ``python -m hmr_bench.bench.results
SAVED.json`` (the same from a saved pytest-benchmark file) and ``python -m hmr_bench.bench.targets``. Each run
writes its own file, ``<bench dir>/speed_<run>.jsonl`` (one record a line), atomically: runs never merge files.
`speed_frame` reads every such file of the folder into one pandas frame, the latest run's record where runs repeat
a figure (same benchmark, figure, part and device settings). Files of the older formats (bench_results.json,
hmr_bench_*.json, targets_*.json) are not read.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import math
import os
import platform
import re
from pathlib import Path

import pandas as pd
import torch

from hmr_bench.errors import InputError
from hmr_bench.experiment.provenance import git_sha
from hmr_bench.io import atomic_write
from hmr_bench.paths import SPEED_GLOB, bench_dir
from hmr_bench.train.perf import available_cores

COLUMNS = ("run", "benchmark", "scope", "figure", "part", "value", "unit", "backbone", "num_rois", "batch", "mode",
           "name", "crop_size", "device", "device_name", "precision", "memory_format", "compile", "threads", "torch",
           "git_sha", "date", "load_avg_1min", "target", "what", "op", "bound", "met")
INT_COLUMNS = ("num_rois", "batch", "threads", "cores", "workers", "images", "image_size", "rounds", "warmup")
# a figure repeated by later runs: the latest run's counts
SAME_FIGURE = ("benchmark", "figure", "part", "device", "device_name", "precision", "memory_format", "compile",
               "threads", "torch")


def device_name(device) -> str:
    """The hardware: "NVIDIA H100 80GB HBM3", or the CPU model from /proc/cpuinfo (platform's name elsewhere)."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.cache
def _checkout() -> str | None:
    """The short commit, "+dirty" with uncommitted changes (`experiment.provenance.git_sha`), once per process:
    every benchmark records it."""
    return git_sha(short=True, dirty=True)


def provenance(device, cfg=None, **extra) -> dict:
    """Where and how a figure was measured: device type and name, threads, cores, torch / CUDA / cuDNN versions,
    git sha and code version, load average, date; with `cfg` its precision, memory layout and compile; `extra`."""
    from hmr_bench.config import code_version

    dev = torch.device(device)
    prov = {"device": dev.type, "device_name": device_name(dev), "threads": torch.get_num_threads(),
            "cores": available_cores(),
            "torch": torch.__version__, "python": platform.python_version(), "git_sha": _checkout(),
            "code_version": code_version(),
            "load_avg_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    if dev.type == "cuda":
        prov.update(cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),
                    cudnn_benchmark=bool(torch.backends.cudnn.benchmark))
    if cfg is not None:
        prov.update(precision="fp32" if cfg.train.amp == "off" else cfg.train.amp,
                    memory_format="channels_last" if cfg.train.channels_last else "contiguous",
                    compile=bool(cfg.train.compile))
    return {**prov, **extra}


def tag(prov: dict) -> str:
    """File-name tag of a provenance: device name, precision, layout, torch, e.g.
    "cuda-nvidia-h100-80gb-hbm3_bf16_channels-last_torch2.13.0"."""
    parts = [f"{prov.get('device', 'cpu')}-{prov.get('device_name', '')}", prov.get("precision") or "fp32",
             prov.get("memory_format") or "contiguous", f"torch{prov.get('torch', torch.__version__)}"]
    if prov.get("compile"):
        parts.append("compiled")
    return "_".join(re.sub(r"[^a-z0-9.]+", "-", str(p).lower()).strip("-") for p in parts)


def run_id(source: str, prov: dict, when: dt.datetime | str | None = None) -> str:
    """A run's name: start time (UTC), source ("bench", "targets") and `tag`, e.g.
    "20260102T030405_bench_cpu-amd-epyc-7b13_fp32_contiguous_torch2.13.0"; sorts by time."""
    when = dt.datetime.fromisoformat(when) if isinstance(when, str) else when or dt.datetime.now(dt.timezone.utc)
    return f"{when:%Y%m%dT%H%M%S}_{source}_{tag(prov)}"


def inference_info(cfg, device, scope: str, batch: int) -> dict:
    """The case and provenance of an inference benchmark: name ("multiroi-M5" / "multiroi-shared-M5"), num_rois,
    backbone, batch, scope, mode ("crops" / "shared"), crop and, shared, the union crop."""
    shared = bool(cfg.model.shared_backbone)
    M = cfg.data.num_rois
    return provenance(device, cfg, name=f"multiroi{'-shared' if shared else ''}-M{M}", num_rois=M,
                      backbone=cfg.model.backbone, batch=batch, scope=scope, mode="shared" if shared else "crops",
                      crop_size=list(cfg.data.crop_size), union_crop=list(cfg.data.union_crop) if shared else None)


def unit_of(figure: str) -> str:
    """"samples_per_s" → "samples/s", "*_ms" / "ms_per_*" → "ms", "*_s" → "s", params / MACs; else "ratio"."""
    special = {"params": "parameters", "macs": "MACs", "gmacs_per_sample": "GMACs", "gpu_throughput": "samples/s"}
    if figure in special:
        return special[figure]
    if figure.endswith("_per_s"):
        return figure.removesuffix("_per_s").rpartition("_")[2] + "/s"
    words = figure.split("_")
    return "ms" if "ms" in words else "s" if words[-1] == "s" else "ratio"


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def records(info: dict, figures: dict) -> list[dict]:
    """The long rows of one benchmark: one per figure of `figures` ({name: number, or {part: number}: one row per
    part}), each with the case and provenance of `info` (a list value becomes "48x64", a dict is left out).
    info's "op", "bound" and "met" (a target's verdict) go on the row of the figure named info["target"] only."""
    base = {k: "x".join(map(str, v)) if isinstance(v, (list, tuple)) else v for k, v in info.items()
            if not isinstance(v, dict)}
    verdict = {k: base.pop(k, None) for k in ("op", "bound", "met")}
    out = []
    for figure, v in figures.items():
        for part, x in v.items() if isinstance(v, dict) else [(None, v)]:
            if _number(x):
                row = {**base, "figure": figure, "part": part, "value": float(x), "unit": unit_of(figure)}
                out.append({**row, **verdict} if figure == base.get("target") else row)
    return out


def records_from_pytest_benchmark(data: dict, source: str = "pytest-benchmark JSON") -> list[dict]:
    """The records of a pytest-benchmark JSON ({"benchmarks": [...], "machine_info": {"hmr_bench": run
    provenance}}): each benchmark's ``extra_info["records"]``, named by the benchmark (unless a record names
    itself), under the run's provenance (a record's own fields win)."""
    benches = data.get("benchmarks") if isinstance(data, dict) else None
    if not isinstance(benches, list):
        raise InputError(source, "benchmarks", found=type(benches).__name__,
                         expected="a pytest-benchmark JSON with a 'benchmarks' list")
    meta = (data.get("machine_info") or {}).get("hmr_bench") or {}
    return [{**meta, "benchmark": b.get("name"), **rec} for b in benches
            for rec in (b.get("extra_info") or {}).get("records") or []]


def write_records(recs: list[dict], run: str, folder: str | Path | None = None) -> Path | None:
    """`recs` (each stamped with `run`) to `folder`/speed_<run>.jsonl (default folder `paths.bench_dir()`), one
    JSON object a line, atomically (a file of that run is replaced). None, and nothing written, without records."""
    if not recs:
        return None
    path = Path(folder if folder is not None else bench_dir()) / SPEED_GLOB.replace("*", run)
    lines = "".join(json.dumps({**r, "run": run}, default=str, ensure_ascii=False) + "\n" for r in recs)
    return atomic_write(path, lambda fh: fh.write(lines.encode()))


def read_records(path: str | Path) -> list[dict]:
    """The records of one speed file; InputError naming the file and line of anything that is not a record."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(path, found=f"unreadable ({e})", expected="a speed-record file (bench.results)") from None
    out = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as e:
            raise InputError(path, f"line {i}", found=f"unreadable JSON ({e})",
                             expected="one JSON record a line (hmr_bench.bench.results)") from None
        if not isinstance(rec, dict) or not isinstance(rec.get("figure"), str) or not _number(rec.get("value")):
            raise InputError(path, f"line {i}", found=line[:80], expected='a record {"figure": name, "value": number,'
                             ' ...} (hmr_bench.bench.results)')
        out.append(rec)
    return out


def speed_frame(folder: str | Path | None = None, latest: bool = True) -> pd.DataFrame:
    """Every record of the speed files of `folder` (default `paths.bench_dir()`) as one frame (at least the
    `COLUMNS`; whole numbers as Int64); with `latest`, where runs repeat a figure (`SAME_FIGURE`) only the latest
    run's. An empty frame without files."""
    folder = Path(folder if folder is not None else bench_dir())
    recs = [r for p in sorted(folder.glob(SPEED_GLOB)) for r in read_records(p)]
    frame = pd.DataFrame.from_records(recs)
    frame = frame.reindex(columns=list(dict.fromkeys([*COLUMNS, *frame.columns])))
    for c in INT_COLUMNS:
        if c in frame and frame[c].map(lambda x: x is None or (_number(x) and (math.isnan(x) or x == int(x)))).all():
            frame[c] = pd.to_numeric(frame[c]).astype("Int64")
    if latest and len(frame):
        frame = frame.sort_values("run", kind="stable").drop_duplicates(list(SAME_FIGURE), keep="last")
    return frame.reset_index(drop=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m hmr_bench.bench.results SAVED.json [--bench-dir DIR]``: the speed records of a saved
    pytest-benchmark file (one written by this suite) → <bench dir>/speed_<run>.jsonl."""
    p = argparse.ArgumentParser(prog="python -m hmr_bench.bench.results", description=main.__doc__)
    p.add_argument("saved", type=Path, help="a pytest-benchmark JSON (.benchmarks/<machine>/NNNN_*.json)")
    p.add_argument("--bench-dir", type=Path, default=None, help="output folder (default <repo>/.benchmarks)")
    a = p.parse_args(argv)
    try:
        data = json.loads(a.saved.read_text())
    except (OSError, ValueError) as e:
        raise InputError(a.saved, found=f"unreadable ({e})", expected="a pytest-benchmark JSON file") from None
    recs = records_from_pytest_benchmark(data, str(a.saved))
    if not recs:
        raise InputError(a.saved, "benchmarks[].extra_info.records", found="none",
                         expected="benchmarks of hmr-bench's suite (benchmarks/), which store their records")
    meta = (data.get("machine_info") or {}).get("hmr_bench") or recs[0]
    print(write_records(recs, run_id("bench", meta, data.get("datetime")), a.bench_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
