"""The report's speed page from benchmark files written by the project's own writers: a pytest-benchmark-shaped
result (hand-chosen median round times) through `bench.results.records_from_pytest_benchmark` and
`write_results` (bench_results.json merged with an older record, plus the full hmr_bench_<tag>.json), and a
targets file from a tiny real `bench.targets.run_targets` run. The page must show samples/s = batch / median and
ms = 1000 · median (computed here), each record's provenance, the training step's share outside the backbone,
the data-path and MACs rows, each target's ratio (recomputed here from its parts) and whether it meets its
threshold; with no file every section says "not measured" with the command that measures it."""

from __future__ import annotations

import argparse
import json
import re
from html.parser import HTMLParser

import pytest

from hmr_bench.store import ResultsStore

PROV = {"device_type": "cpu", "device_name": "Test CPU 9000", "precision": "fp32", "memory_format": "contiguous",
        "compile": False, "threads": 1, "torch": "2.13.0+cpu", "date": "2026-01-02T03:04:05+00:00"}
LABEL = "cpu (Test CPU 9000, 1 thread) · fp32 · contiguous"
# (backbone, M, batch, scope, median round seconds)
INFERENCE = [("cnn-tiny", 1, 8, "end-to-end", 0.02), ("cnn-tiny", 3, 8, "end-to-end", 0.05),
             ("cnn-tiny", 5, 8, "end-to-end", 0.08), ("cnn-tiny", 1, 8, "backbone", 0.0125)]
OLD = {"name": "multiroi-M5", "num_rois": 5, "backbone": "resnet50", "batch": 1, "samples_per_s": 55.2,
       "device": "cuda (NVIDIA H100 80GB HBM3) · bf16 · channels_last", "scope": "end-to-end", "mode": "crops",
       "precision": "bf16", "memory_format": "channels_last", "torch": "2.5.1", "threads": 16,
       "date": "2025-05-06T07:08:09+00:00"}  # an earlier run's record, already in bench_results.json
STEP_S, BACKBONE_MS, STEP_BATCH = 0.5, 400.0, 4
BREAKDOWN = {"data": 0.0, "backbone_fwd": 150.0, "fusion_fwd": 5.0, "head_fwd": 20.0, "body_model": 10.0,
             "losses_other": 15.0, "backward": 250.0, "optimizer": 30.0, "forward": 200.0, "total": 480.0}


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
    step = {**PROV, "backbone": "cnn-small", "num_rois": 5, "batch": STEP_BATCH, "mode": "crops", "scope":
            "train-step", "crop_size": [48, 64], "backbone_fwd_bwd_ms": BACKBONE_MS,
            "backbone_fwd_bwd_samples_per_s": round(STEP_BATCH / (BACKBONE_MS / 1e3), 3),
            "breakdown_ms": BREAKDOWN, "samples_per_s": round(STEP_BATCH / STEP_S, 3), "step_ms": 1e3 * STEP_S,
            "step_vs_backbone": round(BACKBONE_MS / 1e3 / STEP_S, 4),
            "outside_backbone_share": round(1 - BACKBONE_MS / 1e3 / STEP_S, 4)}
    out.append({"name": "test_training_step[cnn-small-M5-b4]", "group": "training step",
                "stats": {"median": STEP_S}, "extra_info": step})
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


class Elements(HTMLParser):
    """Every element with a data-kind attribute: its attributes and text, inside <tr> rows (row attributes)."""

    def __init__(self):
        super().__init__()
        self.found, self._open, self.row = [], [], {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr":
            self.row = a
        keep = "data-kind" in a
        if keep:
            a["row"] = self.row
            self.found.append(a)
        self._open.append(a if keep else None)

    def handle_endtag(self, tag):
        if self._open:
            self._open.pop()

    def handle_data(self, data):
        for a in self._open:
            if a is not None:
                a["text"] = " ".join((a.get("text", "") + " " + data).split())


def elements(html: str) -> list[dict]:
    p = Elements()
    p.feed(html)
    return p.found


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
    with threads(1):
        result = run_targets("cpu", {"cnn-tiny": 2}, rounds=1, warmup=0, only=("train_vs_backbone",))
    result["targets"]["cnn-tiny"]["shared_scaling"] = _entry("shared_scaling", 1.2, backbone="cnn-tiny", batch=2,
                                                             crops_ratio=4.7)
    (bench / "targets_cpu-test.json").write_text(json.dumps(result, default=str))
    with pytest.MonkeyPatch.context() as mp, threads(1):
        mp.setenv("HMR_BENCH_CACHE", str(root / "cache"))
        store = ResultsStore(f"sqlite:///{root / 'results.sqlite'}")
        build_reports(store, root / "reports", ["speed"], bench_dir=bench, gallery=False,
                      sweep_storage=root / "none.sqlite")
        yield bench, root / "reports", result, store


def test_inference_rate_and_latency_are_batch_over_the_median(built):
    _, out, _, _ = built
    found = elements((out / "speed.html").read_text())
    rate = {(e["row"]["data-backbone"], int(e["row"]["data-m"]), int(e["row"]["data-batch"]), e["row"]["data-scope"]):
            e for e in found if e["data-kind"] == "samples_per_s"}
    latency = {(e["row"]["data-backbone"], int(e["row"]["data-m"]), int(e["row"]["data-batch"]),
                e["row"]["data-scope"]): e for e in found if e["data-kind"] == "latency_ms"}
    assert set(rate) == {(bb, m, b, s) for bb, m, b, s, _ in INFERENCE} | {("resnet50", 5, 1, "end-to-end")}
    for bb, m, batch, scope, median in INFERENCE:
        assert float(rate[bb, m, batch, scope]["data-value"]) == pytest.approx(batch / median, rel=1e-4)
        assert float(latency[bb, m, batch, scope]["data-value"]) == pytest.approx(1e3 * median, rel=1e-4)
    assert rate["cnn-tiny", 1, 8, "end-to-end"]["text"] == "400"  # 8 / 0.02
    assert rate["cnn-tiny", 3, 8, "end-to-end"]["text"] == "160"  # 8 / 0.05
    # the earlier run's record, merged into bench_results.json by the writer: its latency is batch / rate
    assert float(rate["resnet50", 5, 1, "end-to-end"]["data-value"]) == 55.2
    assert float(latency["resnet50", 5, 1, "end-to-end"]["data-value"]) == pytest.approx(1e3 / 55.2)


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


def test_training_step_share_outside_the_backbone(built):
    _, out, _, _ = built
    found = elements((out / "speed.html").read_text())
    by_kind = {e["data-kind"]: e for e in found if e["row"].get("data-scope") == "train-step"}
    assert float(by_kind["train_samples_per_s"]["data-value"]) == pytest.approx(STEP_BATCH / STEP_S)
    assert float(by_kind["step_vs_backbone"]["data-value"]) == pytest.approx(BACKBONE_MS / (1e3 * STEP_S))
    assert float(by_kind["outside_share"]["data-value"]) == pytest.approx(1 - BACKBONE_MS / (1e3 * STEP_S))
    assert by_kind["outside_share"]["text"] == "20.0 %"
    parts = {e["data-part"]: float(e["data-value"]) for e in found if e["data-kind"] == "part"}
    assert parts == {k: v for k, v in BREAKDOWN.items() if k not in ("forward", "total")}


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
    assert f"{100 * 400 / 500:.1f} %" in html  # backbone share of the MACs


def test_targets_ratio_threshold_and_verdict(built):
    """train_vs_backbone = backbone fwd+bwd time / step time (its parts, stored beside it), target ≥ 0.85;
    shared_scaling 1.2 against ≤ 1.5: met."""
    _, out, result, _ = built
    html = (out / "speed.html").read_text()
    entry = result["targets"]["cnn-tiny"]["train_vs_backbone"]
    ratio = entry["backbone_fwd_bwd_ms"] / entry["step_ms"]
    row = re.search(r'<tr data-backbone="cnn-tiny" data-target="train_vs_backbone">.*?</tr>', html, re.S).group(0)
    cells = {e["data-kind"]: e for e in elements(row)}
    assert float(cells["measured"]["data-value"]) == pytest.approx(ratio, rel=1e-9)
    assert cells["measured"]["text"] == f"{ratio:.4g}"
    assert cells["threshold"]["text"] == "≥ 0.85"
    assert cells["met"]["data-value"] == ("met" if ratio >= 0.85 else "not met")
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
