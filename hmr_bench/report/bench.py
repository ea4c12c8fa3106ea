"""Inference-speed results for Table 4, read from ``<bench dir>/bench_results.json`` (written by the speed
benchmarks; default folder ``<repo>/.benchmarks``): a JSON list of records

    {"name": "multiroi-M5", "num_rois": 5, "backbone": "resnet50", "batch": 1, "samples_per_s": 55.2,
     "device": "cuda (NVIDIA H100)", ...}

(extra keys are kept). samples_per_s is the inference FPS: one sample = one person with its M RoI crops.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from hmr_bench.errors import InputError

BENCH_FILE = "bench_results.json"
REQUIRED = {"name": str, "num_rois": int, "backbone": str, "batch": int, "samples_per_s": (int, float), "device": str}
NOT_MEASURED = "not measured — run `nox -s bench`"


def default_bench_dir() -> Path:
    from hmr_bench.tables import REPO_DIR

    return REPO_DIR / ".benchmarks"


def load_bench(folder: str | Path | None = None) -> list[dict] | None:
    """The records of `folder`/bench_results.json (default folder: `default_bench_dir()`), or None when there is
    no such file. A file that is not a list of valid records raises InputError naming the record and field."""
    path = Path(folder if folder is not None else default_bench_dir()) / BENCH_FILE
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
    left out) grouped by (backbone, device, batch), sorted by those."""
    groups: dict[tuple, dict[int, float]] = defaultdict(dict)
    for r in records:
        if r.get("scope", "end-to-end") != "end-to-end" or r.get("mode", "crops") != "crops":
            continue
        groups[(r["backbone"], r["device"], r["batch"])][r["num_rois"]] = float(r["samples_per_s"])
    return [FpsSeries(b, d, n, dict(sorted(f.items()))) for (b, d, n), f in sorted(groups.items())]
