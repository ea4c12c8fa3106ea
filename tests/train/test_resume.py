"""A real kill: `hmr-bench run` with one DataLoader worker is SIGKILLed in its second epoch (after the first
epoch's checkpoint), its workers exit on their own, the same command run again resumes, and the run ends with exactly
the metrics of an uninterrupted run with no worker (CPU): resuming and the number of workers change nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from hmr_bench.config import apply_overrides
from hmr_bench.experiment.runner import run_table
from hmr_bench.profiles import profile_config
from hmr_bench.store import ResultsStore
from hmr_bench.train.checkpoint import load_checkpoint
from tests.train import PYTHON, TINY, cli_env, make_cache, set_args, synth_root_fixture, tiny  # noqa: F401

OVERRIDES = tiny(train__epochs=3, data__workers=1)
COMMAND = [PYTHON, "-m", "hmr_bench.cli", "run", "table2", "--profile", "smoke", "--variants", "full", "--quiet",
           "--device", "cpu", *set_args(OVERRIDES)]


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (children, their children, ...), from /proc."""
    parent = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(stat.parent.name)] = int(fields[1])
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        kids = {c for c, pp in parent.items() if pp == p}
        out |= kids
        todo += kids
    return out


def alive(pids: set[int]) -> set[int]:
    """The pids of `pids` that still run (zombies count as ended)."""
    out = set()
    for p in pids:
        try:
            state = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            out.add(p)
    return out


def wait_for(pattern_dir, name: str, proc: subprocess.Popen, timeout_s: float = 240.0):
    """The first `name` under pattern_dir/*/ that appears while `proc` still runs."""
    t0 = time.time()
    while time.time() - t0 < timeout_s:
        found = list(pattern_dir.glob(f"*/{name}"))
        if found:
            return found[0]
        if proc.poll() is not None:
            raise AssertionError(f"the run ended (rc {proc.returncode}) before writing {name}: "
                                 + proc.stderr.read().decode()[-2000:])
        time.sleep(0.01)
    proc.kill()
    raise AssertionError(f"no {name} after {timeout_s} s")


def test_killed_run_resumes_and_ends_like_an_uninterrupted_one(tmp_path, synth_root, monkeypatch):
    killed_cache = make_cache(tmp_path / "killed", synth_root)
    env = cli_env(killed_cache)
    proc = subprocess.Popen(COMMAND, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    last = wait_for(killed_cache / "runs", "last.pt", proc)
    helpers = descendants(proc.pid)  # the forkserver and the DataLoader workers (training and validation)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert len(helpers) >= 2, helpers
    t0 = time.time()
    while alive(helpers) and time.time() - t0 < 10:
        time.sleep(0.1)
    assert not alive(helpers), f"processes of the killed run still alive after 10 s: {alive(helpers)}"
    killed = load_checkpoint(last)
    assert killed["epoch"] < 2  # there is training left to resume
    store = ResultsStore(killed_cache / "results.sqlite")
    (claim,) = store.runs(table="table2")
    assert claim["status"] == "running" and claim["env"]["pid"] == proc.pid  # left behind, heartbeat still fresh

    again = subprocess.run(COMMAND, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "runs: 1 finished" in again.stdout
    assert f"resuming full seed 0 (config {claim['config_hash']}) from epoch {killed['epoch'] + 2} of 3" in again.stderr
    old, new = store.runs(table="table2")
    assert old["run_id"] == claim["run_id"] and old["status"] == "failed"
    assert old["message"].startswith(f"interrupted: its process (pid {proc.pid} on this host) died; taken over")
    assert new["status"] == "finished" and new["config_hash"] == claim["config_hash"]
    assert load_checkpoint(last)["epoch"] == 2
    assert new["wall_time"] > killed["wall_time"] > 0  # the killed process's time is counted too

    # the same run without interruption and without DataLoader workers, in another cache and store (this process)
    whole_cache = make_cache(tmp_path / "whole", synth_root)
    monkeypatch.setenv("HMR_BENCH_CACHE", str(whole_cache))
    (outcome,) = run_table("table2", "smoke", variants=["full"], overrides=OVERRIDES | {"data.workers": 0},
                           progress=False)
    assert TINY["data.workers"] == 0 and outcome.status == "finished"
    cfgs = [apply_overrides(profile_config("smoke"), OVERRIDES | {"data.workers": w}) for w in (0, 1, None)]
    assert len({c.hash("data", code="code") for c in cfgs}) == 1  # workers are not part of the config hash
    whole = ResultsStore(whole_cache / "results.sqlite")

    def finals(s):
        return {(m["dataset"], m["name"]): m["value"] for m in s.metrics(split="test")}

    assert finals(store) == finals(whole)  # identical, not approximately equal
    assert len(finals(store)) == 4
    (w,) = whole.runs(table="table2")
    for metric in ("mpjpe", "pa_mpjpe"):
        assert store.samples(new["run_id"], "test", metric)["value"].tolist() == \
            whole.samples(w["run_id"], "test", metric)["value"].tolist()
        resumed_curve = store.curve(new["run_id"], metric)  # epochs before the kill logged again under the new run
        assert resumed_curve["epoch"].tolist() == [0, 1, 2]
        assert resumed_curve["value"].tolist() == whole.curve(w["run_id"], metric)["value"].tolist()
