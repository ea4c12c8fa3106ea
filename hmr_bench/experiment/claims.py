"""Claiming a run in the results store: at most one worker runs a config; a claim left `running` by a dead process
of this host is marked failed ("interrupted") and taken over, so the run resumes from its last checkpoint.

    run_id = claim_or_take_over(store, claim)      # None: finished before, or a live worker holds it
    live_claim(store, config_hash)                 # "run <id> on <host> (pid <pid>, last heartbeat <n> s ago)"
"""

from __future__ import annotations

import logging
import os
import socket
import time

from hmr_bench.io import pid_alive

log = logging.getLogger(__name__)


def dead_local_claims(store, config_hash: str) -> list[dict]:
    """The ``running`` rows of `config_hash` claimed by a process of this host that no longer exists (killed,
    crashed); their heartbeats may still look fresh."""
    dead = []
    for run in store.runs(status="running"):
        if run["config_hash"] != config_hash:
            continue
        env = run["env"] if isinstance(run["env"], dict) else {}
        # alive under another user, or not a pid: left to the stale-heartbeat rule
        if env.get("hostname") == socket.gethostname() and env.get("pid") and not pid_alive(env["pid"]):
            dead.append(run)
    return dead


def claim_or_take_over(store, claim: dict, force: bool = False) -> str | None:
    """Claims a run (`store.claim_run(**claim)`); when another row of its config is ``running``, one left by a dead
    process of this host is marked failed and taken over. Returns the run_id, or None: finished before (unless
    `force`) or held by a live worker (also with `force`: a forced run never takes a live run over)."""
    run_id = store.claim_run(**claim, force=force)
    if run_id is not None:
        return run_id
    dead = dead_local_claims(store, claim["config_hash"])
    for run in dead:
        store.fail_run(run["run_id"], f"interrupted: its process (pid {run['env']['pid']} on this host) died; "
                       f"taken over by pid {os.getpid()}")
        log.info("taking over run %s of %s (its process died)", run["run_id"], claim["config_hash"])
    return store.claim_run(**claim, force=force) if dead else None


def live_claim(store, config_hash: str) -> str:
    """Who runs `config_hash` now: "run <id> on <host> (pid <pid>, last heartbeat <n> s ago)", or '' if nobody."""
    for run in store.runs(status="running"):
        if run["config_hash"] == config_hash:
            env = run["env"] if isinstance(run["env"], dict) else {}
            beat = run.get("heartbeat_at") or run.get("created_at") or time.time()
            return (f"run {run['run_id']} on {env.get('hostname', '?')} (pid {env.get('pid', '?')}, last heartbeat "
                    f"{time.time() - beat:.0f} s ago)")
    return ""
