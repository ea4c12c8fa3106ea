"""Inference-speed results for Table 4, read from ``<bench dir>/bench_results.json`` (written by the speed
benchmarks; default folder ``<repo>/.benchmarks``): a JSON list of records

    {"name": "multiroi-M5", "num_rois": 5, "backbone": "resnet50", "batch": 1, "samples_per_s": 55.2,
     "device": "cuda (NVIDIA H100)", ...}

(extra keys are kept). samples_per_s is the inference FPS: one sample = one person with its M RoI crops.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from hmr_bench.errors import InputError
from hmr_bench.paths import BENCH_FILE, bench_dir

REQUIRED = {"name": str, "num_rois": int, "backbone": str, "batch": int, "samples_per_s": (int, float), "device": str}
NOT_MEASURED = "not measured — run `nox -s bench`"
INFERENCE_SCOPES = ("backbone", "model", "end-to-end")


def load_bench(folder: str | Path | None = None) -> list[dict] | None:
    """The records of `folder`/bench_results.json (default folder: `paths.bench_dir()`), or None when there is
    no such file. A file that is not a list of valid records raises InputError naming the record and field."""
    path = Path(folder if folder is not None else bench_dir()) / BENCH_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise InputError(path, found=f"unreadable JSON ({e})", expected="a JSON list of benchmark records") from None
    if not isinstance(data, list):
        raise InputError(path, found=type(data).__name__, expected="a JSON list of benchmark records")
    for i, rec in enumerate(data):
        if not isinstance(rec, dict):
            raise InputError(path, f"[{i}]", found=type(rec).__name__, expected="an object (a record)")
        for key, typ in REQUIRED.items():
            v = rec.get(key)
            if not isinstance(v, typ) or isinstance(v, bool):
                raise InputError(path, f"[{i}].{key}", found=repr(v), expected=f"a {_type_name(typ)}")
        if rec["num_rois"] < 1 or rec["batch"] < 1 or not 0 < rec["samples_per_s"] < math.inf:
            raise InputError(path, f"[{i}]", found=f"num_rois {rec['num_rois']}, batch {rec['batch']}, samples_per_s "
                             f"{rec['samples_per_s']}", expected="num_rois ≥ 1, batch ≥ 1, samples_per_s > 0")
    return data


def _type_name(typ) -> str:
    return "number" if isinstance(typ, tuple) else {str: "string", int: "integer"}[typ]


@dataclass
class Series:
    """Inference of one (backbone, scope, mode, batch, device label) against M: {M: samples/s}, {M: ms}."""

    backbone: str
    scope: str
    mode: str
    batch: int
    device: str
    rate: dict[int, float] = field(default_factory=dict)
    latency: dict[int, float] = field(default_factory=dict)

    def label(self, with_device: bool = False) -> str:
        text = f"{self.backbone} · {self.scope} · {self.mode} · batch {self.batch}"
        return text + (f" · {self.device}" if with_device else "")


def inference_series(records: list[dict]) -> list[Series]:
    """Inference records (bench_results.json's, or the speed page's rows: backbone, num_rois, batch, device,
    samples_per_s; scope default end-to-end, mode default crops, latency_ms optional) grouped by (backbone, scope,
    mode, batch, device) into series against M (the last record wins where an M repeats), sorted by backbone,
    scope (`INFERENCE_SCOPES` order), mode, batch, device."""
    groups: dict[tuple, Series] = {}
    for r in records:
        key = (r["backbone"], r.get("scope", "end-to-end"), r.get("mode", "crops"), r["batch"], r["device"])
        s = groups.setdefault(key, Series(*key))
        s.rate[r["num_rois"]] = float(r["samples_per_s"])
        if r.get("latency_ms") is not None:
            s.latency[r["num_rois"]] = float(r["latency_ms"])
    order = sorted(groups, key=lambda k: (k[0], INFERENCE_SCOPES.index(k[1]) if k[1] in INFERENCE_SCOPES else 9,
                                          *k[2:]))
    out = [groups[k] for k in order]
    for s in out:
        s.rate, s.latency = dict(sorted(s.rate.items())), dict(sorted(s.latency.items()))
    return out


@dataclass
class FpsSeries:
    """Inference FPS against the number of RoIs for one (backbone, device, batch): fps {M: samples/s} (the
    last record wins where a file repeats an M)."""

    backbone: str
    device: str
    batch: int
    fps: dict[int, float]

    @property
    def label(self) -> str:
        return f"{self.backbone} · {self.device} · batch {self.batch}"


def fps_series(records: list[dict]) -> list[FpsSeries]:
    """End-to-end, separate-crops records (what Table 4's FPS means; other scopes and the shared-backbone mode are
    left out) grouped by (backbone, device, batch), sorted by those: `inference_series` of those records."""
    out = [FpsSeries(s.backbone, s.device, s.batch, s.rate) for s in inference_series(records)
           if s.scope == "end-to-end" and s.mode == "crops"]
    return sorted(out, key=lambda f: (f.backbone, f.device, f.batch))
