"""bench.timing (fake clock), bench.results (pytest-benchmark JSON → the report's bench_results.json, merging,
provenance tags) and bench.plan (cases per scale)."""

import json

import pytest
import torch

from hmr_bench.bench import plan
from hmr_bench.bench.results import (
    device_label,
    inference_info,
    merge_records,
    records_from_pytest_benchmark,
    tag,
    write_results,
)
from hmr_bench.bench.timing import Timing, synced, time_fn
from hmr_bench.errors import InputError
from hmr_bench.report.bench import BENCH_FILE, fps_series, load_bench


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
def _cfg(**kw):
    from hmr_bench.bench.inputs import bench_config

    return bench_config("cnn-tiny", **kw)


def _bench(name, info, median, group="inference"):
    return {"name": name, "fullname": f"benchmarks/x.py::{name}", "group": group, "extra_info": info,
            "stats": {"min": median, "max": median, "mean": median, "median": median, "stddev": 0.0, "rounds": 3,
                      "iterations": 1}}


def _saved(records):
    return {"machine_info": {}, "benchmarks": records}


def test_inference_info_names_and_table4_flag():
    info = inference_info(_cfg(num_rois=5), "cpu", "end-to-end", 32)
    assert info["name"] == "multiroi-M5" and info["num_rois"] == 5 and info["batch"] == 32
    assert info["table4"] is True and info["device"].startswith("cpu (")
    assert info["device"].endswith("· fp32 · contiguous")
    shared = inference_info(_cfg(num_rois=3, shared=True), "cpu", "end-to-end", 1)
    assert shared["name"] == "multiroi-shared-M3" and shared["table4"] is False
    assert inference_info(_cfg(), "cpu", "backbone", 1)["table4"] is False


def test_device_label_carries_precision_layout_and_compile():
    label = device_label("cpu", _cfg(channels_last=True, compile=True))
    assert label.endswith(" · fp32 · channels_last · compiled")
    assert f"{torch.get_num_threads()} thread" in label


def test_records_from_pytest_benchmark():
    info = inference_info(_cfg(num_rois=5), "cpu", "end-to-end", 32)
    other = inference_info(_cfg(num_rois=5), "cpu", "backbone", 32)
    data = _saved([_bench("a", info, 0.25), _bench("b", other, 0.1), _bench("c", {"image_per_s": 9.0}, 1.0, "data")])
    table4, rows = records_from_pytest_benchmark(data)
    assert len(table4) == 1 and len(rows) == 3
    rec = table4[0]
    assert rec["samples_per_s"] == 128.0 and rec["latency_ms"] == 250.0  # 32 samples / 0.25 s
    assert {k: rec[k] for k in ("name", "num_rois", "backbone", "batch")} == {
        "name": "multiroi-M5", "num_rois": 5, "backbone": "cnn-tiny", "batch": 32}
    assert rows[2]["image_per_s"] == 9.0 and rows[2]["stats_s"]["median"] == 1.0
    with pytest.raises(InputError, match="benchmarks"):
        records_from_pytest_benchmark({"machine_info": {}})


def test_written_file_is_what_the_report_reads(tmp_path):
    recs = []
    for M, median in ((1, 0.5), (5, 0.8)):
        info = inference_info(_cfg(num_rois=M), "cpu", "end-to-end", 4)
        recs.append(_bench(f"M{M}", info, median))
    table4, rows = records_from_pytest_benchmark(_saved(recs))
    meta = {"device": "cpu", "device_name": "AMD EPYC 7B13", "precision": "fp32", "memory_format": "contiguous",
            "torch": "2.13.0+cpu"}
    written = write_results(table4, rows, tmp_path, meta)
    assert [p.name for p in written] == [BENCH_FILE, "hmr_bench_cpu-amd-epyc-7b13_fp32_contiguous_torch2.13.0-cpu.json"]
    series = fps_series(load_bench(tmp_path))
    assert len(series) == 1 and series[0].fps == {1: 8.0, 5: 5.0} and series[0].batch == 4
    full = json.loads(written[1].read_text())
    assert full["provenance"] == meta and len(full["results"]) == 2


def test_results_merge_by_key(tmp_path):
    info = inference_info(_cfg(num_rois=5), "cpu", "end-to-end", 4)
    first, _ = records_from_pytest_benchmark(_saved([_bench("a", info, 1.0)]))
    again, _ = records_from_pytest_benchmark(_saved([_bench("a", info, 0.5)]))
    other_batch, _ = records_from_pytest_benchmark(_saved([_bench("a", {**info, "batch": 8}, 1.0)]))
    merged = merge_records(merge_records(first, other_batch), again)
    assert sorted((r["batch"], r["samples_per_s"]) for r in merged) == [(4, 8.0), (8, 8.0)]
    write_results(first + other_batch, [], tmp_path)
    write_results(again, [], tmp_path)
    assert sorted((r["batch"], r["samples_per_s"]) for r in load_bench(tmp_path)) == [(4, 8.0), (8, 8.0)]


def test_unreadable_results_file_is_an_input_error(tmp_path):
    (tmp_path / BENCH_FILE).write_text("{not json")
    with pytest.raises(InputError, match="bench_results.json"):
        write_results([{"name": "x"}], [], tmp_path)


def test_tag_slug():
    prov = {"device": "cuda", "device_name": "NVIDIA H100 80GB HBM3", "precision": "bf16",
            "memory_format": "channels_last", "torch": "2.13.0", "compile": True}
    assert tag(prov) == "cuda-nvidia-h100-80gb-hbm3_bf16_channels-last_torch2.13.0_compiled"


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


def test_results_cli_converts_a_saved_file(tmp_path, capsys):
    from hmr_bench.bench.results import main

    info = inference_info(_cfg(num_rois=2), "cpu", "end-to-end", 1)
    meta = {"device": "cpu", "device_name": "Test CPU", "precision": "fp32", "memory_format": "contiguous",
            "torch": "9.9"}
    saved = tmp_path / "0001_run.json"
    saved.write_text(json.dumps({"machine_info": {"hmr_bench": meta}, "benchmarks": [_bench("a", info, 0.02)]}))
    assert main([str(saved), "--bench-dir", str(tmp_path / "out")]) == 0
    assert load_bench(tmp_path / "out")[0]["samples_per_s"] == 50.0
    assert (tmp_path / "out" / "hmr_bench_cpu-test-cpu_fp32_contiguous_torch9.9.json").is_file()
    assert "bench_results.json" in capsys.readouterr().out


def test_fps_series_keeps_only_end_to_end_crops_records():
    """Table 4's FPS is end-to-end inference of the separate-crops model: a backbone-only or shared-mode record of
    the same backbone, device and batch must not replace it (hand-written records, numbers chosen apart)."""
    from hmr_bench.report.bench import fps_series

    base = {"backbone": "resnet50", "device": "cpu", "batch": 4, "num_rois": 5}
    records = [base | {"name": "multiroi-M5", "samples_per_s": 1.5, "scope": "end-to-end", "mode": "crops"},
               base | {"name": "multiroi-shared-M5", "samples_per_s": 3.0, "scope": "end-to-end", "mode": "shared"},
               base | {"name": "multiroi-M5", "samples_per_s": 9.0, "scope": "backbone", "mode": "crops"}]
    (series,) = fps_series(records)
    assert series.fps == {5: 1.5}


def test_unreadable_earlier_results_file_is_an_error_not_overwritten(tmp_path):
    from hmr_bench.bench.results import tag, write_results
    from hmr_bench.errors import InputError

    meta = {"device": "cpu", "precision": "fp32", "memory_format": "contiguous", "torch": "2.13.0"}
    path = tmp_path / f"hmr_bench_{tag(meta)}.json"
    path.write_text("[1, 2")  # truncated JSON
    with pytest.raises(InputError, match="unreadable earlier results"):
        write_results([], [{"benchmark": "x", "value": 1}], tmp_path, meta)
    assert path.read_text() == "[1, 2"


# ------------------------------------------------------------------------------------------------ concurrent writers
def _append_records(folder: str, writer: int, n: int, start) -> None:
    """A benchmark process: waits for the others, then writes `n` records (and rows) one call at a time."""
    start.wait(timeout=120)
    meta = {"device": "cpu", "device_name": "Test CPU", "precision": "fp32", "memory_format": "contiguous",
            "torch": "9.9"}
    for i in range(n):
        rec = {"name": f"w{writer}-{i}", "backbone": "cnn-tiny", "batch": 1, "device": "cpu", "scope": "end-to-end",
               "samples_per_s": float(i)}
        write_results([rec], [{"benchmark": f"w{writer}-{i}", "value": i}], folder, meta)


def test_two_processes_writing_at_once_lose_no_record(tmp_path):
    """Two spawned processes append 25 records each through `write_results` at the same time: every read-merge-write
    holds the file's lock, so both files end with all 50 (distinct keys) and are valid JSON."""
    import multiprocessing as mp

    from hmr_bench.bench.results import tag

    n = 25
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(2)
    procs = [ctx.Process(target=_append_records, args=(str(tmp_path), k, n, start)) for k in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    hung = [k for k, p in enumerate(procs) if p.is_alive()]
    for p in procs:  # a writer stuck on the lock must not outlive the test
        if p.is_alive():
            p.terminate()
            p.join(timeout=10)
    assert not hung, f"writer(s) {hung} still running after 300 s (killed)"
    assert [p.exitcode for p in procs] == [0, 0]
    expected = {f"w{k}-{i}" for k in range(2) for i in range(n)}
    records = json.loads((tmp_path / BENCH_FILE).read_text())
    assert len(records) == 2 * n and {r["name"] for r in records} == expected
    meta = {"device": "cpu", "device_name": "Test CPU", "precision": "fp32", "memory_format": "contiguous",
            "torch": "9.9"}
    full = json.loads((tmp_path / f"hmr_bench_{tag(meta)}.json").read_text())
    assert len(full["results"]) == 2 * n and {r["benchmark"] for r in full["results"]} == expected
