"""The pytest-benchmark suite itself runs on tiny inputs (``--bench-scale tiny``: cnn-tiny, M ≤ 2, batch ≤ 2, one
round) and writes the report's bench_results.json and the full JSON. Not a timing test: only that the files
exist, load in the report and hold the cases run."""

import json
import os
import subprocess
import sys
from pathlib import Path

from hmr_bench.report.bench import fps_series, load_bench

REPO = Path(__file__).resolve().parent.parent


def test_benchmark_suite_runs_tiny_and_feeds_the_report(tmp_path):
    out = tmp_path / "bench"
    cmd = [sys.executable, "-m", "pytest", "benchmarks/test_model_speed.py", "--bench-scale", "tiny",
           "--bench-device", "cpu", "--bench-threads", "1", "--bench-dir", str(out), "--benchmark-only",
           f"--benchmark-json={out / 'pytest_benchmark.json'}", "-p", "no:cacheprovider", "-q",
           "-k", "end-to-end-crops or train-crops or M5-b1-cost-crops"]
    env = {**os.environ, "HMR_BENCH_CACHE": str(tmp_path / "cache")}
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]

    series = fps_series(load_bench(out))
    assert [(s.backbone, s.batch, sorted(s.fps)) for s in series] == [("cnn-tiny", 1, [1, 2]), ("cnn-tiny", 2, [1, 2])]
    assert all(" · fp32 · contiguous" in s.device for s in series)

    (full,) = out.glob("hmr_bench_cpu-*_fp32_contiguous_torch*.json")
    rows = json.loads(full.read_text())["results"]
    train = [r for r in rows if r.get("scope") == "train-step"]
    assert len(train) == 1 and train[0]["step_vs_backbone"] > 0 and "backward" in train[0]["breakdown_ms"]
    cost = [r for r in rows if r.get("scope") == "cost"]
    assert len(cost) == 1 and cost[0]["macs"]["end_to_end"] == sum(v for k, v in cost[0]["macs"].items()
                                                                    if k != "end_to_end")
