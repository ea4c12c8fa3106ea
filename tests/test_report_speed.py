"""The report's speed page from benchmark files written by the project's own writers: a pytest-benchmark-shaped
result (hand-chosen median round times) through `bench.results.records_from_pytest_benchmark` and
`write_results` (bench_results.json merged with an older record, plus the full hmr_bench_<tag>.json), and a
targets file from a tiny real `bench.targets.run_targets` run. The page must show samples/s = batch / median and
ms = 1000 · median (computed here), each record's provenance, the training step's share outside the backbone,
the data-path and MACs rows, each target's ratio (recomputed here from its parts) and whether it meets its
threshold; with no file every section says "not measured" with the command that measures it.

Rows that store only their round statistics (an inference row with only stats_s.median, a training row with only
step_ms and backbone_fwd_bwd_ms) get their figures derived by the page; the checks recompute them here. Training
rows that differ only by mode or by device are all shown. A target with a NaN measured value, a malformed targets
file or an unreadable sweep storage still give an index, with the error in its section."""

from __future__ import annotations

import argparse
import json
import re

import pytest

from hmr_bench.store import ResultsStore
from tests.html_elements import elements

PROV = {"device_type": "cpu", "device_name": "Test CPU 9000", "precision": "fp32", "memory_format": "contiguous",
        "compile": False, "threads": 1, "torch": "2.13.0+cpu", "date": "2026-01-02T03:04:05+00:00"}
LABEL = "cpu (Test CPU 9000, 1 thread) · fp32 · contiguous"
# (backbone, M, batch, scope, median round seconds)
INFERENCE = [("cnn-tiny", 1, 8, "end-to-end", 0.02), ("cnn-tiny", 3, 8, "end-to-end", 0.05),
             ("cnn-tiny", 5, 8, "end-to-end", 0.08), ("cnn-tiny", 1, 8, "backbone", 0.0125)]
# rows that store no samples_per_s / latency_ms, only their round statistics (not Table 4's: model scope)
MEDIAN_ONLY = [("cnn-small", 2, 4, "model", 0.04), ("cnn-small", 4, 4, "model", 0.064)]
OLD = {"name": "multiroi-M5", "num_rois": 5, "backbone": "resnet50", "batch": 1, "samples_per_s": 55.2,
       "device": "cuda (NVIDIA H100 80GB HBM3) · bf16 · channels_last", "scope": "end-to-end", "mode": "crops",
       "precision": "bf16", "memory_format": "channels_last", "torch": "2.5.1", "threads": 16,
       "date": "2025-05-06T07:08:09+00:00"}  # an earlier run's record, already in bench_results.json
STEP_S, BACKBONE_MS, STEP_BATCH = 0.5, 400.0, 4
BREAKDOWN = {"data": 0.0, "backbone_fwd": 150.0, "fusion_fwd": 5.0, "head_fwd": 20.0, "body_model": 10.0,
             "losses_other": 15.0, "backward": 250.0, "optimizer": 30.0, "forward": 200.0, "total": 480.0}
# the shared-backbone case of the same backbone, M and batch (bench.plan.training_cases adds it): only its step and
# backbone times stored, no ratio, share or rate
SHARED_STEP_MS, SHARED_BB_MS = 250.0, 150.0
BREAKDOWN_SHARED = {"data": 0.0, "backbone_fwd": 60.0, "fusion_fwd": 4.0, "head_fwd": 18.0, "body_model": 9.0,
                    "losses_other": 12.0, "backward": 120.0, "optimizer": 25.0, "forward": 91.0, "total": 248.0}
# the same crops case measured on a GPU (another file of the bench folder)
GPU = {"device": "cuda", "device_name": "Test GPU 1", "precision": "fp32", "memory_format": "contiguous",
       "compile": False, "threads": 1, "torch": "2.13.0+cu130", "date": "2026-01-03T00:00:00+00:00"}
GPU_LABEL = "cuda (Test GPU 1) · fp32 · contiguous"
BREAKDOWN_GPU = {"data": 0.0, "backbone_fwd": 3.0, "fusion_fwd": 0.5, "head_fwd": 1.0, "body_model": 0.5,
                 "losses_other": 1.0, "backward": 6.0, "optimizer": 1.0, "forward": 5.0, "total": 13.0}
# provenance as benchmarks/test_model_speed.py's training step stores it (`bench.results.provenance`): "device" is
# the device type, no "device_type"
TRAIN_PROV = {**{k: v for k, v in PROV.items() if k != "device_type"}, "device": "cpu", "device_label": LABEL}


def _benchmarks() -> list[dict]:
    """pytest-benchmark's JSON 'benchmarks' entries as benchmarks/test_model_speed.py and test_data_speed.py fill
    their extra_info."""
    out = []
    for bb, m, batch, scope, median in INFERENCE:
        info = {**PROV, "name": f"multiroi-M{m}", "num_rois": m, "backbone": bb, "batch": batch, "device": LABEL,
                "scope": scope, "mode": "crops", "crop_size": [48, 64], "table4": scope == "end-to-end",
                "samples_per_s": round(batch / median, 3), "latency_ms": round(1e3 * median, 4)}
        out.append({"name": f"test_inference[{bb}-M{m}-b{batch}-{scope}-crops]", "group": "inference",
                    "stats": {"median": median, "mean": median, "min": median, "max": median, "rounds": 3},
                    "extra_info": info})
    for bb, m, batch, scope, median in MEDIAN_ONLY:
        info = {**PROV, "name": f"multiroi-M{m}", "num_rois": m, "backbone": bb, "batch": batch, "device": LABEL,
                "scope": scope, "mode": "crops", "crop_size": [48, 64], "table4": False}
        out.append({"name": f"test_inference[{bb}-M{m}-b{batch}-{scope}-crops]", "group": "inference",
                    "stats": {"median": median, "rounds": 3}, "extra_info": info})
    step = {**TRAIN_PROV, "backbone": "cnn-small", "num_rois": 5, "batch": STEP_BATCH, "mode": "crops", "scope":
            "train-step", "crop_size": [48, 64], "backbone_fwd_bwd_ms": BACKBONE_MS,
            "backbone_fwd_bwd_samples_per_s": round(STEP_BATCH / (BACKBONE_MS / 1e3), 3),
            "breakdown_ms": BREAKDOWN, "samples_per_s": round(STEP_BATCH / STEP_S, 3), "step_ms": 1e3 * STEP_S,
            "step_vs_backbone": round(BACKBONE_MS / 1e3 / STEP_S, 4),
            "outside_backbone_share": round(1 - BACKBONE_MS / 1e3 / STEP_S, 4)}
    out.append({"name": "test_training_step[cnn-small-M5-b4]", "group": "training step",
                "stats": {"median": STEP_S}, "extra_info": step})
    shared = {**TRAIN_PROV, "backbone": "cnn-small", "num_rois": 5, "batch": STEP_BATCH, "mode": "shared",
              "scope": "train-step", "crop_size": [48, 64], "step_ms": SHARED_STEP_MS,
              "backbone_fwd_bwd_ms": SHARED_BB_MS, "breakdown_ms": BREAKDOWN_SHARED}
    out.append({"name": "test_training_step[cnn-small-M5-b4-shared]", "group": "training step",
                "stats": {"median": SHARED_STEP_MS / 1e3}, "extra_info": shared})
    out.append({"name": "test_sample_assembly[48x64]", "group": None, "stats": {"mean": 0.2},
                "extra_info": {"cores": 2, "cpu": "x86_64", "torch": "2.13.0+cpu", "torch_threads": 1,
                               "image_size": 256, "crop_wh": [48, 64], "num_rois": 5, "cv2_threads": 1,
                               "sample_per_s": 1280.0, "ms_per_sample": 0.781, "cpu_ms_per_sample": 0.75}})
    out.append({"name": "test_params_macs[cnn-tiny-M5]", "group": "params and MACs", "stats": {"median": 1.0},
                "extra_info": {"backbone": "cnn-tiny", "num_rois": 5, "mode": "crops", "crop_size": [48, 64],
                               "scope": "cost", "params": {"backbone": 1_000_000, "fusion": 200_000, "head": 34_567,
                                                           "projection": 0, "total": 1_234_567},
                               "macs": {"backbone": 400_000_000, "end_to_end": 500_000_000},
                               "gmacs_per_sample": 0.5}})
    return out




@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(bench folder, reports folder, targets result): the files written, the speed page built once."""
    from hmr_bench.bench.results import records_from_pytest_benchmark, write_results
    from hmr_bench.bench.targets import _entry, run_targets
    from hmr_bench.report import build_reports
    from hmr_bench.train.perf import threads

    root = tmp_path_factory.mktemp("speed_report")
    bench = root / "bench"
    bench.mkdir()
    (bench / "bench_results.json").write_text(json.dumps([OLD]))
    table4, rows = records_from_pytest_benchmark({"benchmarks": _benchmarks()})
    write_results(table4, rows, bench, meta={"device": "cpu", **PROV})
    gpu_step = {**GPU, "device_label": GPU_LABEL, "backbone": "cnn-small", "num_rois": 5, "batch": STEP_BATCH,
                "mode": "crops", "scope": "train-step", "step_ms": 20.0, "backbone_fwd_bwd_ms": 17.0,
                "breakdown_ms": BREAKDOWN_GPU}
    _, gpu_rows = records_from_pytest_benchmark({"benchmarks": [{"name": "test_training_step[cnn-small-M5-b4]",
                                                                 "group": "training step", "stats": {"median": 0.02},
                                                                 "extra_info": gpu_step}]})
    assert len(write_results([], gpu_rows, bench, meta=GPU)) == 1  # hmr_bench_cuda-test-gpu-1_..., beside the cpu one
    with threads(1):
        result = run_targets("cpu", {"cnn-tiny": 2}, rounds=1, warmup=0, only=("train_vs_backbone",))
    result["targets"]["cnn-tiny"]["shared_scaling"] = _entry("shared_scaling", 1.2, "cpu", backbone="cnn-tiny", batch=2,
                                                             crops_ratio=4.7)
    (bench / "targets_cpu-test.json").write_text(json.dumps(result, default=str))
    with pytest.MonkeyPatch.context() as mp, threads(1):
        mp.setenv("HMR_BENCH_CACHE", str(root / "cache"))
        store = ResultsStore(f"sqlite:///{root / 'results.sqlite'}")
        build_reports(store, root / "reports", ["speed"], bench_dir=bench, gallery=False,
                      sweep_storage=root / "none.sqlite")
        yield bench, root / "reports", result, store


def _keyed(found: list[dict], kind: str) -> dict:
    return {(e["row"]["data-backbone"], int(e["row"]["data-m"]), int(e["row"]["data-batch"]), e["row"]["data-scope"]):
            e for e in found if e["data-kind"] == kind}


def test_inference_rate_and_latency_are_batch_over_the_median(built):
    _, out, _, _ = built
    found = elements((out / "speed.html").read_text())
    rate, latency = _keyed(found, "samples_per_s"), _keyed(found, "latency_ms")
    assert set(rate) == {(bb, m, b, s) for bb, m, b, s, _ in INFERENCE + MEDIAN_ONLY} | {
        ("resnet50", 5, 1, "end-to-end")}
    for bb, m, batch, scope, median in INFERENCE:
        assert float(rate[bb, m, batch, scope]["data-value"]) == pytest.approx(batch / median, rel=1e-4)
        assert float(latency[bb, m, batch, scope]["data-value"]) == pytest.approx(1e3 * median, rel=1e-4)
    assert rate["cnn-tiny", 1, 8, "end-to-end"]["text"] == "400"  # 8 / 0.02
    assert rate["cnn-tiny", 3, 8, "end-to-end"]["text"] == "160"  # 8 / 0.05
    # the earlier run's record, merged into bench_results.json by the writer: its latency is batch / rate
    assert float(rate["resnet50", 5, 1, "end-to-end"]["data-value"]) == 55.2
    assert float(latency["resnet50", 5, 1, "end-to-end"]["data-value"]) == pytest.approx(1e3 / 55.2)


def test_rows_with_only_the_median_get_rate_and_latency_from_it(built):
    """No samples_per_s / latency_ms stored: samples/s = 4 / 0.04 s = 100 and 4 / 0.064 s = 62.5, ms per batch
    = 1000 · 0.04 = 40 and 64."""
    _, out, _, _ = built
    found = elements((out / "speed.html").read_text())
    rate, latency = _keyed(found, "samples_per_s"), _keyed(found, "latency_ms")
    assert float(rate["cnn-small", 2, 4, "model"]["data-value"]) == pytest.approx(100.0, rel=1e-12)
    assert float(rate["cnn-small", 4, 4, "model"]["data-value"]) == pytest.approx(62.5, rel=1e-12)
    assert float(latency["cnn-small", 2, 4, "model"]["data-value"]) == pytest.approx(40.0, rel=1e-12)
    assert float(latency["cnn-small", 4, 4, "model"]["data-value"]) == pytest.approx(64.0, rel=1e-12)
    assert (rate["cnn-small", 2, 4, "model"]["text"], latency["cnn-small", 2, 4, "model"]["text"]) == ("100", "40.0")
    assert (rate["cnn-small", 4, 4, "model"]["text"], latency["cnn-small", 4, 4, "model"]["text"]) == ("62.5", "64.0")


def test_each_record_carries_its_provenance(built):
    _, out, _, _ = built
    html = (out / "speed.html").read_text()
    row = re.search(r'<tr data-backbone="cnn-tiny" data-scope="end-to-end" data-mode="crops" data-batch="8" '
                    r'data-m="3">.*?</tr>', html, re.S).group(0)
    prov = {e["data-kind"]: e["text"] for e in elements(row)}
    assert prov["device"] == "cpu (Test CPU 9000)" and prov["precision"] == "fp32"
    assert prov["layout"] == "contiguous" and prov["torch"] == "2.13.0+cpu" and prov["threads"] == "1"
    assert prov["date"] == "2026-01-02 03:04:05"
    old = re.search(r'<tr data-backbone="resnet50".*?</tr>', html, re.S).group(0)
    prov = {e["data-kind"]: e["text"] for e in elements(old)}
    assert (prov["device"], prov["precision"], prov["layout"], prov["torch"], prov["threads"], prov["date"]) == (
        "cuda (NVIDIA H100 80GB HBM3)", "bf16", "channels_last", "2.5.1", "16", "2025-05-06 07:08:09")


def _training(found: list[dict]) -> dict:
    """{(mode, device label): {data-kind: element}} of the training table's rows."""
    out: dict = {}
    for e in found:
        if e["row"].get("data-scope") == "train-step" and "data-mode" in e["row"]:
            out.setdefault((e["row"]["data-mode"], e["row"]["data-device"]), {})[e["data-kind"]] = e
    return out


def test_training_step_share_outside_the_backbone(built):
    _, out, _, _ = built
    found = elements((out / "speed.html").read_text())
    rows = _training(found)
    assert set(rows) == {("crops", LABEL), ("shared", LABEL), ("crops", GPU_LABEL)}
    by_kind = rows["crops", LABEL]
    assert float(by_kind["train_samples_per_s"]["data-value"]) == pytest.approx(STEP_BATCH / STEP_S)
    assert float(by_kind["step_vs_backbone"]["data-value"]) == pytest.approx(BACKBONE_MS / (1e3 * STEP_S))
    assert float(by_kind["outside_share"]["data-value"]) == pytest.approx(1 - BACKBONE_MS / (1e3 * STEP_S))
    assert by_kind["outside_share"]["text"] == "20.0 %"  # 1 − 400 ms / 500 ms


def test_training_row_with_only_step_and_backbone_times(built):
    """The shared row stores step_ms 250 and backbone_fwd_bwd_ms 150 only: ratio 150 / 250 = 0.6, share outside
    the backbone 1 − 0.6 = 40 %, samples/s 4 / 0.25 s = 16, backbone alone 4 / 0.15 s = 26.7."""
    _, out, _, _ = built
    cells = _training(elements((out / "speed.html").read_text()))["shared", LABEL]
    assert float(cells["step_vs_backbone"]["data-value"]) == pytest.approx(0.6, rel=1e-12)
    assert float(cells["outside_share"]["data-value"]) == pytest.approx(0.4, rel=1e-12)
    assert cells["step_vs_backbone"]["text"] == "0.6" and cells["outside_share"]["text"] == "40.0 %"
    assert float(cells["step_ms"]["data-value"]) == 250.0
    assert float(cells["train_samples_per_s"]["data-value"]) == pytest.approx(16.0, rel=1e-12)
    assert float(cells["backbone_samples_per_s"]["data-value"]) == pytest.approx(4 / 0.15, rel=1e-12)


def test_training_device_shows_the_device_name(built):
    """A training record's "device" is the bare type ("cpu"; no device_type): the cell adds its device_name."""
    _, out, _, _ = built
    rows = _training(elements((out / "speed.html").read_text()))
    assert rows["crops", LABEL]["device"]["text"] == "cpu (Test CPU 9000)"
    assert rows["shared", LABEL]["device"]["text"] == "cpu (Test CPU 9000)"
    assert rows["crops", GPU_LABEL]["device"]["text"] == "cuda (Test GPU 1)"
    assert rows["crops", GPU_LABEL]["torch"]["text"] == "2.13.0+cu130"


def test_breakdown_keeps_rows_that_differ_only_by_mode_or_device(built):
    _, out, _, _ = built
    html = (out / "speed.html").read_text()
    table = re.search(r'<table class="sortable breakdown".*?</table>', html, re.S).group(0)
    labels = re.findall(r'<tr data-row="([^"]+)">', table)
    assert len(labels) == len(set(labels)) == 3
    expected = {("crops", LABEL): BREAKDOWN, ("shared", LABEL): BREAKDOWN_SHARED, ("crops", GPU_LABEL): BREAKDOWN_GPU}
    for (mode, device), breakdown in expected.items():
        label = next(lab for lab in labels if f" {mode} train-step" in lab and lab.endswith(device))
        assert label.startswith("cnn-small M5 b4 ")
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
    share = next(e for e in found if e["data-kind"] == "backbone_mac_share")  # 400 M of 500 M MACs
    assert share["row"]["data-backbone"] == "cnn-tiny" and share["row"]["data-m"] == "5"
    assert float(share["data-value"]) == pytest.approx(400 / 500) and share["text"] == "80.0 %"
    heads = re.findall(r"<th[^>]*>([^<]*)</th>", re.search(r'data-section="cost">.*?</thead>', html, re.S).group(0))
    assert heads[4:] == ["params (M)", "backbone (M)", "fusion (M)", "head (M)", "projection (M)", "GMACs / sample",
                         "backbone share of MACs"]


def test_targets_ratio_threshold_and_verdict(built):
    """train_vs_backbone = backbone fwd+bwd time / step time (its parts, stored beside it), against the CPU target
    ≥ 0.75 (measured on the CPU; the CUDA target is ≥ 0.85); shared_scaling 1.2 against ≤ 1.5: met."""
    _, out, result, _ = built
    html = (out / "speed.html").read_text()
    entry = result["targets"]["cnn-tiny"]["train_vs_backbone"]
    ratio = entry["backbone_fwd_bwd_ms"] / entry["step_ms"]
    row = re.search(r'<tr data-backbone="cnn-tiny" data-target="train_vs_backbone">.*?</tr>', html, re.S).group(0)
    cells = {e["data-kind"]: e for e in elements(row)}
    assert float(cells["measured"]["data-value"]) == pytest.approx(ratio, rel=1e-9)
    assert cells["measured"]["text"] == f"{ratio:.4g}"
    assert cells["threshold"]["text"] == "≥ 0.75"
    assert cells["met"]["data-value"] == ("met" if ratio >= 0.75 else "not met")
    row = re.search(r'<tr data-backbone="cnn-tiny" data-target="shared_scaling">.*?</tr>', html, re.S).group(0)
    cells = {e["data-kind"]: e for e in elements(row)}
    assert cells["threshold"]["text"] == "≤ 1.5" and cells["met"]["data-value"] == "met"
    assert cells["met"]["text"] == "met"


def test_navigation_index_card_and_plots(built):
    _, out, _, _ = built
    html = (out / "speed.html").read_text()
    assert '<a href="speed.html" class="here">Speed</a>' in html
    assert html.count('<svg class="plot"') == 2  # inference against M, the step's breakdown
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    index = (out / "index.html").read_text()
    assert '<a href="speed.html">Speed</a>' in index
    met = re.search(r'data-kind="targets-met">(\d+)<', index).group(1)
    not_met = re.search(r'data-kind="targets-not-met">(\d+)<', index).group(1)
    ratio_met = built[2]["targets"]["cnn-tiny"]["train_vs_backbone"]["met"]
    assert (int(met), int(not_met)) == (1 + bool(ratio_met), 1 - bool(ratio_met))


def test_inference_plot_has_one_panel_per_backbone_in_plan_order(built):
    """Small multiples: one panel (titled with the backbone) per backbone with inference records — the two of the
    hmr_bench file and the earlier run's resnet50 — in bench.plan.BACKBONES order (not name order: cnn-tiny before
    cnn-small), and in each panel one line per (scope, mode, batch, device) of that backbone's records."""
    from hmr_bench.bench.plan import BACKBONES

    _, out, _, _ = built
    html = (out / "speed.html").read_text()
    svg = re.search(r'<svg class="plot".*?</svg>', re.search(r'<h2 id="inference">.*?<h2 ', html, re.S).group(0),
                    re.S).group(0)
    records = [(bb, scope, "crops", batch, LABEL) for bb, _, batch, scope, _ in INFERENCE + MEDIAN_ONLY]
    records.append((OLD["backbone"], OLD["scope"], OLD["mode"], OLD["batch"], OLD["device"]))
    backbones = {r[0] for r in records}
    assert len(backbones) == 3
    titles = re.findall(r'<g id="speed-inference-panel-([^"]+)">\s*<text[^>]*>([^<]*)</text>', svg)
    assert [t for _, t in titles] == [bb for _, bb in titles]  # each panel's title is its backbone
    assert [bb for _, bb in titles] == sorted(backbones, key=BACKBONES.index) == ["cnn-tiny", "cnn-small", "resnet50"]
    devices = list(dict.fromkeys(r[4] for r in records))
    lines = re.findall(r'id="speed-inference-series-([^"]+)"', svg)
    assert sorted(lines) == sorted({f"{bb}-{scope}-{mode}-b{batch}-d{devices.index(dev)}"
                                    for bb, scope, mode, batch, dev in records})


def test_without_files_every_section_says_not_measured(built, tmp_path, capsys, one_thread):
    from hmr_bench.report.cli import add_parser

    _, _, _, store = built
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    empty = tmp_path / "bench"
    empty.mkdir()
    args = parser.parse_args(["report", "--store", store.url_redacted, "--out", str(tmp_path / "r"), "--tables",
                              "speed", "--bench-dir", str(empty), "--sweep-storage", str(tmp_path / "s.sqlite")])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HMR_BENCH_CACHE", str(tmp_path / "cache"))
        assert args.func(args) == 0
    capsys.readouterr()
    html = (tmp_path / "r" / "speed.html").read_text()
    assert html.count("not measured — run `nox -s bench`") == 4  # inference, training, data path, MACs
    assert "not measured — run `python -m hmr_bench.bench.targets`" in html
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


def test_a_target_with_a_nan_measured_value_shows_not_measured(tmp_path, one_thread):
    bench = tmp_path / "bench"
    bench.mkdir()
    targets = {"provenance": {"device": "cpu", "device_name": "Test CPU 9000"},
               "targets": {"cnn-tiny": {"train_vs_backbone": {"measured": float("nan"), "target": "≥ 0.85",
                                                              "met": False},
                                        "shared_scaling": {"measured": 1.2, "target": "≤ 1.5", "met": True}}}}
    (bench / "targets_nan.json").write_text(json.dumps(targets))  # NaN written as JSON's NaN
    assert "NaN" in (bench / "targets_nan.json").read_text()
    index = _index_build(tmp_path, bench, ["table2", "speed"], tmp_path / "none.sqlite")
    assert 'data-kind="section-error"' not in index
    assert re.search(r'data-kind="targets-met">(\d+)<', index).group(1) == "1"  # the NaN entry is not counted
    assert re.search(r'data-kind="targets-not-met">(\d+)<', index).group(1) == "0"
    html = (tmp_path / "r" / "speed.html").read_text()
    row = re.search(r'<tr data-backbone="cnn-tiny" data-target="train_vs_backbone">.*?</tr>', html, re.S).group(0)
    cells = {e["data-kind"]: e for e in elements(row)}
    assert cells["measured"]["data-value"] == "" and cells["measured"]["text"].startswith("not measured")
    assert "nan" in cells["target-error"]["text"] and cells["met"]["data-value"] == "not measured"
    row = re.search(r'<tr data-backbone="cnn-tiny" data-target="shared_scaling">.*?</tr>', html, re.S).group(0)
    assert {e["data-kind"]: e for e in elements(row)}["met"]["data-value"] == "met"


def test_malformed_targets_file_and_sweep_storage_still_give_an_index(tmp_path, one_thread):
    """Only table2 asked for: the index still reads the bench folder and the sweep storage; their errors show in
    their sections, the table cards are there."""
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "targets_bad.json").write_text('{"targets": {"cnn-tiny": ')  # cut off
    junk = tmp_path / "sweeps.sqlite"
    junk.write_text("not a database " * 100)
    before = junk.read_bytes()
    index = _index_build(tmp_path, bench, ["table2"], junk)
    assert (tmp_path / "r" / "table2.html").is_file()
    errors = [e for e in elements(index) if e["data-kind"] == "section-error"]
    assert len(errors) == 2
    speed_error = next(e for e in errors if "targets_bad.json" in e["text"])
    assert "unreadable JSON" in speed_error["text"]
    sweep_error = next(e for e in errors if e is not speed_error)
    assert "sweep storage" in sweep_error["text"] and "not a readable SQLite database" in sweep_error["text"]
    assert 'data-table="table2"' in index and 'data-table="table1"' in index
    assert junk.read_bytes() == before  # read, never written


def test_step_labels_name_every_duplicate():
    from hmr_bench.report.speed import step_label, step_labels

    row = {"backbone": "cnn-small", "num_rois": 5, "batch": 32, "mode": "crops", "scope": "train-step",
           "device": "cpu"}
    rows = [{**row, "source": "a.json"}, {**row, "source": "b.json"}, {**row, "source": "b.json"}]
    base = step_label(row)
    assert step_labels(rows) == [f"{base} · a.json", f"{base} · b.json #1", f"{base} · b.json #2"]


def test_a_whole_build_with_a_bad_targets_file_writes_every_other_page_then_names_the_bad_one(tmp_path, one_thread):
    from hmr_bench.errors import InputError

    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "targets_bad.json").write_text('{"targets": {"cnn-tiny": ')  # cut off
    with pytest.raises(InputError) as err:
        _index_build(tmp_path, bench, ["table2", "speed"], tmp_path / "none.sqlite")
    assert "speed" in str(err.value) and "targets_bad.json" in str(err.value)
    out = tmp_path / "r"
    assert (out / "table2.html").is_file() and (out / "index.html").is_file()
    assert not (out / "speed.html").exists()
