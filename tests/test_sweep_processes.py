"""Sweeps across processes: a sweep SIGKILLed in the middle of a trial and started again ends with exactly N complete
trials (the interrupted one re-run once, resumed from its checkpoint); two workers on one study finish N between
them. Set HMR_BENCH_TEST_DB_URL (a PostgreSQL URL) to run the two-worker test on that database too."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid

import optuna
import pytest
from optuna.trial import TrialState

from hmr_bench.store import ResultsStore
from hmr_bench.train.checkpoint import load_checkpoint
from tests.store import BACKENDS, DB_URL_ENV
from tests.train import PYTHON, cli_env, make_cache, set_args, synth_root_fixture, tiny  # noqa: F401


def command(study: str, storage: str, n: int, epochs: int) -> list[str]:
    overrides = tiny(**{"train.epochs": epochs, "train.max_steps_per_epoch": 2})
    return [PYTHON, "-m", "hmr_bench.sweep", "--profile", "smoke", "--trials", str(n), "--study", study,
            "--storage", storage, "--pruner", "none", "--no-retrain", "--quiet", *set_args(overrides)]


def param_sets(trials) -> list[tuple]:
    return [tuple(sorted(t.params.items())) for t in trials]


def wait_for_running_trial_checkpoint(cache, variant: str, proc: subprocess.Popen, timeout_s: float = 240.0):
    """The last.pt of the run of `variant` while that run is still running (so the trial is mid-way)."""
    t0 = time.time()
    db = cache / "results.sqlite"
    while time.time() - t0 < timeout_s:
        if proc.poll() is not None:
            err = proc.stderr.read().decode()[-3000:]
            raise AssertionError(f"the sweep ended (rc {proc.returncode}) early: {err}")
        if db.exists():
            for run in ResultsStore(db).runs(status="running"):
                last = cache / "runs" / run["config_hash"] / "last.pt"
                if run["variant"] == variant and last.exists():
                    return run, last
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"no checkpoint of {variant} after {timeout_s} s")


def test_killed_sweep_restarts_with_no_trial_lost_or_duplicated(tmp_path, synth_root):
    cache = make_cache(tmp_path / "cache", synth_root)
    storage = f"sqlite:///{tmp_path / 'sweeps.sqlite'}"
    cmd = command("kill", storage, n=2, epochs=3)
    env = cli_env(cache)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    run, last = wait_for_running_trial_checkpoint(cache, "trial-1", proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    proc.stderr.close()
    killed_ck = load_checkpoint(last)
    assert killed_ck["epoch"] < 2  # killed in the middle of trial 1
    study = optuna.load_study(study_name="kill", storage=storage)
    states = {t.number: t.state for t in study.trials}
    assert states == {0: TrialState.COMPLETE, 1: TrialState.RUNNING}
    assert study.trials[1].user_attrs["pid"] == proc.pid

    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "study kill: 2 complete, 1 fail (target 2 finished; this process ran 1)" in again.stdout
    trials = optuna.load_study(study_name="kill", storage=storage).trials
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 2 and len(trials) == 3
    killed = trials[1]
    assert killed.state == TrialState.FAIL
    assert killed.user_attrs["failure"] == f"interrupted: its process (pid {proc.pid} on this host) died"
    (retry,) = [t for t in trials if t.system_attrs.get("failed_trial") == 1]
    assert retry.state == TrialState.COMPLETE and retry.params == killed.params
    assert len(set(param_sets(complete))) == 2  # no parameter set twice
    assert param_sets(complete).count(tuple(sorted(killed.params.items()))) == 1
    assert set(retry.intermediate_values) == {0, 1, 2}  # epoch 0 from before the kill, 1 and 2 after the resume

    # the results store: the killed run was taken over and resumed under the retry's variant, same config hash
    store = ResultsStore(cache / "results.sqlite")
    same = [r for r in store.runs(table="sweep:kill") if r["config_hash"] == run["config_hash"]]
    assert [(r["variant"], r["status"]) for r in same] == [("trial-1", "failed"), (f"trial-{retry.number}",
                                                                                  "finished")]
    assert same[0]["message"].startswith(f"interrupted: its process (pid {proc.pid} on this host) died")
    assert retry.user_attrs["config_hash"] == run["config_hash"]
    assert load_checkpoint(last)["epoch"] == 2
    assert same[1]["wall_time"] > killed_ck["wall_time"] > 0  # resumed: the killed process's time counts too
    finished = {r["config_hash"] for r in store.runs(table="sweep:kill", status="finished")}
    assert finished == {t.user_attrs["config_hash"] for t in complete}


@pytest.fixture(params=BACKENDS)
def storage_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'sweeps.sqlite'}"
    return os.environ[DB_URL_ENV]


def test_two_workers_finish_n_trials_between_them(tmp_path, synth_root, storage_url):
    cache = make_cache(tmp_path / "cache", synth_root)
    study_name = f"two-{uuid.uuid4().hex[:8]}"
    cmd = command(study_name, storage_url, n=4, epochs=2)
    env = cli_env(cache)
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=400) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
        assert f"study {study_name}: 4 complete" in out
    trials = optuna.load_study(study_name=study_name, storage=storage_url).trials
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 4
    assert all(t.state == TrialState.COMPLETE or t.user_attrs.get("surplus") for t in trials)  # nothing else
    assert len(set(param_sets(complete))) == 4
    assert {t.user_attrs["pid"] for t in complete} == {p.pid for p in procs}  # both worked
    store = ResultsStore(cache / "results.sqlite")
    finished = store.runs(table=f"sweep:{study_name}", status="finished")
    assert sorted(r["config_hash"] for r in finished) == sorted(t.user_attrs["config_hash"] for t in complete)
