"""The report's speed page and Table 4's FPS column: pandas views of the speed records of the bench folder
(`bench.results.speed_frame`: one row per measured figure with its case and provenance; the latest run's where
runs repeat a figure). Nothing is timed or recomputed here: every figure is the one its benchmark recorded.

    speed = load_speed(".benchmarks")
    speed.inference, .training, .data, .cost   one row per benchmark (`wide`): case, provenance, a column per
                                               figure ("samples_per_s", "breakdown_ms.backward")
    speed.targets                              per run: its provenance and its targets with their verdicts
    table4_fps(speed.frame)                    Table 4's FPS: end-to-end inference with separate crops

Files of the older formats (bench_results.json, hmr_bench_*.json, targets_*.json) are not read (the page lists
them as ignored): run `nox -s bench` or `python -m hmr_bench.bench.targets` again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from hmr_bench.bench.plan import BACKBONES
from hmr_bench.bench.results import speed_frame

NOT_MEASURED = "not measured — run `nox -s bench`"
TARGETS_NOT_MEASURED = "not measured — run `nox -s bench` or `python -m hmr_bench.bench.targets`"
OLD_FORMATS = ("bench_results.json", "hmr_bench_*.json", "targets_*.json")
INFERENCE_SCOPES = ("backbone", "model", "end-to-end")
TRAINING_SCOPES = ("train-step", "train-step+loader")
BREAKDOWN_AGGREGATES = ("forward", "total")  # sums of other parts of `training_step_breakdown`
RANK = {"backbone": {b: i for i, b in enumerate(BACKBONES)}, "scope": {s: i for i, s in enumerate(INFERENCE_SCOPES)}}


def _given(x):
    """x, or None for a missing value (None, NaN, pd.NA)."""
    return None if x is None or (not isinstance(x, str) and pd.isna(x)) else x


def where(r) -> str:
    """A record's device: "cpu (AMD EPYC 7B13)", "cuda (NVIDIA H100 80GB HBM3)", "cpu"."""
    name = _given(r.get("device_name"))
    return f"{_given(r.get('device')) or '?'}" + (f" ({name})" if name else "")


def device_label(r) -> str:
    """A record's device with its settings (a series of Table 4 and of the speed plot): "cpu (AMD EPYC 7B13,
    2 threads) · fp32 · contiguous", "cuda (NVIDIA H100 80GB HBM3) · bf16 · channels_last · compiled"."""
    name, threads = _given(r.get("device_name")), _given(r.get("threads"))
    inner = [str(name)] if name else []
    if _given(r.get("device")) == "cpu" and threads is not None:
        inner.append(f"{threads} thread{'s' if threads != 1 else ''}")
    head = f"{_given(r.get('device')) or '?'}" + (f" ({', '.join(inner)})" if inner else "")
    settings = [_given(r.get("precision")), _given(r.get("memory_format")), "compiled" if _given(r.get("compile"))
                else None]
    return " · ".join([head, *[s for s in settings if s]])


def wide(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (run, benchmark) of long records: the case and provenance (each column's first value), one
    column per figure ("figure.part" for a part), "where" and "label" (`device_label`)."""
    if rows.empty:
        return pd.DataFrame(columns=[*rows.columns, "where", "label"])
    column = rows["figure"].where(rows["part"].isna(), rows["figure"] + "." + rows["part"].astype(str))
    keys = ["run", "benchmark"]
    values = rows.assign(column=column).groupby([*keys, "column"], sort=False)["value"].last().unstack("column")
    info = rows.drop(columns=["figure", "part", "value", "unit", "op", "bound", "met"])
    out = info.groupby(keys, sort=False).first().join(values).reset_index()
    return out.assign(where=out.apply(where, axis=1), label=out.apply(device_label, axis=1))


def _sorted(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """`frame` sorted by `by`, backbones in the benchmark plan's order, scopes in `INFERENCE_SCOPES` order."""
    return frame.sort_values(by, key=lambda c: c.map(RANK[c.name]).fillna(len(RANK[c.name])) if c.name in RANK else c,
                             kind="stable")


def records(frame: pd.DataFrame, columns=()) -> list[dict]:
    """The rows of `frame` as dicts for a template, None for a missing value, every one of `columns` present."""
    frame = frame.reindex(columns=list(dict.fromkeys([*frame.columns, *columns])))
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def fmt(x, pct: bool = False) -> str:
    """A measured figure as text: '410', '97.3', '0.511' (three or more significant digits), '27.4 %' with
    `pct` (a share), '–' for None / NaN."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    if pct:
        return f"{100 * x:.1f} %"
    ax = abs(x)
    return f"{x:.0f}" if ax >= 100 else f"{x:.1f}" if ax >= 10 else f"{x:.3g}"


def _details(rows: pd.DataFrame) -> str:
    """A target's detail figures as text: "parts_ms backbone 12.3, fusion 1.2; end_to_end_ms 45.0"."""
    out = []
    for figure, g in rows.groupby("figure", sort=False):
        parts = [f"{p} {fmt(v)}" if _given(p) is not None else fmt(v) for p, v in zip(g["part"], g["value"])]
        out.append(f"{figure} {', '.join(parts)}")
    return "; ".join(out)


def _targets(frame: pd.DataFrame) -> list[dict]:
    """Per run (in run order): its provenance (the first target's record) and one entry per target: its record,
    "measured" (None unless finite) and "details" (`_details`)."""
    t = frame[frame["scope"] == "target"]
    main, rest = t[t["figure"] == t["target"]], t[t["figure"] != t["target"]]
    out = []
    for run, rows in main.groupby("run", sort=True):
        entries = records(rows.assign(where=rows.apply(where, axis=1)), ["note"])
        for e in entries:
            e["measured"] = e["value"] if e["value"] is not None and math.isfinite(e["value"]) else None
            e["details"] = _details(rest[(rest["run"] == run) & (rest["benchmark"] == e["benchmark"])])
        out.append({"run": run, "prov": entries[0], "entries": entries})
    return out


@dataclass
class Speed:
    """The speed page's sections from the records of `folder`: lists of dicts (see `load_speed`)."""

    folder: Path
    frame: pd.DataFrame
    inference: list[dict]
    training: list[dict]
    breakdown: pd.DataFrame  # step, part, ms
    data: list[dict]
    cost: list[dict]
    targets: list[dict]
    ignored: list[str]

    @property
    def empty(self) -> bool:
        return self.frame.empty

    @property
    def runs(self) -> list[str]:
        return sorted(set(self.frame["run"]))

    @property
    def parts(self) -> list[str]:
        return list(dict.fromkeys(self.breakdown["part"]))

    def target_counts(self) -> dict[str, int]:
        """{"met", "not met", "reported"} over every target with a finite measured value."""
        met = [e["met"] for t in self.targets for e in t["entries"] if e["measured"] is not None]
        return {"met": met.count(True), "not met": met.count(False), "reported": sum(m is None for m in met)}


def load_speed(folder: str | Path | None = None) -> Speed:
    """The speed page's sections from the speed records of `folder` (default `paths.bench_dir()`): inference
    (sorted by backbone, scope, mode, batch, device, M), training steps (with "step", a distinct label), their
    breakdown (long: step, part, ms; sums left out), data path, params/MACs, targets per run. A file that is not
    in the format raises InputError naming it."""
    from hmr_bench.paths import bench_dir

    folder = Path(folder if folder is not None else bench_dir())
    f = speed_frame(folder)
    inference = _sorted(wide(f[f["scope"].isin(INFERENCE_SCOPES)]),
                        ["backbone", "scope", "mode", "batch", "label", "num_rois"])
    training = wide(f[f["scope"].isin(TRAINING_SCOPES)])
    steps = training.apply(lambda r: f"{r['backbone']} M{r['num_rois']} b{r['batch']} {r['mode']} {r['scope']}"
                           + (f" ({r['workers']} workers)" if _given(r.get("workers")) is not None else "")
                           + f" · {r['label']}", axis=1) if len(training) else pd.Series(dtype=str)
    dup = steps.duplicated(keep=False)
    training["step"] = steps.where(~dup, steps + " · " + training["run"].astype(str))
    bd = f[f["scope"].isin(TRAINING_SCOPES) & (f["figure"] == "breakdown_ms") & ~f["part"].isin(BREAKDOWN_AGGREGATES)]
    step = dict(zip(zip(training["run"], training["benchmark"]), training["step"]))
    breakdown = pd.DataFrame({"step": [step[k] for k in zip(bd["run"], bd["benchmark"])], "part": list(bd["part"]),
                              "ms": list(bd["value"])})
    ignored = sorted(p.name for pattern in OLD_FORMATS for p in folder.glob(pattern))
    return Speed(folder, f, records(inference, ["samples_per_s", "latency_ms"]), records(training, [
        "samples_per_s", "step_ms", "backbone_fwd_bwd_samples_per_s", "step_vs_backbone", "outside_backbone_share",
        "data_wait_share", "workers", "breakdown_ms.total"]), breakdown,
        records(wide(f[f["scope"] == "data"]), ["image_per_s", "sample_per_s", "ms_per_image", "ms_per_sample",
                                               "cpu_ms_per_image", "cpu_ms_per_sample", "steady_image_per_s",
                                               "image_size"]),
        records(_sorted(wide(f[f["scope"] == "cost"]), ["backbone", "mode", "num_rois"]), [
            *(f"params.{p}" for p in ("total", "backbone", "fusion", "head", "projection")), "gmacs_per_sample",
            "backbone_mac_share"]), _targets(f), ignored)


def table4_fps(frame: pd.DataFrame) -> pd.DataFrame | None:
    """Table 4's FPS records of a speed frame: end-to-end inference with separate crops, samples/s per (series =
    backbone · device label · batch, M), the latest run's where several give one; columns name, num_rois, backbone,
    batch, samples_per_s, device, series. None without any."""
    f = frame[(frame["scope"] == "end-to-end") & (frame["mode"] == "crops") & (frame["figure"] == "samples_per_s")]
    if f.empty:
        return None
    f = f.assign(device=f.apply(device_label, axis=1), samples_per_s=f["value"])
    f = f.assign(series=f["backbone"] + " · " + f["device"] + " · batch " + f["batch"].astype(str))
    f = f.sort_values("run", kind="stable").drop_duplicates(["series", "num_rois"], keep="last")
    return f.sort_values(["backbone", "device", "batch", "num_rois"])[
        ["name", "num_rois", "backbone", "batch", "samples_per_s", "device", "series"]].reset_index(drop=True)
