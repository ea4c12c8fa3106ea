"""Results store: round trips of runs, metrics and samples, run life cycle, bad URLs and password redaction."""

from __future__ import annotations

import json
import multiprocessing as mp
import pickle
import sys
import time

import numpy as np
import pytest

from hmr_bench.errors import InputError
from hmr_bench.store import ResultsStore, RunConflictError, default_url, redact_url
from hmr_bench.store.redact import redact_obj, redact_text
from tests.store import BACKENDS, backend_url, count_rows, raw_rows

CFG = {"lr": 1e-4, "fusion": "raf", "rois": [1, 2, 4], "nested": {"w": 0.5}}


@pytest.fixture(params=BACKENDS)
def url(request, tmp_path):
    return backend_url(request.param, tmp_path)


@pytest.fixture
def store(url):
    s = ResultsStore(url)
    yield s
    s.close()


def _start(store, h="h1", variant="full", seed=0, **kw):
    return store.start_run(h, "table2", variant, seed, "cpu", CFG, "synth-abc", {"hostname": "box", "threads": 2},
                           **kw)


# ------------------------------------------------------------------ runs

def test_run_round_trip(store):
    t0 = time.time()
    rid = _start(store, git_sha="deadbeef")
    run = store.get_run(rid)
    assert run["config_hash"] == "h1" and run["table"] == "table2" and run["variant"] == "full"
    assert run["seed"] == 0 and run["profile"] == "cpu" and run["status"] == "running"
    assert run["config"] == CFG and run["env"] == {"hostname": "box", "threads": 2}
    assert run["dataset_key"] == "synth-abc" and run["git_sha"] == "deadbeef"
    assert t0 - 1 <= run["created_at"] == run["started_at"] <= run["heartbeat_at"] <= time.time() + 1
    assert store.find_finished("h1") is None  # running is not finished
    store.finish_run(rid, wall_time=12.5)
    done = store.find_finished("h1")
    assert done["run_id"] == rid and done["status"] == "finished" and done["wall_time"] == 12.5
    assert done["finished_at"] >= done["started_at"]


def test_runs_filters(store):
    a = _start(store, "ha", "full")
    b = store.start_run("hb", "table3", "m2", 1, "cpu", {}, None, {})
    c = _start(store, "hc", "no-raf")
    store.finish_run(a, 1.0)
    store.fail_run(c, "boom")
    assert [r["run_id"] for r in store.runs()] == [a, b, c]
    assert [r["run_id"] for r in store.runs(table="table2")] == [a, c]
    assert [r["run_id"] for r in store.runs(status="failed")] == [c]
    assert [r["run_id"] for r in store.runs(table="table3", status="running")] == [b]
    with pytest.raises(InputError, match="status"):
        store.runs(status="done")


def test_default_env_is_recorded(store):
    rid = store.start_run("h", "table2", "full", 0, "cpu", {}, None, None)
    env = store.get_run(rid)["env"]
    assert {"hostname", "python", "torch", "threads", "device"} <= set(env)
    assert env["python"] == ".".join(map(str, sys.version_info[:3]))


def test_failed_run_is_not_finished_and_can_be_rerun(store):
    rid = _start(store)
    store.fail_run(rid, "NaN loss at step 3")
    assert store.find_finished("h1") is None
    run = store.get_run(rid)
    assert run["status"] == "failed" and run["message"] == "NaN loss at step 3"
    rid2 = store.claim_run("h1", "table2", "full", 0, "cpu", CFG, "synth-abc", {})
    assert rid2 is not None and rid2 != rid
    with pytest.raises(RunConflictError, match="failed"):
        store.finish_run(rid, 1.0)


def test_finished_config_is_a_noop_unless_forced(store):
    rid = _start(store)
    store.finish_run(rid, 3.0)
    assert store.claim_run("h1", "table2", "full", 0, "cpu", CFG) is None
    with pytest.raises(RunConflictError, match="finished already"):
        _start(store)
    assert len(store.runs()) == 1
    with pytest.raises(RunConflictError):
        store.fail_run(rid, "too late")

    new = _start(store, force=True)
    # the old result stays valid until the forced run finishes
    assert store.find_finished("h1")["run_id"] == rid
    store.finish_run(new, 4.0)
    assert store.find_finished("h1")["run_id"] == new
    old = store.get_run(rid)
    assert old["status"] == "superseded" and old["superseded_by"] == new
    assert [r["status"] for r in store.runs()] == ["superseded", "finished"]


def test_live_claim_blocks_and_stale_claim_is_taken_over(store):
    first = store.claim_run("h1", "table2", "full", 0, "cpu", {}, stale_after_s=0.5)
    assert first is not None
    assert store.claim_run("h1", "table2", "full", 0, "cpu", {}, stale_after_s=0.5) is None
    with pytest.raises(RunConflictError, match="being run by run"):
        store.start_run("h1", "table2", "full", 0, "cpu", {}, stale_after_s=0.5)
    time.sleep(0.3)
    assert store.heartbeat(first) is True  # the heartbeat keeps the claim alive past 0.5 s from the start
    time.sleep(0.3)
    assert store.claim_run("h1", "table2", "full", 0, "cpu", {}, stale_after_s=0.5) is None
    time.sleep(0.6)  # now 0.6 s without heartbeat > 0.5 s
    second = store.claim_run("h1", "table2", "full", 0, "cpu", {}, stale_after_s=0.5)
    assert second is not None and second != first
    old = store.get_run(first)
    assert old["status"] == "failed" and old["message"].startswith("stale")
    assert store.heartbeat(first) is False  # the old worker learns it lost the claim
    with pytest.raises(RunConflictError):
        store.finish_run(first, 1.0)
    store.finish_run(second, 1.0)
    assert store.find_finished("h1")["run_id"] == second


def test_forced_claim_never_takes_over_a_live_run_but_takes_a_stale_one(store):
    first = _start(store)
    assert store.claim_run("h1", "table2", "full", 0, "cpu", CFG, force=True) is None
    with pytest.raises(RunConflictError, match=r"being run by run .* on box .*taken over once its heartbeat is 600 s"):
        _start(store, force=True)
    assert store.get_run(first)["status"] == "running" and store.heartbeat(first)
    time.sleep(0.3)
    second = _start(store, force=True, stale_after_s=0.2)  # 0.3 s without heartbeat > 0.2 s
    assert store.get_run(first)["status"] == "failed" and store.get_run(first)["message"].startswith("stale")
    assert store.get_run(second)["status"] == "running"


def test_unknown_run_and_bad_arguments(store):
    with pytest.raises(InputError, match="run_id"):
        store.log_metrics("no-such-run", "val", "synth", {"mpjpe": 1.0})
    with pytest.raises(InputError, match="run_id"):
        store.finish_run("no-such-run", 1.0)
    rid = _start(store)
    with pytest.raises(InputError, match="split"):
        store.log_metrics(rid, "validation", "synth", {"mpjpe": 1.0})
    with pytest.raises(InputError, match="seed"):
        store.start_run("h9", "table2", "full", "0", "cpu", {})
    with pytest.raises(InputError, match="a number"):
        store.log_metrics(rid, "val", "synth", {"mpjpe": "high"})
    with pytest.raises(InputError, match="config"):
        store.start_run("h9", "table2", "full", 0, "cpu", {"f": object()})
    assert count_rows(store_url(store), "metrics") == 0


def store_url(store) -> str:
    return store._url.render_as_string(hide_password=False)


# ------------------------------------------------------------------ metrics and curves

def test_metrics_final_and_curves(store):
    rid = _start(store)
    other = _start(store, "h2", "no-raf", seed=1)
    for epoch, v in [(2, 70.0), (0, 90.0), (1, 80.0), (1, 79.0)]:  # out of order; epoch 1 logged twice
        store.log_metrics(rid, "val", "synth", {"mpjpe": v, "pa_mpjpe": v / 2}, epoch=epoch, step=100 * epoch)
    store.log_metrics(rid, "test", "synth", {"mpjpe": 65.5, "pve": np.float32(80.25)})
    store.log_metrics(rid, "test", "h36m-p2", {"mpjpe": float("nan")})
    store.log_metrics(other, "test", "synth", {"mpjpe": 72.0})

    assert store.metrics() == []  # default: finished runs only
    store.finish_run(rid, 1.0)
    final = store.metrics()
    assert [(m["dataset"], m["name"], m["value"]) for m in final[:2]] == [("synth", "mpjpe", 65.5),
                                                                          ("synth", "pve", 80.25)]
    assert len(final) == 3 and np.isnan(final[2]["value"]) and final[2]["dataset"] == "h36m-p2"
    assert all(m["epoch"] is None and m["variant"] == "full" and m["table"] == "table2" for m in final)
    assert len(store.metrics(status=None)) == 4
    assert [m["value"] for m in store.metrics(run_ids=[other], status=None)] == [72.0]
    everything = store.metrics(run_ids=[rid], final_only=False, split="val")
    assert len(everything) == 6 and all(m["split"] == "val" for m in everything)  # 3 epochs x 2 names
    assert [m["value"] for m in everything if m["name"] == "mpjpe"] == [70.0, 90.0, 79.0]  # order of last logging
    store.log_metrics(rid, "test", "synth", {"mpjpe": 64.0})  # re-evaluated: the new value replaces the old
    assert [(m["name"], m["value"]) for m in store.metrics(run_ids=[rid], dataset="synth")] == \
        [("pve", 80.25), ("mpjpe", 64.0)]

    c = store.curve(rid, "mpjpe")
    np.testing.assert_array_equal(c["epoch"], [0, 1, 2])
    np.testing.assert_array_equal(c["value"], [90.0, 79.0, 70.0])  # the later log of epoch 1 wins
    np.testing.assert_array_equal(c["step"], [0, 100, 200])
    np.testing.assert_array_equal(store.curve(rid, "pa_mpjpe")["value"], [45.0, 39.5, 35.0])
    assert store.curve(rid, "mpjpe", split="test")["epoch"].shape == (0,)  # final values are not curve points


def test_curve_needs_dataset_when_ambiguous(store):
    rid = _start(store)
    store.log_metrics(rid, "val", "a", {"m": 1.0}, epoch=0)
    store.log_metrics(rid, "val", "b", {"m": 2.0}, epoch=0)
    with pytest.raises(InputError, match=r"dataset.*\['a', 'b'\]"):
        store.curve(rid, "m")
    assert store.curve(rid, "m", dataset="b")["value"].tolist() == [2.0]


# ------------------------------------------------------------------ samples

def test_samples_round_trip_1000x14(store):
    rng = np.random.default_rng(0)
    n = 1000
    rid = _start(store)
    idx = rng.permutation(np.arange(5000))[:n]  # sparse, unsorted
    actions = np.array(["walking", "sitting", "reaching"])[rng.integers(0, 3, n)]
    mpjpe, pa = rng.uniform(20, 200, n), rng.uniform(10, 100, n)
    joints = rng.uniform(0, 300, (n, 14))
    t = time.perf_counter()
    store.log_samples(rid, "test", "synth", idx, actions, {"mpjpe": mpjpe, "pa_mpjpe": pa}, per_joint=joints)
    elapsed = time.perf_counter() - t
    assert elapsed < 2.0, f"logging 1000 samples x 14 joints took {elapsed:.2f} s"  # ~0.06 s measured, loose bound

    order = np.argsort(idx)
    got = store.samples(rid, "test", "mpjpe")
    np.testing.assert_array_equal(got["index"], np.sort(idx))
    np.testing.assert_array_equal(got["value"], mpjpe[order])  # float64 kept exactly
    np.testing.assert_array_equal(got["action"], actions[order])
    assert got["per_joint"].dtype == np.float32
    np.testing.assert_array_equal(got["per_joint"], joints[order].astype(np.float32))
    got_pa = store.samples(rid, "test", "pa_mpjpe")
    np.testing.assert_array_equal(got_pa["value"], pa[order])
    assert got_pa["per_joint"] is None  # an array per_joint goes with the first metric only
    assert count_rows(store_url(store), "samples") == 2 * n


def test_samples_in_batches_per_joint_dict_and_duplicates(store):
    rid = _start(store)
    store.log_samples(rid, "test", "d", [0, 1], ["a", "b"], {"m": [1.0, 2.0], "p": [3.0, 4.0]},
                      per_joint={"p": np.arange(6.0).reshape(2, 3)})
    store.log_samples(rid, "test", "d", [2], None, {"m": [float("nan")], "p": [5.0]})
    got = store.samples(rid, "test", "p")
    assert got["index"].tolist() == [0, 1, 2] and got["action"].tolist() == ["a", "b", ""]
    np.testing.assert_array_equal(got["per_joint"][:2], [[0, 1, 2], [3, 4, 5]])
    assert np.isnan(got["per_joint"][2]).all()  # the second batch had no per-joint errors
    m = store.samples(rid, "test", "m")
    assert m["value"][:2].tolist() == [1.0, 2.0] and np.isnan(m["value"][2]) and m["per_joint"] is None
    with pytest.raises(InputError, match="already logged.*index 1"):
        store.log_samples(rid, "test", "d", [1, 3], None, {"m": [9.0, 9.0]})
    assert count_rows(store_url(store), "samples") == 6  # the failed batch wrote nothing (not even index 3)
    with pytest.raises(InputError, match=r"per_joint.*shape \(3, J\)"):
        store.log_samples(rid, "val", "d", [0, 1, 2], None, {"m": [1, 2, 3]}, per_joint=np.zeros((2, 14)))
    with pytest.raises(InputError, match=r"values\['m'\]"):
        store.log_samples(rid, "val", "d", [0, 1], None, {"m": [1, 2, 3]})
    with pytest.raises(InputError, match="repeated"):
        store.log_samples(rid, "val", "d", [0, 0], None, {"m": [1, 2]})
    with pytest.raises(InputError, match="per_joint"):
        store.log_samples(rid, "val", "d", [0], None, {"m": [1]}, per_joint={"x": np.zeros((1, 14))})


# ------------------------------------------------------------------ opening, processes, schema

def test_default_url_and_plain_path(tmp_path, monkeypatch):
    monkeypatch.setenv("HMR_BENCH_CACHE", str(tmp_path / "cache"))
    assert default_url() == f"sqlite:///{tmp_path / 'cache' / 'results.sqlite'}"
    s = ResultsStore()
    assert (tmp_path / "cache" / "results.sqlite").is_file()
    assert s.describe()["dialect"] == "sqlite"
    p = ResultsStore(tmp_path / "sub" / "r.db")  # a plain path is a SQLite file; folders are created
    rid = _start(p)
    assert ResultsStore(f"sqlite:///{tmp_path / 'sub' / 'r.db'}").get_run(rid)["variant"] == "full"


def test_sqlite_runs_in_wal_mode(tmp_path):
    import sqlite3

    ResultsStore(tmp_path / "r.sqlite")
    with sqlite3.connect(tmp_path / "r.sqlite") as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _child_logs(store, run_id, q):
    store.log_metrics(run_id, "val", "synth", {"from_child": 1.0})
    q.put(store._engine_pid)


def test_store_survives_pickle_and_fork(tmp_path):
    s = ResultsStore(tmp_path / "r.sqlite")
    rid = _start(s)
    s2 = pickle.loads(pickle.dumps(s))
    assert s2._engine_obj is None
    s2.log_metrics(rid, "val", "synth", {"x": 1.0})
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child_logs, args=(s, rid, q))
    p.start()
    child_pid = q.get(timeout=30)
    p.join(30)
    assert p.exitcode == 0 and child_pid == p.pid  # the child built its own engine
    s.log_metrics(rid, "val", "synth", {"after_fork": 1.0})  # the parent's engine still works
    names = sorted(m["name"] for m in s.metrics(status=None))
    assert names == ["after_fork", "from_child", "x"]


def test_schema_version_mismatch_is_refused(tmp_path):
    import sqlite3

    ResultsStore(tmp_path / "r.sqlite")
    with sqlite3.connect(tmp_path / "r.sqlite") as con:
        con.execute("UPDATE store_info SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(InputError, match="schema_version.*found 99"):
        ResultsStore(tmp_path / "r.sqlite")


# ------------------------------------------------------------------ bad URLs and redaction

def _bad_urls(tmp_path):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "junk.sqlite").write_bytes(b"not a database " * 200)
    return [
        ("nosuchdb://user:secret@host/db", "unknown database dialect"),
        ("postgresql+nosuchdriver://user:secret@host/db", "unknown database dialect"),
        ("sqlite://user:secret@/" + str(tmp_path / "x.db"), "a user, password or host in a SQLite URL"),
        ("sqlite://user:secret@/relative/x.db", "a user, password or host in a SQLite URL"),
        (f"sqlite:///{tmp_path}", "is a directory"),
        (f"sqlite:///{tmp_path / 'afile' / 'r.sqlite'}", "is a file, not a folder"),
        (f"sqlite:///{tmp_path / 'junk.sqlite'}", "not a database"),
    ]


def test_bad_urls_raise_input_error_without_password(tmp_path):
    for url, why in _bad_urls(tmp_path):
        with pytest.raises(InputError) as ei:
            ResultsStore(url)
        msg = str(ei.value)
        assert why in msg and "expected" in msg, msg
        assert "secret" not in msg and "secret" not in str(ei.value.source) and "\n" not in msg
        assert ei.value.__cause__ is None  # no chained exception that could print the URL


def test_postgres_url_without_driver_is_clear_and_redacted(monkeypatch):
    for mod in ("psycopg", "psycopg2"):
        monkeypatch.setitem(sys.modules, mod, None)  # importing it now fails as if it were not installed
    for url in ("postgresql://user:secret@nonexistent.invalid/db", "postgresql+psycopg2://user:secret@h/db"):
        with pytest.raises(InputError) as ei:
            ResultsStore(url)
        msg = str(ei.value)
        assert "secret" not in msg and "user:***@" in msg
        assert "driver" in msg and "not installed" in msg and "pip install" in msg


def test_unreachable_postgres_fails_fast_and_redacted():
    pytest.importorskip("psycopg")
    t = time.perf_counter()
    with pytest.raises(InputError) as ei:
        ResultsStore("postgresql://user:secret@nonexistent.invalid/db", connect_timeout_s=2)
    assert time.perf_counter() - t < 10
    msg = str(ei.value)
    assert "secret" not in msg and "postgresql://user:***@nonexistent.invalid/db" in msg
    assert "could not be opened" in msg


def test_redact_url_and_text():
    assert redact_url("postgresql://user:secret@host:5432/db") == "postgresql://user:***@host:5432/db"
    assert redact_url("sqlite:////tmp/r.sqlite") == "sqlite:////tmp/r.sqlite"
    assert redact_url("postgresql+psycopg://u:p%40ss@h/db?sslmode=require") == \
        "postgresql+psycopg://u:***@h/db?sslmode=require"
    assert redact_text("connect postgresql://u:pw@h/db failed; retry mysql://a:b:c@h2 ok") == \
        "connect postgresql://u:***@h/db failed; retry mysql://a:***@h2 ok"
    assert redact_text("see http://host:8080/path") == "see http://host:8080/path"  # a port is no password
    assert redact_text("pw s3cr3t! used", secrets=["s3cr3t!"]) == "pw *** used"
    got = redact_obj({"PGPASSWORD": "x", "db_password": "y", "api_key": "z", "auth-token": "t",
                      "tokenizer": "bpe", "passes": 3, "url": "postgresql://u:pw@h/d", "list": ["a://u:pw@h"]})
    assert got == {"PGPASSWORD": "***", "db_password": "***", "api_key": "***", "auth-token": "***",
                   "tokenizer": "bpe", "passes": 3, "url": "postgresql://u:***@h/d", "list": ["a://u:***@h"]}


def test_no_password_in_rows_env_or_messages(url, tmp_path, caplog):
    """A URL with a password in the config, the environment and a failure message never reaches the database."""
    pg = "postgresql://hmr:secret@db.example.org/results"
    s = ResultsStore(url)
    caplog.set_level("DEBUG", logger="hmr_bench.store")
    env = {"hostname": "box", "results_store": pg, "PGPASSWORD": "secret", "argv": ["--store", pg]}
    rid = s.start_run("h1", "table2", "full", 0, "cpu", {"store_url": pg, "nested": {"password": "secret"}},
                      "synth", env)
    s.fail_run(rid, f"lost connection to {pg}")
    s.start_run("h1", "table2", "full", 0, "cpu", {}, None, env)
    assert s.claim_run("h1", "table2", "full", 0, "cpu", {}, None, env) is None  # logs why it was not claimed
    run = s.get_run(rid)
    assert run["env"]["results_store"] == "postgresql://hmr:***@db.example.org/results"
    assert run["env"]["PGPASSWORD"] == "***" and run["env"]["argv"][1] == "postgresql://hmr:***@db.example.org/results"
    assert run["message"] == "lost connection to postgresql://hmr:***@db.example.org/results"
    stored = json.dumps(raw_rows(store_url(s), "runs"), default=str)
    assert "db.example.org" in stored and "secret" not in stored
    assert "secret" not in caplog.text and "secret" not in json.dumps(s.describe()) and "secret" not in repr(s)
    own = s._url.password  # the store's own password (PostgreSQL backend) is kept out as well
    if own:
        s.fail_run(s.claim_run("h2", "table2", "full", 0, "cpu", {"url": store_url(s)}, None, {}), f"auth {own}")
        assert str(own) not in json.dumps(raw_rows(store_url(s), "runs"), default=str)
        assert str(own) not in json.dumps(s.describe()) + caplog.text
