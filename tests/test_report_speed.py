"""The report's speed page and Table 4's FPS from speed records written by the project's own writers: a
pytest-benchmark-shaped result (figures from hand-chosen median round times) through
`bench.results.records_from_pytest_benchmark` and `write_records`, an earlier run of some of the same figures, a
GPU run, and a targets run from a tiny real `bench.targets.run_targets` (plus a hand-chosen entry). The page must
show each figure as recorded (samples/s = batch / median, computed here), the latest run's where runs repeat one,
each record's provenance, the training step's share outside the backbone, the data-path and MACs rows, each
target's value, threshold and whether it is met; an old-format file is listed as not read; with no file every
section says "not measured" with the command that measures it; a malformed file names itself in the index."""

from __future__ import annotations

import argparse
import json
import re

import pandas as pd
import pytest

from hmr_bench.bench.results import records, records_from_pytest_benchmark, write_records
from hmr_bench.store import ResultsStore
from tests.html_elements import elements

PROV = {"device": "cpu", "device_name": "Test CPU 9000", "precision": "fp32", "memory_format": "contiguous",
        "compile": False, "threads": 1, "torch": "2.13.0+cpu", "git_sha": "abc1234",
        "date": "2026-01-02T03:04:05+00:00"}
LABEL = "cpu (Test CPU 9000, 1 thread) · fp32 · contiguous"
RUN = "20260102T030405_bench_cpu-test"
# (backbone, M, batch, scope, median round seconds)
INFERENCE = [("cnn-tiny", 1, 8, "end-to-end", 0.02), ("cnn-tiny", 3, 8, "end-to-end", 0.05),
             ("cnn-tiny", 5, 8, "end-to-end", 0.08), ("cnn-tiny", 1, 8, "backbone", 0.0125),
             ("cnn-small", 2, 4, "model", 0.04)]
GPU = {**PROV, "device": "cuda", "device_name": "NVIDIA H100 80GB HBM3", "precision": "bf16",
       "memory_format": "channels_last", "threads": 16, "torch": "2.5.1", "date": "2025-05-06T07:08:09+00:00"}
OLD_RUN = "20250506T070809_bench_cuda-h100"  # an earlier run: resnet50 on a GPU, and cnn-tiny M1 measured slower
STEP_MS, BACKBONE_MS, STEP_BATCH = 500.0, 400.0, 4
BREAKDOWN = {"data": 0.0, "backbone_fwd": 150.0, "fusion_fwd": 5.0, "head_fwd": 20.0, "body_model": 10.0,
             "losses_other": 15.0, "backward": 250.0, "optimizer": 30.0, "forward": 200.0, "total": 480.0}
BREAKDOWN_SHARED = {**BREAKDOWN, "backbone_fwd": 60.0, "backward": 120.0, "forward": 91.0, "total": 248.0}


def _inference(bb, m, batch, scope, median, prov=PROV) -> list[dict]:
    info = {**prov, "name": f"multiroi-M{m}", "num_rois": m, "backbone": bb, "batch": batch, "scope": scope,
            "mode": "crops", "crop_size": [48, 64]}
    return records(info, {"samples_per_s": batch / median, "latency_ms": 1e3 * median})


def _step(mode: str, step_ms: float, backbone_ms: float, breakdown: dict, prov=PROV) -> list[dict]:
    info = {**prov, "backbone": "cnn-small", "num_rois": 5, "batch": STEP_BATCH, "mode": mode, "scope": "train-step"}
    ratio = backbone_ms / step_ms
    return records(info, {"samples_per_s": STEP_BATCH / (step_ms / 1e3), "step_ms": step_ms,
                          "backbone_fwd_bwd_samples_per_s": STEP_BATCH / (backbone_ms / 1e3),
                          "step_vs_backbone": ratio, "outside_backbone_share": 1 - ratio, "breakdown_ms": breakdown})


def _benchmarks() -> list[dict]:
    """pytest-benchmark's 'benchmarks' entries as the suite's benchmarks fill extra_info["records"]."""
    out = [{"name": f"test_inference[{bb}-M{m}-b{b}-{s}-crops]", "extra_info": {"records": _inference(bb, m, b, s, t)}}
           for bb, m, b, s, t in INFERENCE]
    out.append({"name": "test_training_step[cnn-small-M5-b4]",
                "extra_info": {"records": _step("crops", STEP_MS, BACKBONE_MS, BREAKDOWN)}})
    out.append({"name": "test_training_step[cnn-small-M5-b4-shared]",
                "extra_info": {"records": _step("shared", 250.0, 150.0, BREAKDOWN_SHARED)}})
    data = {**PROV, "scope": "data", "precision": None, "memory_format": None, "image_size": 256,
            "what": "sample assembly, 5 RoIs, crop 48×64"}
    out.append({"name": "test_sample_assembly[48x64]", "extra_info": {"records": records(data, {
        "sample_per_s": 1280.0, "ms_per_sample": 0.781, "cpu_ms_per_sample": 0.75})}})
    cost = {**PROV, "scope": "cost", "backbone": "cnn-tiny", "num_rois": 5, "mode": "crops", "crop_size": [48, 64]}
    out.append({"name": "test_params_macs[cnn-tiny-M5]", "extra_info": {"records": records(cost, {
        "params": {"backbone": 1_000_000, "fusion": 200_000, "head": 34_567, "projection": 0, "total": 1_234_567},
        "gmacs_per_sample": 0.5, "backbone_mac_share": 0.8})}})
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(bench folder, reports folder, targets result, store): the records written, the speed page built once."""
    from hmr_bench.bench.results import run_id
    from hmr_bench.bench.targets import _entry, run_targets, target_records
    from hmr_bench.report import build_reports
    from hmr_bench.train.perf import threads

    root = tmp_path_factory.mktemp("speed_report")
    bench = root / "bench"
    write_records(records_from_pytest_benchmark({"benchmarks": _benchmarks()}), RUN, bench)
    older = [{**r, "benchmark": "test_inference[resnet50-M5-b1-end-to-end-crops]"}
             for r in _inference("resnet50", 5, 1, "end-to-end", 1 / 55.2, GPU)]
    older += [{**r, "benchmark": "test_inference[cnn-tiny-M1-b8-end-to-end-crops]"}
              for r in _inference("cnn-tiny", 1, 8, "end-to-end", 0.04)]  # replaced by RUN's 0.02 s
    write_records(older, OLD_RUN, bench)
    gpu_step = [{**r, "benchmark": "test_training_step[cnn-small-M5-b4]"}
                for r in _step("crops", 20.0, 17.0, {"backward": 6.0, "total": 13.0}, GPU)]
    write_records(gpu_step, "20260103T000000_bench_cuda", bench)
    (bench / "bench_results.json").write_text(json.dumps([{"name": "x", "samples_per_s": 98765.4}]))  # old format
    with threads(1):
        result = run_targets("cpu", {"cnn-tiny": 2}, rounds=1, warmup=0, only=("train_vs_backbone",))
    result["targets"]["cnn-tiny"]["shared_scaling"] = _entry("shared_scaling", 1.2, "cpu", backbone="cnn-tiny",
                                                             batch=2, crops_ratio=4.7)
    write_records(target_records(result), run_id("targets", result["provenance"]), bench)
    with pytest.MonkeyPatch.context() as mp, threads(1):
        mp.setenv("HMR_BENCH_CACHE", str(root / "cache"))
        store = ResultsStore(f"sqlite:///{root / 'results.sqlite'}")
        build_reports(store, root / "reports", ["speed"], bench_dir=bench, gallery=False,
                      sweep_storage=root / "none.sqlite")
        yield bench, root / "reports", result, store


def _keyed(found: list[dict], kind: str) -> dict:
    return {(e["row"]["data-backbone"], int(e["row"]["data-m"]), int(e["row"]["data-batch"]), e["row"]["data-scope"]):
            e for e in found if e["data-kind"] == kind}


def test_inference_rate_and_latency_are_batch_over_the_median_of_the_latest_run(built):
    _, out, _, _ = built
    found = elements((out / "speed.html").read_text())
    rate, latency = _keyed(found, "samples_per_s"), _keyed(found, "latency_ms")
    assert set(rate) == {(bb, m, b, s) for bb, m, b, s, _ in INFERENCE} | {("resnet50", 5, 1, "end-to-end")}
    for bb, m, batch, scope, median in INFERENCE:
        assert float(rate[bb, m, batch, scope]["data-value"]) == pytest.approx(batch / median, rel=1e-12)
        assert float(latency[bb, m, batch, scope]["data-value"]) == pytest.approx(1e3 * median, rel=1e-12)
    assert rate["cnn-tiny", 1, 8, "end-to-end"]["text"] == "400"  # 8 / 0.02 (the earlier run's 8 / 0.04 = 200: gone)
    assert (rate["cnn-small", 2, 4, "model"]["text"], latency["cnn-small", 2, 4, "model"]["text"]) == ("100", "40.0")
    assert float(rate["resnet50", 5, 1, "end-to-end"]["data-value"]) == pytest.approx(55.2)


def test_each_record_carries_its_provenance(built):
    _, out, _, _ = built
    html = (out / "speed.html").read_text()
    row = re.search(r'<tr data-backbone="cnn-tiny" data-scope="end-to-end" data-mode="crops" data-batch="8" '
                    r'data-m="3">.*?</tr>', html, re.S).group(0)
    prov = {e["data-kind"]: e["text"] for e in elements(row)}
    assert (prov["device"], prov["precision"], prov["layout"], prov["torch"], prov["threads"], prov["date"]) == (
        "cpu (Test CPU 9000)", "fp32", "contiguous", "2.13.0+cpu", "1", "2026-01-02 03:04:05")
    old = re.search(r'<tr data-backbone="resnet50".*?</tr>', html, re.S).group(0)
    prov = {e["data-kind"]: e["text"] for e in elements(old)}
    assert (prov["device"], prov["precision"], prov["layout"], prov["torch"], prov["threads"], prov["date"]) == (
        "cuda (NVIDIA H100 80GB HBM3)", "bf16", "channels_last", "2.5.1", "16", "2025-05-06 07:08:09")
    runs = [e["text"] for e in elements(html) if e["data-kind"] == "run"]
    assert len(runs) == 4 and OLD_RUN in runs and RUN in runs
    ignored = next(e for e in elements(html) if e["data-kind"] == "ignored")
    assert "bench_results.json" in ignored["text"] and "98765" not in html  # an old-format file: listed, not read


def _training(found: list[dict]) -> dict:
    """{(mode, device label): {data-kind: element}} of the training table's rows."""
    out: dict = {}
    for e in found:
        if e["row"].get("data-scope") == "train-step" and "data-mode" in e["row"]:
            out.setdefault((e["row"]["data-mode"], e["row"]["data-device"]), {})[e["data-kind"]] = e
    return out


def test_training_step_share_outside_the_backbone(built):
    """crops: 4 / 0.5 s = 8 samples/s, ratio 400 / 500 = 0.8, 20 % outside; shared: 150 / 250 = 0.6, 40 %."""
    _, out, _, _ = built
    rows = _training(elements((out / "speed.html").read_text()))
    gpu_label = "cuda (NVIDIA H100 80GB HBM3) · bf16 · channels_last"
    assert set(rows) == {("crops", LABEL), ("shared", LABEL), ("crops", gpu_label)}
    crops, shared = rows["crops", LABEL], rows["shared", LABEL]
    assert float(crops["train_samples_per_s"]["data-value"]) == pytest.approx(8.0, rel=1e-12)
    assert float(crops["step_vs_backbone"]["data-value"]) == pytest.approx(0.8, rel=1e-12)
    assert crops["outside_share"]["text"] == "20.0 %" and shared["outside_share"]["text"] == "40.0 %"
    assert shared["step_vs_backbone"]["text"] == "0.6" and float(shared["step_ms"]["data-value"]) == 250.0
    assert float(shared["backbone_samples_per_s"]["data-value"]) == pytest.approx(4 / 0.15, rel=1e-12)
    assert crops["device"]["text"] == "cpu (Test CPU 9000)"
    assert rows["crops", gpu_label]["device"]["text"] == "cuda (NVIDIA H100 80GB HBM3)"


def test_breakdown_keeps_rows_that_differ_only_by_mode_or_device(built):
    _, out, _, _ = built
    table = re.search(r'<table class="sortable breakdown".*?</table>', (out / "speed.html").read_text(), re.S).group(0)
    labels = re.findall(r'<tr data-row="([^"]+)">', table)
    assert len(labels) == len(set(labels)) == 3
    for mode, breakdown in (("crops", BREAKDOWN), ("shared", BREAKDOWN_SHARED)):
        label = f"cnn-small M5 b4 {mode} train-step · {LABEL}"
        row = re.search(rf'<tr data-row="{re.escape(label)}">.*?</tr>', table, re.S).group(0)
        parts = {e["data-part"]: float(e["data-value"]) for e in elements(row) if e["data-kind"] == "part"}
        assert parts == {k: v for k, v in breakdown.items() if k not in ("forward", "total")}


def test_data_path_and_params_rows(built):
    _, out, _, _ = built
    html = (out / "speed.html").read_text()
    found = elements(html)
    rate = next(e for e in found if e["data-kind"] == "data_rate")
    assert float(rate["data-value"]) == 1280.0 and rate["text"] == "1280 samples"
    assert "sample assembly, 5 RoIs, crop 48×64" in html
    params = next(e for e in found if e["data-kind"] == "params")
    assert params["data-value"] == "1234567" and params["text"] == f"{1_234_567 / 1e6:.3g}"
    assert next(e for e in found if e["data-kind"] == "gmacs")["data-value"] == "0.5"
    share = next(e for e in found if e["data-kind"] == "backbone_mac_share")
    assert share["row"]["data-backbone"] == "cnn-tiny" and share["text"] == "80.0 %"


def test_targets_value_threshold_verdict_and_provenance(built):
    """train_vs_backbone = backbone fwd+bwd time / step time (its parts, recorded beside it as details), against
    the CPU bound ≥ 0.75; shared_scaling 1.2 against ≤ 1.5: met."""
    _, out, result, _ = built
    html = (out / "speed.html").read_text()
    entry = result["targets"]["cnn-tiny"]["train_vs_backbone"]
    ratio = entry["backbone_fwd_bwd_ms"] / entry["step_ms"]
    row = re.search(r'<tr data-backbone="cnn-tiny" data-target="train_vs_backbone">.*?</tr>', html, re.S).group(0)
    cells = {e["data-kind"]: e for e in elements(row)}
    assert float(cells["measured"]["data-value"]) == pytest.approx(ratio, rel=1e-9)
    assert cells["threshold"]["text"] == "≥ 0.75"
    assert cells["met"]["data-value"] == ("met" if ratio >= 0.75 else "not met")
    assert "step_ms" in cells["details"]["text"] and "breakdown_ms" in cells["details"]["text"]
    row = re.search(r'<tr data-backbone="cnn-tiny" data-target="shared_scaling">.*?</tr>', html, re.S).group(0)
    cells = {e["data-kind"]: e for e in elements(row)}
    assert (cells["threshold"]["text"], cells["met"]["data-value"], cells["met"]["text"]) == ("≤ 1.5", "met", "met")
    assert cells["details"]["text"] == "crops_ratio 4.7"
    prov = next(e for e in elements(html) if e["data-kind"] == "target-provenance")["text"]
    assert prov.startswith("cpu (") and " · fp32 · contiguous · torch " in prov and "1 rounds after 0 warm-up" in prov


def test_navigation_index_card_and_plots(built):
    _, out, result, _ = built
    html = (out / "speed.html").read_text()
    assert '<a href="speed.html" class="here">Speed</a>' in html
    assert html.count('<svg class="plot"') == 2  # inference against M, the step's breakdown
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    index = (out / "index.html").read_text()
    met = int(re.search(r'data-kind="targets-met">(\d+)<', index).group(1))
    not_met = int(re.search(r'data-kind="targets-not-met">(\d+)<', index).group(1))
    entry = result["targets"]["cnn-tiny"]["train_vs_backbone"]
    ratio_met = entry["backbone_fwd_bwd_ms"] / entry["step_ms"] >= 0.75  # the CPU bound, judged here from the parts
    assert (met, not_met) == (1 + bool(ratio_met), 1 - bool(ratio_met))


def test_inference_plot_has_one_panel_per_backbone_in_plan_order(built):
    """One panel per backbone with inference records, in bench.plan.BACKBONES order (cnn-tiny before cnn-small),
    in each one line per (scope, mode, batch, device) of that backbone's records."""
    _, out, _, _ = built
    html = (out / "speed.html").read_text()
    svg = re.search(r'<svg class="plot".*?</svg>', re.search(r'<h2 id="inference">.*?<h2 ', html, re.S).group(0),
                    re.S).group(0)
    titles = re.findall(r'<g id="speed-inference-panel-([^"]+)">\s*<text[^>]*>([^<]*)</text>', svg)
    assert [t for _, t in titles] == [bb for bb, _ in titles] == ["cnn-tiny", "cnn-small", "resnet50"]
    lines = re.findall(r'id="speed-inference-series-([^"]+)"', svg)
    assert sorted(lines) == sorted(["cnn-tiny-backbone-crops-b8-d0", "cnn-tiny-end-to-end-crops-b8-d0",
                                    "cnn-small-model-crops-b4-d0", "resnet50-end-to-end-crops-b1-d1"])


def test_table4_fps_is_end_to_end_crops_samples_per_s_latest_run():
    """Hand-written records: a backbone-scope and a shared-mode record of the same case must not count; of two runs
    the later one's figure wins; the series label names backbone, device, settings and batch."""
    from hmr_bench.report.speed import table4_fps

    base = {**PROV, "backbone": "resnet50", "batch": 4, "num_rois": 5, "figure": "samples_per_s", "part": None,
            "name": "multiroi-M5"}
    frame = pd.DataFrame([base | {"run": "2", "scope": "end-to-end", "mode": "crops", "value": 1.5},
                          base | {"run": "1", "scope": "end-to-end", "mode": "crops", "value": 1.0},
                          base | {"run": "2", "scope": "end-to-end", "mode": "shared", "value": 3.0},
                          base | {"run": "2", "scope": "backbone", "mode": "crops", "value": 9.0},
                          base | {"run": "2", "scope": "end-to-end", "mode": "crops", "value": 0.02,
                                  "figure": "latency_ms"}])
    (row,) = table4_fps(frame).to_dict("records")
    assert (row["num_rois"], row["samples_per_s"]) == (5, 1.5)
    assert row["series"] == f"resnet50 · {LABEL} · batch 4"
    assert table4_fps(frame[frame["mode"] == "shared"]) is None


def test_without_records_every_section_says_not_measured(built, tmp_path, capsys, one_thread):
    from hmr_bench.report.cli import add_parser

    _, _, _, store = built
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    empty = tmp_path / "bench"
    empty.mkdir()
    (empty / "targets_cpu.json").write_text("{}")  # an old-format file is no record
    args = parser.parse_args(["report", "--store", store.url_redacted, "--out", str(tmp_path / "r"), "--tables",
                              "speed", "--bench-dir", str(empty), "--sweep-storage", str(tmp_path / "s.sqlite")])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HMR_BENCH_CACHE", str(tmp_path / "cache"))
        assert args.func(args) == 0
    capsys.readouterr()
    html = (tmp_path / "r" / "speed.html").read_text()
    assert html.count("not measured — run `nox -s bench`") == 5  # inference, training, data path, MACs, targets
    assert "or `python -m hmr_bench.bench.targets`" in html and "targets_cpu.json" in html
    assert "<svg" not in html and "data-kind=\"samples_per_s\"" not in html
    index = (tmp_path / "r" / "index.html").read_text()
    assert 'data-kind="speed-missing">not measured — run `nox -s bench`<' in index


def _index_build(tmp_path, bench, tables, sweep_storage):
    from hmr_bench.report import build_reports

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HMR_BENCH_CACHE", str(tmp_path / "cache"))
        store = ResultsStore(f"sqlite:///{tmp_path / 'results.sqlite'}")
        build_reports(store, tmp_path / "r", tables, bench_dir=bench, gallery=False, sweep_storage=sweep_storage)
    return (tmp_path / "r" / "index.html").read_text()


def test_a_target_with_a_nan_value_shows_not_measured(tmp_path, one_thread):
    from hmr_bench.bench.targets import _entry, target_records

    result = {"provenance": PROV, "rounds": 1, "warmup": 0, "targets": {"cnn-tiny": {
        "train_vs_backbone": _entry("train_vs_backbone", float("nan"), "cpu", batch=2),
        "shared_scaling": _entry("shared_scaling", 1.2, "cpu", batch=2)}}}
    write_records(target_records(result), "20260101T000000_targets_cpu", tmp_path / "bench")
    assert "NaN" in next((tmp_path / "bench").glob("speed_*.jsonl")).read_text()
    index = _index_build(tmp_path, tmp_path / "bench", ["table2", "speed"], tmp_path / "none.sqlite")
    assert 'data-kind="section-error"' not in index
    assert re.search(r'data-kind="targets-met">(\d+)<', index).group(1) == "1"  # the NaN entry is not counted
    assert re.search(r'data-kind="targets-not-met">(\d+)<', index).group(1) == "0"
    html = (tmp_path / "r" / "speed.html").read_text()
    row = re.search(r'<tr data-backbone="cnn-tiny" data-target="train_vs_backbone">.*?</tr>', html, re.S).group(0)
    cells = {e["data-kind"]: e for e in elements(row)}
    assert cells["measured"]["data-value"] == "" and cells["measured"]["text"] == "not measured"
    assert cells["met"]["data-value"] == "not measured"


def test_malformed_record_file_and_sweep_storage_still_give_an_index(tmp_path, one_thread):
    """Only table2 asked for: the index still reads the bench folder and the sweep storage; their errors show in
    their sections, the table cards are there."""
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "speed_bad.jsonl").write_text('{"figure": "x", "value": 1}\n{"figure": ')  # cut off
    junk = tmp_path / "sweeps.sqlite"
    junk.write_text("not a database " * 100)
    index = _index_build(tmp_path, bench, ["table2"], junk)
    assert (tmp_path / "r" / "table2.html").is_file()
    errors = [e for e in elements(index) if e["data-kind"] == "section-error"]
    speed_error = next(e for e in errors if "speed_bad.jsonl" in e["text"])
    assert "line 2" in speed_error["text"] and "unreadable JSON" in speed_error["text"]
    assert len(errors) == 2 and 'data-table="table1"' in index


def test_a_whole_build_with_a_bad_record_file_writes_every_other_page_then_names_the_bad_one(tmp_path, one_thread):
    from hmr_bench.errors import InputError

    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "speed_bad.jsonl").write_text('{"figure": "x"}\n')  # no value
    with pytest.raises(InputError) as err:
        _index_build(tmp_path, bench, ["table2", "speed"], tmp_path / "none.sqlite")
    assert "speed" in str(err.value) and "speed_bad.jsonl" in str(err.value)
    out = tmp_path / "r"
    assert (out / "table2.html").is_file() and (out / "index.html").is_file()
    assert not (out / "speed.html").exists()
