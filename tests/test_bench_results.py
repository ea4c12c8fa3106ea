"""bench.timing (fake clock), bench.results (the speed-record format: records, pytest-benchmark JSON → one file
per run → the frame, latest run wins, errors), bench.targets' records and verdicts, and bench.plan (cases per
scale)."""

import json
import math

import pytest
import torch

from hmr_bench.bench import plan
from hmr_bench.bench.results import (
    inference_info,
    read_records,
    records,
    records_from_pytest_benchmark,
    run_id,
    speed_frame,
    tag,
    unit_of,
    write_records,
)
from hmr_bench.bench.timing import Timing, synced, time_fn
from hmr_bench.errors import InputError


# ------------------------------------------------------------------------------------------------ timing
def test_time_fn_times_rounds_after_warmup():
    ticks = iter([0.0, 0.5, 1.0, 1.25, 2.0, 4.0])  # three rounds: 0.5, 0.25, 2.0 s
    calls = []
    t = time_fn(lambda: calls.append(1), rounds=3, warmup=2, clock=lambda: next(ticks))
    assert len(calls) == 5 and t.times == (0.5, 0.25, 2.0)
    assert t.median_s == 0.5 and t.min_s == 0.25 and t.mean_s == pytest.approx(2.75 / 3)
    assert t.rate(items=32) == 64.0


def test_timing_std_and_dict():
    t = Timing((1.0, 3.0))
    assert t.std_s == pytest.approx(2 ** 0.5) and Timing((1.0,)).std_s == 0.0
    assert t.as_dict(items=4)["items_per_s"] == 2.0


def test_time_fn_rejects_bad_rounds():
    with pytest.raises(InputError, match="rounds"):
        time_fn(lambda: None, rounds=0)
    with pytest.raises(InputError, match="warmup"):
        time_fn(lambda: None, rounds=1, warmup=-1)


def test_synced_returns_the_result():
    assert synced(lambda: 7, "cpu")() == 7


# ------------------------------------------------------------------------------------------------ results
PROV = {"device": "cpu", "device_name": "Test CPU", "precision": "fp32", "memory_format": "contiguous",
        "compile": False, "threads": 2, "torch": "9.9", "date": "2026-01-02T03:04:05+00:00"}


def _cfg(**kw):
    from hmr_bench.bench.inputs import bench_config

    return bench_config("cnn-tiny", **kw)


def _bench(name, recs):
    return {"name": name, "fullname": f"benchmarks/x.py::{name}", "group": "g", "stats": {"median": 1.0},
            "extra_info": {"records": recs}}


def test_inference_info_names_the_case_and_its_settings():
    info = inference_info(_cfg(num_rois=5, channels_last=True), "cpu", "end-to-end", 32)
    assert (info["name"], info["num_rois"], info["batch"], info["mode"]) == ("multiroi-M5", 5, 32, "crops")
    assert (info["device"], info["precision"], info["memory_format"]) == ("cpu", "fp32", "channels_last")
    assert info["threads"] == torch.get_num_threads() and info["union_crop"] is None
    shared = inference_info(_cfg(num_rois=3, shared=True), "cpu", "backbone", 1)
    assert (shared["name"], shared["mode"], shared["scope"]) == ("multiroi-shared-M3", "shared", "backbone")


def test_units():
    assert [unit_of(f) for f in ("samples_per_s", "backbone_fwd_bwd_samples_per_s", "image_per_s", "latency_ms",
                                 "ms_per_image", "cpu_ms_per_sample", "first_chunk_s", "step_vs_backbone", "params",
                                 "gmacs_per_sample")] == [
        "samples/s", "samples/s", "image/s", "ms", "ms", "ms", "s", "ratio", "parameters", "GMACs"]


def test_records_are_long_rows_with_the_case_on_each():
    info = {**PROV, "scope": "target", "crop_size": [48, 64], "nested": {"x": 1}, "target": "shared_scaling",
            "op": "≤", "bound": 1.5, "met": True}
    recs = records(info, {"shared_scaling": 1.2, "ms": {"shared_M1": 10.0, "shared_M5": 12.0}, "flag": True})
    assert [(r["figure"], r["part"], r["value"]) for r in recs] == [
        ("shared_scaling", None, 1.2), ("ms", "shared_M1", 10.0), ("ms", "shared_M5", 12.0)]  # a bool is no figure
    assert all(r["crop_size"] == "48x64" and "nested" not in r and r["device_name"] == "Test CPU" for r in recs)
    assert (recs[0]["op"], recs[0]["bound"], recs[0]["met"]) == ("≤", 1.5, True)  # the verdict: its figure only
    assert not any(k in r for r in recs[1:] for k in ("op", "bound", "met"))


def test_a_run_written_and_read_back(tmp_path):
    """pytest-benchmark JSON → records → speed_<run>.jsonl → frame: the hand-given values come back with their
    case and provenance; the run's provenance fills what a record lacks, a record's own fields win."""
    inf = records({**PROV, "scope": "end-to-end", "backbone": "cnn-tiny", "num_rois": 5, "batch": 32, "mode": "crops"},
                  {"samples_per_s": 128.0, "latency_ms": 250.0})  # 32 samples / 0.25 s
    cost = records({"scope": "cost", "backbone": "cnn-tiny", "precision": None}, {"params": {"total": 1234567}})
    data = {"datetime": "2026-01-02T03:04:05.5+00:00", "machine_info": {"hmr_bench": {**PROV, "threads": 1}},
            "benchmarks": [_bench("test_inference[a]", inf), _bench("test_params_macs[b]", cost),
                           {"name": "old", "extra_info": {"samples_per_s": 1.0}}]}  # no records: nothing
    recs = records_from_pytest_benchmark(data)
    run = run_id("bench", PROV, data["datetime"])
    assert run == "20260102T030405_bench_cpu-test-cpu_fp32_contiguous_torch9.9"
    path = write_records(recs, run, tmp_path)
    assert path == tmp_path / f"speed_{run}.jsonl" and len(path.read_text().splitlines()) == 3
    frame = speed_frame(tmp_path)
    assert len(frame) == 3 and set(frame["run"]) == {run}
    got = frame.set_index(["benchmark", "figure"])
    assert got.loc[("test_inference[a]", "samples_per_s"), "value"] == 128.0
    assert got.loc[("test_inference[a]", "latency_ms"), "unit"] == "ms"
    assert got.loc[("test_inference[a]", "latency_ms"), "threads"] == 2  # the record's own, not the run's 1
    params = got.loc[("test_params_macs[b]", "params")]
    assert (params["part"], params["value"], params["threads"], params["device_name"]) == ("total", 1234567.0, 1,
                                                                                           "Test CPU")
    assert params["precision"] is None or math.isnan(params["precision"])  # the record's None wins over fp32
    assert str(frame["batch"].dtype) == "Int64" and frame["batch"].dropna().tolist() == [32, 32]
    assert write_records([], run, tmp_path) is None


def test_the_latest_run_of_a_figure_wins(tmp_path):
    case = {**PROV, "benchmark": "test_inference[a]", "scope": "end-to-end"}
    write_records(records(case, {"samples_per_s": 10.0, "latency_ms": 1.0}), "20260101T000000_bench_x", tmp_path)
    write_records(records(case, {"samples_per_s": 20.0}), "20260201T000000_bench_x", tmp_path)
    write_records(records({**case, "torch": "8.0"}, {"samples_per_s": 5.0}), "20260301T000000_bench_y", tmp_path)
    frame = speed_frame(tmp_path)
    got = {(r.torch, r.figure): (r.value, r.run[:8]) for r in frame.itertuples()}
    assert got == {("9.9", "samples_per_s"): (20.0, "20260201"), ("9.9", "latency_ms"): (1.0, "20260101"),
                   ("8.0", "samples_per_s"): (5.0, "20260301")}  # another torch: another figure
    assert len(speed_frame(tmp_path, latest=False)) == 4
    assert speed_frame(tmp_path / "none").empty


def test_bad_record_files_are_input_errors(tmp_path):
    good = json.dumps({"figure": "x", "value": 1.0})
    (tmp_path / "speed_a.jsonl").write_text(good + "\n{not json\n")
    with pytest.raises(InputError, match=r"speed_a.jsonl: field 'line 2': found unreadable JSON"):
        speed_frame(tmp_path)
    (tmp_path / "speed_a.jsonl").write_text(good + "\n" + json.dumps({"figure": "x", "value": "fast"}) + "\n")
    with pytest.raises(InputError, match=r"field 'line 2'.*expected a record"):
        read_records(tmp_path / "speed_a.jsonl")
    with pytest.raises(InputError, match="benchmarks"):
        records_from_pytest_benchmark({"machine_info": {}})


def test_tag_slug():
    prov = {"device": "cuda", "device_name": "NVIDIA H100 80GB HBM3", "precision": "bf16",
            "memory_format": "channels_last", "torch": "2.13.0", "compile": True}
    assert tag(prov) == "cuda-nvidia-h100-80gb-hbm3_bf16_channels-last_torch2.13.0_compiled"


def test_results_cli_converts_a_saved_file(tmp_path, capsys):
    from hmr_bench.bench.results import main

    recs = records({"scope": "end-to-end", "backbone": "cnn-tiny", "num_rois": 2, "batch": 1, "mode": "crops"},
                   {"samples_per_s": 50.0})
    saved = tmp_path / "0001_run.json"
    saved.write_text(json.dumps({"datetime": "2026-03-04T05:06:07+00:00", "machine_info": {"hmr_bench": PROV},
                                 "benchmarks": [_bench("test_inference[x]", recs)]}))
    assert main([str(saved), "--bench-dir", str(tmp_path / "out")]) == 0
    path = tmp_path / "out" / "speed_20260304T050607_bench_cpu-test-cpu_fp32_contiguous_torch9.9.jsonl"
    assert capsys.readouterr().out.strip() == str(path)
    (rec,) = read_records(path)
    assert (rec["benchmark"], rec["value"], rec["device_name"]) == ("test_inference[x]", 50.0, "Test CPU")
    saved.write_text(json.dumps({"benchmarks": [{"name": "a", "extra_info": {}}]}))
    with pytest.raises(InputError, match="records"):
        main([str(saved), "--bench-dir", str(tmp_path / "out")])


# ------------------------------------------------------------------------------------------------ targets
def _targets_result(device: str) -> dict:
    """A `run_targets` result with hand-chosen values (nothing measured)."""
    from hmr_bench.bench.targets import _entry

    case = {"backbone": "cnn-small", "batch": 32, "num_rois": 5}
    return {"provenance": {**PROV, "device": device}, "settings": {}, "rounds": 3, "warmup": 1, "targets": {
        "cnn-small": {"inference_overhead": _entry("inference_overhead", 0.12, device, **case,
                                                   parts_ms={"backbone": 88.0, "head": 12.0}),
                      "train_vs_backbone": _entry("train_vs_backbone", 0.80, device, **case, step_ms=100.0),
                      "shared_scaling": _entry("shared_scaling", float("nan"), device, backbone="cnn-small",
                                               batch=32, union_crop=[96, 128])}}}


@pytest.mark.parametrize("device, verdicts", [
    ("cpu", {"inference_overhead": True, "train_vs_backbone": True, "shared_scaling": None}),  # 0.12 ≤ 0.15, 0.8 ≥ 0.75
    ("cuda", {"inference_overhead": False, "train_vs_backbone": False, "shared_scaling": None}),  # > 0.05, < 0.85
])
def test_target_records_carry_bound_and_verdict(device, verdicts):
    from hmr_bench.bench.targets import summary_lines, target_records

    recs = target_records(_targets_result(device))
    main = {r["target"]: r for r in recs if r["figure"] == r["target"]}
    assert {n: r["met"] for n, r in main.items()} == verdicts  # NaN: measured nothing, no verdict
    bounds = {"cpu": (0.15, 0.75), "cuda": (0.05, 0.85)}[device]
    assert (main["inference_overhead"]["op"], main["inference_overhead"]["bound"]) == ("≤", bounds[0])
    assert (main["train_vs_backbone"]["op"], main["train_vs_backbone"]["bound"]) == ("≥", bounds[1])
    assert main["inference_overhead"]["value"] == 0.12 and main["shared_scaling"]["union_crop"] == "96x128"
    details = {(r["figure"], r["part"]): r["value"] for r in recs if r["target"] == "inference_overhead"
               and r["figure"] != "inference_overhead"}
    assert details == {("parts_ms", "backbone"): 88.0, ("parts_ms", "head"): 12.0}
    assert all(r["scope"] == "target" and r["rounds"] == 3 and r["batch"] == 32 for r in recs)
    lines = summary_lines(recs)
    assert len(lines) == 3 and lines[0].split()[:3] == ["cnn-small", "inference_overhead", "0.12"]
    assert lines[0].endswith("met" if device == "cpu" else "NOT met")


# ------------------------------------------------------------------------------------------------ plan
def test_tiny_plan_is_small():
    cases = plan.inference_cases("tiny")
    assert {c.backbone for c in cases} == {"cnn-tiny"} and max(c.num_rois for c in cases) == 2
    assert max(c.batch for c in cases) == 2 and plan.rounds("tiny") == (1, 0)


def test_full_plan_covers_the_issue():
    cases = plan.inference_cases("full")
    for bb in plan.BACKBONES:
        ms = {c.num_rois for c in cases if c.backbone == bb and c.batch == 32 and c.scope == "end-to-end"}
        assert ms == set(range(1, 9))  # Table 4's rows
    assert plan.Case("resnet50", 5, 64) in cases
    assert {c.scope for c in cases} == {"backbone", "model", "end-to-end"}


def test_cost_cases_respect_hrnet_size_multiple():
    crops = {c.crop_size for c in plan.cost_cases("quick", ["hrnet_w32"])}
    assert crops == {(96, 128), (192, 256)}
    assert (48, 64) in {c.crop_size for c in plan.cost_cases("quick", ["resnet18"])}


def test_plan_rejects_unknown_names():
    with pytest.raises(InputError, match="resnet50"):
        plan.inference_cases("quick", ["resnet5O"])
    with pytest.raises(InputError, match="tiny, quick, full"):
        plan.training_cases("huge")
