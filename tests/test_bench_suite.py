"""The pytest-benchmark suite itself runs on tiny inputs (``--bench-scale tiny``: cnn-tiny, M ≤ 2, batch ≤ 2, one
round) and writes its speed records, one file for the run, that the report reads: Table 4's FPS, the training
step, params and MACs, and the targets with their verdicts. Not a timing test: only that the records exist, load
and hold the cases run, with figures that agree with each other."""

import os
import subprocess
import sys
from pathlib import Path

from hmr_bench.bench.results import speed_frame
from hmr_bench.report.speed import table4_fps

REPO = Path(__file__).resolve().parent.parent


def test_benchmark_suite_runs_tiny_and_feeds_the_report(tmp_path):
    out = tmp_path / "bench"
    cmd = [sys.executable, "-m", "pytest", "benchmarks/test_model_speed.py", "benchmarks/test_targets.py",
           "--bench-scale", "tiny", "--bench-device", "cpu", "--bench-threads", "1", "--bench-dir", str(out),
           "--benchmark-only", f"--benchmark-json={out / 'pytest_benchmark.json'}", "-p", "no:cacheprovider", "-q",
           "-k", "end-to-end-crops or train-crops or M5-b1-cost-crops or test_target"]
    env = {**os.environ, "HMR_BENCH_CACHE": str(tmp_path / "cache")}
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    (path,) = out.glob("speed_*_bench_cpu-*_fp32_contiguous_torch*.jsonl")  # one file for the run

    frame = speed_frame(out)
    assert set(frame["run"]) == {path.stem.removeprefix("speed_")}
    fps = table4_fps(frame)
    assert sorted(zip(fps["batch"], fps["num_rois"])) == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert all(" · fp32 · contiguous" in d for d in fps["device"])
    e2e = frame[(frame["scope"] == "end-to-end") & (frame["num_rois"] == 2) & (frame["batch"] == 2)]
    assert set(e2e["figure"]) >= {"samples_per_s", "latency_ms"}

    ratio = frame.loc[(frame["scope"] == "train-step") & (frame["figure"] == "step_vs_backbone"), "value"]
    assert len(ratio) == 1 and ratio.iloc[0] > 0
    assert "backward" in set(frame.loc[frame["figure"] == "breakdown_ms", "part"])
    macs = frame[(frame["scope"] == "cost") & (frame["figure"] == "macs")].set_index("part")["value"]
    assert macs["end_to_end"] == sum(v for k, v in macs.items() if k != "end_to_end")

    targets = frame[(frame["scope"] == "target") & (frame["figure"] == frame["target"])].set_index("target")
    assert set(targets.index) == {"inference_overhead", "train_vs_backbone", "shared_scaling", "loader_vs_synthetic"}
    bounds = {"inference_overhead": ("≤", 0.15), "train_vs_backbone": ("≥", 0.75), "shared_scaling": ("≤", 1.5),
              "loader_vs_synthetic": ("≥", 0.9)}
    for name, (op, bound) in bounds.items():  # the CPU bounds, and each verdict the value against its bound
        t = targets.loc[name]
        assert (t["op"], t["bound"], t["backbone"], t["batch"]) == (op, bound, "cnn-tiny", 2)
        assert t["met"] == (t["value"] <= bound if op == "≤" else t["value"] >= bound)
