"""Results store under concurrent writers: two spawned processes on one database lose nothing and never both
claim one config."""

from __future__ import annotations

import multiprocessing as mp
import queue
import time

import numpy as np
import pytest

from hmr_bench.store import ResultsStore
from tests.store import BACKENDS, backend_url, count_rows

N_METRIC_CALLS, N_SAMPLE_BATCHES, BATCH = 200, 50, 20
N_CONFIGS = 25


@pytest.fixture(params=BACKENDS)
def url(request, tmp_path):
    return backend_url(request.param, tmp_path)


def _writer(url: str, worker: int, barrier, out) -> None:
    """Logs N_METRIC_CALLS metric rows and N_SAMPLE_BATCHES batches of BATCH samples x 2 metrics for its own run."""
    store = ResultsStore(url)  # opened in the child: its own engine
    rid = store.start_run(f"cfg-{worker}", "table2", f"v{worker}", worker, "smoke", {"worker": worker}, None, {})
    barrier.wait(timeout=60)
    for i in range(N_METRIC_CALLS):
        store.log_metrics(rid, "val", "synth", {"mpjpe": float(i)}, epoch=i)
    rng = np.random.default_rng(worker)
    for b in range(N_SAMPLE_BATCHES):
        idx = np.arange(b * BATCH, (b + 1) * BATCH)
        values = {"mpjpe": rng.random(BATCH), "pa_mpjpe": rng.random(BATCH)}
        store.log_samples(rid, "test", "synth", idx, ["walking"] * BATCH, values, per_joint=rng.random((BATCH, 14)))
        store.heartbeat(rid)
    store.finish_run(rid, 1.0)
    out.put((worker, rid))


def _claimer(url: str, worker: int, barrier, out) -> None:
    """Tries to claim every config at the same moment as the other worker (a barrier before each); reports what it
    won."""
    store = ResultsStore(url)
    won = []
    for c in range(N_CONFIGS):
        barrier.wait(timeout=60)
        if store.claim_run(f"cfg-{c}", "table2", "full", c, "smoke", {}, None, {}) is not None:
            won.append(c)
    out.put((worker, won))


def _run_two(target, url: str) -> dict:
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=target, args=(url, w, barrier, out)) for w in range(2)]
    for p in procs:
        p.start()
    results, deadline = {}, time.monotonic() + 120
    try:
        while len(results) < len(procs):
            try:
                k, v = out.get(timeout=0.5)
                results[k] = v
            except queue.Empty:
                dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
                assert not dead and time.monotonic() < deadline, f"a worker failed (exit codes {dead}) or hung"
    finally:
        for p in procs:
            p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    return results


def test_two_processes_writing_at_once_lose_nothing(url):
    ResultsStore(url).close()  # schema exists before the race (creation races are tested below)
    results = _run_two(_writer, url)
    assert count_rows(url, "metrics") == 2 * N_METRIC_CALLS
    assert count_rows(url, "samples") == 2 * N_SAMPLE_BATCHES * BATCH * 2
    store = ResultsStore(url)
    for rid in results.values():
        assert store.get_run(rid)["status"] == "finished"
        np.testing.assert_array_equal(store.curve(rid, "mpjpe")["value"], np.arange(N_METRIC_CALLS, dtype=float))
        s = store.samples(rid, "test", "pa_mpjpe")
        np.testing.assert_array_equal(s["index"], np.arange(N_SAMPLE_BATCHES * BATCH))
        assert s["per_joint"] is None and store.samples(rid, "test", "mpjpe")["per_joint"].shape == (1000, 14)


def test_claim_race_exactly_one_winner_per_config(url):
    # no store opened beforehand: the two workers also race to create the schema
    results = _run_two(_claimer, url)
    won0, won1 = set(results[0]), set(results[1])
    assert won0.isdisjoint(won1) and won0 | won1 == set(range(N_CONFIGS))
    assert count_rows(url, "runs") == N_CONFIGS
    assert count_rows(url, "runs", "WHERE status = 'running'") == N_CONFIGS
