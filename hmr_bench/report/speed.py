"""The report's speed page, read from the benchmark files of the bench folder (default ``<repo>/.benchmarks``):

    bench_results.json       end-to-end inference records (Table 4's FPS; format: `report.bench`)
    hmr_bench_<tag>.json     every benchmark of a `nox -s bench` run: {"provenance": {...}, "results": [row, ...]}
                             (`bench.results.write_results`): inference per scope and mode, the training step
                             and its breakdown, SynthHMR generation and sample assembly, params and MACs
    targets_<tag>.json       the issue's target ratios (`python -m hmr_bench.bench.targets`): {"provenance",
                             "targets": {backbone: {target: {"measured", "target", "met", ...}}}, "gpu", ...}

Nothing is timed or recomputed here: samples/s is the benchmark's (batch / median round seconds), a ratio is the
one the targets run stored. Every record keeps its provenance (device, precision, memory layout, torch, threads,
date), from the record or else from its file's. A missing file leaves its sections "not measured"; a target
entry without a finite measured value shows as "not measured" (its reason beside it).

    speed = load_speed(".benchmarks")
    speed.inference, speed.training, speed.data, speed.cost, speed.targets
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from hmr_bench.errors import InputError
from hmr_bench.report.bench import BENCH_FILE, INFERENCE_SCOPES, Series, inference_series, load_bench

NOT_MEASURED = "not measured — run `nox -s bench`"
TARGETS_NOT_MEASURED = "not measured — run `python -m hmr_bench.bench.targets`"
TRAINING_SCOPES = ("train-step", "train-step+loader")
RECORD_KEY = ("name", "backbone", "batch", "device", "scope")  # = bench.results.RECORD_KEY
TARGET_TEXT = {  # what each target of `bench.targets` measures
    "inference_overhead": "(fusion + head + body model) / end-to-end inference at M = 5",
    "train_vs_backbone": "training-step rate / backbone-alone fwd+bwd rate, same batch",
    "shared_scaling": "shared-backbone cost(M = 5) / cost(M = 1) (separate crops ≈ 5)",
    "gpu_throughput": "ResNet-50, M = 5, end-to-end samples/s at batch 64",
    "gpu_latency_ms": "ResNet-50, M = 5, end-to-end latency at batch 1 (ms)",
}
BREAKDOWN_AGGREGATES = ("forward", "total")  # sums of other parts of `training_step_breakdown`


@dataclass
class Speed:
    """The rows of each section of the speed page (plain dicts, each with "prov"), the files they came from."""

    folder: Path
    inference: list[dict] = field(default_factory=list)
    training: list[dict] = field(default_factory=list)
    data: list[dict] = field(default_factory=list)
    cost: list[dict] = field(default_factory=list)
    targets: list[dict] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.inference or self.training or self.data or self.cost or self.targets)

    def series(self) -> list[Series]:
        """The inference rows as series against M (`report.bench.inference_series`), sorted by backbone, scope,
        mode, batch, device."""
        return inference_series(self.inference)

    def target_counts(self) -> dict[str, int]:
        """{"met", "not met", "reported"} over every target entry."""
        out = {"met": 0, "not met": 0, "reported": 0}
        for t in self.targets:
            for e in t["entries"]:
                if e["measured"] is not None:
                    out[{True: "met", False: "not met", None: "reported"}.get(e["met"], "reported")] += 1
        return out


# ------------------------------------------------------------------------------------------- reading

def _read(path: Path, expected: str):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise InputError(path, found=f"unreadable JSON ({e})", expected=expected) from None


def _num(x) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def provenance(rec: dict, meta: dict | None = None) -> dict:
    """Where and how a record was measured: device ("cpu (AMD EPYC 7B13)"), precision, layout, torch, threads,
    date — from the record, else from its file's provenance `meta` (None where neither says)."""
    meta = meta or {}

    def get(*keys):
        for src in (rec, meta):
            for k in keys:
                if src.get(k) not in (None, ""):
                    return src[k]
        return None

    dev = rec.get("device")
    plain = isinstance(dev, str) and dev != "" and " " not in dev and "(" not in dev  # "cpu", "cuda:0": a type
    kind = rec.get("device_type") or (dev if plain else None)
    name = rec.get("device_name") or (meta.get("device_name") if kind and meta.get("device") in (None, kind)
                                      else None)
    if kind and name:
        device = f"{kind} ({name})"
    elif dev:
        device = str(dev).split(" · ")[0]  # a series label: "cpu (AMD EPYC, 2 threads) · fp32 · ..."
    elif meta.get("device") and meta.get("device_name"):
        device = f"{meta['device']} ({meta['device_name']})"
    else:
        device = meta.get("device")
    return {"device": device, "precision": get("precision"), "layout": get("memory_format"),
            "torch": get("torch"), "threads": get("threads", "torch_threads"), "date": get("date")}


def _inference_row(rec: dict, meta: dict | None, source: str) -> dict | None:
    batch = rec.get("batch")
    median = _num((rec.get("stats_s") or {}).get("median"))
    rate = _num(rec.get("samples_per_s"))
    if rate is None and median and batch:
        rate = batch / median  # what the benchmark would have stored
    if rate is None or not rec.get("num_rois") or not batch:
        return None
    latency = _num(rec.get("latency_ms"))
    if latency is None:
        latency = 1e3 * median if median else 1e3 * batch / rate
    return {"name": rec.get("name"), "backbone": rec.get("backbone", "?"), "num_rois": int(rec["num_rois"]),
            "batch": int(batch), "scope": rec.get("scope", "end-to-end"), "mode": rec.get("mode", "crops"),
            "device": rec.get("device") or (meta or {}).get("device_label") or "?", "samples_per_s": rate,
            "latency_ms": latency, "source": source, "prov": provenance(rec, meta)}


def _training_row(rec: dict, meta: dict | None, source: str) -> dict:
    """A training-step row; samples/s = batch / step time, ratio = backbone fwd+bwd ms / step ms and the share
    outside the backbone = 1 − ratio where the record does not store them (step time: step_ms, else the median
    round). device: the record's series label (device, precision, layout), else its provenance's device."""
    batch = rec.get("batch")
    step = _num(rec.get("step_ms"))
    if step is None:
        median = _num((rec.get("stats_s") or {}).get("median"))
        step = 1e3 * median if median else None
    bb = _num(rec.get("backbone_fwd_bwd_ms"))
    rate = _num(rec.get("samples_per_s"))
    if rate is None and step and isinstance(batch, int) and not isinstance(batch, bool) and batch > 0:
        rate = batch / (step / 1e3)
    bb_rate = _num(rec.get("backbone_fwd_bwd_samples_per_s"))
    if bb_rate is None and bb and isinstance(batch, int) and not isinstance(batch, bool) and batch > 0:
        bb_rate = batch / (bb / 1e3)
    ratio = _num(rec.get("step_vs_backbone"))
    if ratio is None and step and bb:
        ratio = bb / step
    share = _num(rec.get("outside_backbone_share"))
    if share is None and ratio is not None:
        share = 1 - ratio
    parts = {k: float(v) for k, v in (rec.get("breakdown_ms") or {}).items() if _num(v) is not None}
    prov = provenance(rec, meta)
    device = rec.get("device_label") or (meta or {}).get("device_label") or prov["device"] or "?"
    return {"benchmark": rec.get("benchmark"), "scope": rec.get("scope"), "backbone": rec.get("backbone", "?"),
            "num_rois": rec.get("num_rois"), "batch": batch, "mode": rec.get("mode", "crops"), "device": device,
            "samples_per_s": rate, "step_ms": step, "backbone_ms": bb, "backbone_samples_per_s": bb_rate,
            "ratio": ratio, "outside_share": share, "data_wait_share": _num(rec.get("data_wait_share")),
            "workers": rec.get("workers"), "breakdown_ms": parts, "source": source, "prov": prov}


def _data_what(rec: dict) -> str:
    if rec.get("stage"):
        return f"generation stage: {rec['stage']}"
    if rec.get("workers") and rec.get("images"):
        return (f"generate() end to end, {rec['workers']} workers, {rec['images']} images"
                + (", with dataset card" if rec.get("card") else ""))
    if rec.get("chunk"):
        return f"generation, one process (chunks of {rec['chunk']} images)"
    if rec.get("crop_wh"):
        w, h = rec["crop_wh"]
        return f"sample assembly, {rec.get('num_rois', '?')} RoIs, crop {w}×{h}"
    return str(rec.get("benchmark") or "?")


def _data_row(rec: dict, meta: dict | None, source: str) -> dict:
    unit = "image" if "image_per_s" in rec or "cpu_ms_per_image" in rec else "sample"
    return {"benchmark": rec.get("benchmark"), "what": _data_what(rec), "unit": unit,
            "rate": _num(rec.get(f"{unit}_per_s")), "ms": _num(rec.get(f"ms_per_{unit}")),
            "cpu_ms": _num(rec.get(f"cpu_ms_per_{unit}")), "steady": _num(rec.get("steady_image_per_s")),
            "image_size": rec.get("image_size"), "source": source, "prov": _data_provenance(rec, meta)}


def _data_provenance(rec: dict, meta: dict | None) -> dict:
    """The data benchmarks run on the CPU in fp32 whatever the model benchmarks' device: their own fields, the
    file's date."""
    cpu = rec.get("cpu") or (meta or {}).get("device_name")
    cores = f", {rec['cores']} cores" if rec.get("cores") else ""
    return {"device": f"cpu ({cpu}{cores})" if cpu else "cpu", "precision": None, "layout": None,
            "torch": rec.get("torch") or (meta or {}).get("torch"), "threads": rec.get("torch_threads"),
            "date": rec.get("date") or (meta or {}).get("date")}


def _cost_row(rec: dict, source: str) -> dict:
    params = rec.get("params") if isinstance(rec.get("params"), dict) else {}
    macs = rec.get("macs") if isinstance(rec.get("macs"), dict) else {}
    crop = rec.get("crop_size")
    return {"backbone": rec.get("backbone", "?"), "num_rois": rec.get("num_rois"), "mode": rec.get("mode", "crops"),
            "crop": f"{crop[0]}×{crop[1]}" if isinstance(crop, list) and len(crop) == 2 else "",
            "params": params, "macs": macs, "gmacs": _num(rec.get("gmacs_per_sample")), "source": source}


def _key(rec: dict) -> tuple:
    """A record's identity (`bench.results.record_key`; a record without a scope is end-to-end)."""
    return tuple(json.dumps(rec.get(k, "end-to-end" if k == "scope" else None)) for k in RECORD_KEY)


def _kind(rec: dict) -> str | None:
    scope = rec.get("scope")
    if scope in INFERENCE_SCOPES:
        return "inference"
    if scope in TRAINING_SCOPES:
        return "training"
    if scope == "cost":
        return "cost"
    if any(k in rec for k in ("image_per_s", "sample_per_s", "cpu_ms_per_image", "cpu_ms_per_sample")):
        return "data"
    return None


def _targets(path: Path) -> dict:
    data = _read(path, "a JSON object written by `python -m hmr_bench.bench.targets`")
    if not isinstance(data, dict) or not isinstance(data.get("targets"), dict):
        raise InputError(path, "targets", found=type(data.get("targets") if isinstance(data, dict) else data).__name__,
                         expected="an object {backbone: {target: entry}} (python -m hmr_bench.bench.targets)")
    meta = data.get("provenance") if isinstance(data.get("provenance"), dict) else {}
    bad = [bb for bb, per in data["targets"].items() if per is not None and not isinstance(per, dict)]
    if bad or not isinstance(data.get("gpu") or {}, dict):
        raise InputError(path, f"targets.{bad[0]}" if bad else "gpu", found=type(data["targets"][bad[0]] if bad
                                                                                  else data["gpu"]).__name__,
                         expected="an object {target: entry}")
    entries = [(bb, name, e) for bb, per in data["targets"].items() for name, e in (per or {}).items()]
    entries += [(e.get("backbone", "resnet50") if isinstance(e, dict) else "resnet50", name, e)
                for name, e in (data.get("gpu") or {}).items()]
    rows = []
    for bb, name, e in entries:
        what = TARGET_TEXT.get(name, name)
        if not isinstance(e, dict) or _num(e.get("measured")) is None:  # shown as "not measured", with why
            found = repr(e.get("measured") if isinstance(e, dict) else e)[:80]
            rows.append({"backbone": str(bb), "name": str(name), "what": what, "measured": None, "target": None,
                         "met": None, "batch": e.get("batch") if isinstance(e, dict) else None, "detail": {},
                         "error": f"targets.{bb}.{name}.measured: {found}, expected a finite number"})
            continue
        skip = {"measured", "target", "met", "backbone"}
        detail = {k: (v if not isinstance(v, dict) else {kk: vv for kk, vv in v.items() if _num(vv) is not None})
                  for k, v in e.items() if k not in skip and (_num(v) is not None or isinstance(v, dict))}
        met = e.get("met") if isinstance(e.get("met"), bool) else None
        rows.append({"backbone": str(bb), "name": str(name), "what": what, "measured": float(e["measured"]),
                     "target": e.get("target"), "met": met, "batch": e.get("batch"), "detail": detail,
                     "error": None})
    return {"file": path.name, "prov": provenance({}, meta), "settings": data.get("settings") or {},
            "rounds": data.get("rounds"), "warmup": data.get("warmup"), "entries": rows,
            "cpu_settings": data.get("cpu_settings")}


def load_speed(folder: str | Path | None = None) -> Speed:
    """Every benchmark file of `folder` (default `paths.bench_dir()`), sorted into the page's
    sections; an empty `Speed` when there is none. A file that is not in its format raises InputError naming it."""
    from hmr_bench.paths import bench_dir

    folder = Path(folder if folder is not None else bench_dir())
    speed = Speed(folder)
    seen: set[tuple] = set()
    for path in sorted(folder.glob("hmr_bench_*.json")):
        data = _read(path, "a JSON object {'provenance': ..., 'results': [...]} (hmr_bench.bench.results)")
        if not isinstance(data, dict) or not isinstance(data.get("results"), list):
            raise InputError(path, "results", found=type(data).__name__ if not isinstance(data, dict) else
                             type(data.get("results")).__name__, expected="a list of benchmark rows")
        meta = data.get("provenance") if isinstance(data.get("provenance"), dict) else {}
        speed.files.append(path.name)
        for i, rec in enumerate(data["results"]):
            if not isinstance(rec, dict):
                raise InputError(path, f"results[{i}]", found=type(rec).__name__, expected="an object (a row)")
            kind = _kind(rec)
            if kind == "inference":
                row = _inference_row(rec, meta, path.name)
                if row is not None:
                    speed.inference.append(row)
                    seen.add(_key(rec))
            elif kind == "training":
                speed.training.append(_training_row(rec, meta, path.name))
            elif kind == "data":
                speed.data.append(_data_row(rec, meta, path.name))
            elif kind == "cost":
                speed.cost.append(_cost_row(rec, path.name))
    records = load_bench(folder)
    if records is not None:
        speed.files.append(BENCH_FILE)
        for rec in records:  # Table 4's records not already among a full file's rows
            if _key(rec) in seen:
                continue
            row = _inference_row(rec, None, BENCH_FILE)
            if row is not None:
                speed.inference.append(row)
    for path in sorted(folder.glob("targets_*.json")):
        speed.targets.append(_targets(path))
        speed.files.append(path.name)
    speed.inference.sort(key=lambda r: (r["backbone"], INFERENCE_SCOPES.index(r["scope"])
                                        if r["scope"] in INFERENCE_SCOPES else 9, r["mode"], r["batch"], r["device"],
                                        r["num_rois"]))
    return speed


def backbone_panels(series: list[Series]) -> dict[str, list[Series]]:
    """The inference series grouped by backbone, one group per backbone with data: in the benchmark plan's order
    (`bench.plan.BACKBONES`), backbones the plan does not name after them in name order; within a group the
    series keep their order."""
    from hmr_bench.bench.plan import BACKBONES

    groups: dict[str, list[Series]] = {}
    for s in series:
        groups.setdefault(s.backbone, []).append(s)
    order = sorted(groups, key=lambda b: (BACKBONES.index(b), "") if b in BACKBONES else (len(BACKBONES), b))
    return {b: groups[b] for b in order}


def fmt(x, pct: bool = False) -> str:
    """A measured figure as text: '410', '97.3', '0.511' (three or more significant digits), '27.4 %' with
    `pct` (a share), '–' for None / NaN."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    if pct:
        return f"{100 * x:.1f} %"
    ax = abs(x)
    return f"{x:.0f}" if ax >= 100 else f"{x:.1f}" if ax >= 10 else f"{x:.3g}"


def breakdown_parts(rows: list[dict]) -> list[str]:
    """The parts of the training steps' breakdowns (sums such as 'forward' and 'total' left out), in first-seen
    order."""
    parts: dict[str, None] = {}
    for r in rows:
        for k in r["breakdown_ms"]:
            if k not in BREAKDOWN_AGGREGATES:
                parts.setdefault(k)
    return list(parts)


def step_label(r: dict) -> str:
    """A training row's name: backbone, M, batch, mode, scope (with its workers), device label, e.g.
    'cnn-small M5 b32 crops train-step · cpu (AMD EPYC 7B13, 2 threads) · fp32 · contiguous'."""
    workers = f" ({r['workers']} workers)" if r.get("workers") is not None else ""
    return (f"{r['backbone']} M{r['num_rois']} b{r['batch']} {r['mode']} {r['scope']}{workers}"
            f" · {r.get('device') or '?'}")


def step_labels(rows: list[dict]) -> list[str]:
    """`step_label` of each row, made distinct: a label that several rows share gets their file name (and then
    their position) after it."""
    from collections import Counter

    labels = [step_label(r) for r in rows]
    shared = Counter(labels)
    labels = [f"{lab} · {r.get('source') or '?'}" if shared[lab] > 1 else lab for lab, r in zip(labels, rows)]
    shared, seen = Counter(labels), Counter()
    for i, lab in enumerate(labels):
        if shared[lab] > 1:
            seen[lab] += 1
            labels[i] = f"{lab} #{seen[lab]}"
    return labels


__all__ = ["NOT_MEASURED", "TARGETS_NOT_MEASURED", "Series", "Speed", "breakdown_parts", "fmt", "load_speed",
           "provenance", "step_label", "step_labels"]
