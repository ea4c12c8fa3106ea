"""The results frames (`store.frames`) and the views made from them (`experiment.table_results`) on a tiny store
written by hand: row counts of each frame, and every mean, CI, paired difference, breakdown, curve, CSV cell and
Markdown cell against numbers computed here with numpy / scipy from the same hand-written values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from hmr_bench.experiment import table_results as views
from hmr_bench.store import ResultsStore, frames
from hmr_bench.tables import Claim, Row, Table

TABLE = Table(name="tiny", title="Tiny. Hand-made", reference="full",
              rows=(Row("full", "Full", paper={"mpjpe": 80.0}), Row("no-x", "No X", paper={"mpjpe": 83.0})),
              claims=(Claim("no-x", "removing X hurts", "tiny", "mpjpe", "no-x", "full", 1, 3.0),))
MPJPE = {"full": {0: 90.0, 1: 92.0, 2: 91.0}, "no-x": {0: 93.5, 1: 94.0, 2: 95.5}}
ACTIONS = ["walk", "sit", "walk", ""]  # the last sample has no action
ERR = {("full", 0): [10.0, 20.0, 30.0, 40.0], ("full", 1): [12.0, 22.0, 32.0, 42.0]}
JOINTS = {("full", 0): [[1.0, 2.0], [3.0, np.nan], [5.0, 6.0], [7.0, 8.0]],
          ("full", 1): [[2.0, 2.0], [2.0, 2.0], [2.0, 2.0], [2.0, 4.0]]}
VAL = {("full", 0): [100.0, 95.0, 90.0], ("full", 1): [104.0, 97.0], ("no-x", 0): [110.0, 101.0, 99.0]}


@pytest.fixture
def store(tmp_path):
    s = ResultsStore(f"sqlite:///{tmp_path / 'r.sqlite'}")
    for row, seeds in MPJPE.items():
        for seed, v in seeds.items():
            rid = s.claim_run(f"{row}-{seed}", "tiny", row, seed, "cpu", {}, "key")
            s.log_metrics(rid, "test", "synth-test", {"mpjpe": v, "pa_mpjpe": v / 2})
            if (row, seed) in ERR:
                s.log_samples(rid, "test", "synth-test", np.arange(4), ACTIONS, {"mpjpe": ERR[row, seed]},
                              per_joint=np.array(JOINTS[row, seed]))
            for epoch, x in enumerate(VAL.get((row, seed), [])):
                s.log_metrics(rid, "val", "synth-val", {"mpjpe": x}, epoch=epoch)
            s.finish_run(rid, wall_time=1.0)
    s.fail_run(s.claim_run("no-x-9", "tiny", "no-x", 9, "cpu", {}, "key"), "boom")
    return s


def test_frames_have_one_row_per_unit(store):
    runs = frames.runs(store, table="tiny")
    assert len(runs) == 7 and (runs["status"] == "failed").sum() == 1  # 6 finished + 1 failed
    assert list(runs.columns) == list(frames.RUN_COLUMNS)
    m = frames.metrics(store, runs["run_id"], split="test")
    assert len(m) == 6 * 2 and set(m["metric"]) == {"mpjpe", "pa_mpjpe"}  # failed run: no metrics
    per_sample, per_joint = frames.samples(store, runs["run_id"], "test", "mpjpe")
    assert len(per_sample) == 2 * 4 and len(per_joint) == 2 * 4 * 2  # 2 runs × 4 samples (× 2 joints)
    assert per_joint["value"].isna().sum() == 1  # the one NaN joint of the hand-written values
    c = frames.curves(store, runs["run_id"], ("mpjpe",))
    assert len(c) == 3 + 2 + 3 and c["epoch"].tolist()[:3] == [0, 1, 2]


def _t_ci(values):
    a = np.asarray(values, dtype=float)
    half = sps.t.ppf(0.975, len(a) - 1) * a.std(ddof=1) / math.sqrt(len(a))
    return a.mean(), a.mean() - half, a.mean() + half


def test_table_result_means_cis_and_paired_differences(store):
    res = views.table_result(store, TABLE, "cpu")
    rows = {r.name: r for r in res.rows}
    for row, seeds in MPJPE.items():
        mean, low, high = _t_ci(list(seeds.values()))
        iv = rows[row].mean["mpjpe"]
        assert (iv.mean, iv.low, iv.high, iv.n) == pytest.approx((mean, low, high, 3))
    d = [MPJPE["no-x"][s] - MPJPE["full"][s] for s in (0, 1, 2)]  # 3.5, 2.0, 4.5
    mean, low, high = _t_ci(d)
    diff = rows["no-x"].diff["mpjpe"]
    assert (diff.mean, diff.low, diff.high) == pytest.approx((mean, low, high)) and mean == pytest.approx(10 / 3)
    assert rows["no-x"].failed == 1 and rows["full"].failed == 0
    (claim, a), = res.claims
    assert low > 0 and a.verdict == "reproduced"  # the CI (≈ [0.21, 6.46]) excludes 0 on the paper's side
    per_seed = views.diffs(res)
    assert per_seed[per_seed["metric"] == "mpjpe"]["diff"].tolist() == pytest.approx(d)


def test_breakdown_and_curves(store):
    res = views.table_result(store, TABLE, "cpu")
    bd = views.breakdown(store, res.runs, "synth-test")
    # per run, per action: walk = mean of samples 0 and 2, sit = sample 1; then the mean over the two runs
    walk = np.mean([np.mean([10.0, 30.0]), np.mean([12.0, 32.0])])
    assert bd.actions == ["sit", "walk"] and bd.per_action == {"full": {"sit": 21.0, "walk": pytest.approx(walk)}}
    j0 = np.nanmean(np.array(JOINTS["full", 0]), axis=0)  # joint 1: NaN left out → (2 + 6 + 8) / 3
    j1 = np.mean(np.array(JOINTS["full", 1]), axis=0)
    assert bd.per_joint["full"] == pytest.approx((j0 + j1) / 2) and j0[1] == pytest.approx(16 / 3)
    points, summary = views.curves(store, res.runs)
    full = summary[(summary["row"] == "full") & (summary["metric"] == "mpjpe")]
    assert full["mean"].tolist() == pytest.approx([102.0, 96.0, 90.0])
    assert full["low"].tolist() == [100.0, 95.0, 90.0] and full["high"].tolist() == [104.0, 97.0, 90.0]
    assert full["n"].tolist() == [2, 2, 1] and len(points) == 8


def test_csv_and_markdown_exports(store):
    res = views.table_result(store, TABLE, "cpu")
    status = {"full": "ok", "no-x": "ok"}
    frame = views.records(res, {}, status, {})
    assert len(frame) == 2 * 2  # rows × metrics
    lines = views.to_csv(frame).splitlines()
    assert lines[0].split(",") == list(views.CSV_COLUMNS)
    no_x = next(l for l in lines if l.startswith("tiny,cpu,synth-test,no-x,No X,mpjpe,")).split(",")
    mean = np.mean(list(MPJPE["no-x"].values()))
    assert no_x[6] == "83.0" and float(no_x[7]) == pytest.approx(mean) and no_x[10:12] == ["3", "0;1;2"]
    assert no_x[15] == "3.0"  # the paper's difference 83 − 80
    md = views.markdown(res, {}, status, {}, (0, 1, 2), "hmr-bench run tiny")
    cells = [c.strip() for c in next(l for l in md.splitlines() if l.startswith("| no-x")).split("|")[1:-1]]
    _, low, high = _t_ci(list(MPJPE["no-x"].values()))
    assert cells[:4] == ["no-x", "No X", "83.0", f"{mean:.1f} ± {high - mean:.1f}"]
    assert cells[4].startswith(f"+{10 / 3:.1f} ± ")


def test_markdown_escapes_pipes():
    t = Table(name="t", title="T", reference="a", rows=(Row("a", "x | y"),))
    res = views.TableResult(t, "cpu", "synth-test", [views.RowResult("a", "x | y", {})], [],
                            values=pd.DataFrame(columns=["variant", "metric", "seed", "value", "run_id"]))
    assert "| x \\| y" in views.markdown(res, {}, {"a": "not run"}, {}, (0,), "cmd")
