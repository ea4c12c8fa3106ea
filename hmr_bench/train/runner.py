"""Run a paper table: every row × seed as an independent run, cached by config hash in the results store.

Re-running a table skips finished runs (``force`` re-runs them); ``shard=(i, n)`` takes every n-th job so n
machines can split a table while writing one store; a run another live worker holds is skipped; a run left
``running`` by a dead process on this host is taken over and resumes from its last checkpoint.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from hmr_bench.config import RunConfig, apply_overrides
from hmr_bench.errors import InputError, NonFiniteLossError
from hmr_bench.profiles import DEFAULT_SEEDS, profile_config
from hmr_bench.tables import Row, Table, load_table

log = logging.getLogger(__name__)


@dataclass
class Job:
    table: str
    row: Row
    seed: int
    cfg: RunConfig


@dataclass
class JobOutcome:
    job: Job
    status: str  # finished | skipped (cached) | busy (another worker) | failed
    config_hash: str
    message: str = ""


def git_sha() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def parse_shard(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        i, n = -1, 0
    if not (n >= 1 and 0 <= i < n):
        raise InputError("--shard", found=repr(text), expected="i/n with 0 <= i < n, e.g. 0/2")
    return i, n


def table_jobs(table: Table, profile: str, seeds=None, overrides: dict | None = None,
               variants: list[str] | None = None, shard: tuple[int, int] | None = None) -> list[Job]:
    base = apply_overrides(profile_config(profile), overrides or {}, source="--set")
    rows = table.rows_for(profile)
    if variants:
        rows = tuple(table.row(v) for v in variants)
    seeds = DEFAULT_SEEDS[profile] if seeds is None else tuple(seeds)
    jobs = []
    for row in rows:
        cfg = apply_overrides(base, row.overrides, source=f"{table.name}/{row.name}")
        for seed in seeds:
            jobs.append(Job(table.name, row, seed, apply_overrides(cfg, {"train.seed": seed})))
    if shard:
        i, n = shard
        jobs = jobs[i::n]
    return jobs


def _dead_local_claim(store, config_hash: str) -> bool:
    """True when the live-looking claim of `config_hash` belongs to a process of this host that has died."""
    import json

    for run in store.runs(status="running"):
        if run["config_hash"] != config_hash:
            continue
        env = run["env"] if isinstance(run["env"], dict) else json.loads(run["env"] or "{}")
        if env.get("hostname") == socket.gethostname() and env.get("pid"):
            try:
                os.kill(int(env["pid"]), 0)
            except ProcessLookupError:
                return True
            except PermissionError:
                return False
    return False


def run_table(name: str, profile: str = "cpu", *, seeds=None, store_url: str | None = None,
              data_root: str | None = None, force: bool = False, shard: str | None = None,
              variants: list[str] | None = None, overrides: dict | None = None, device: str = "cpu",
              progress: bool = True) -> list[JobOutcome]:
    from hmr_bench.store import ResultsStore
    from hmr_bench.store.store import runtime_env
    from hmr_bench.train.data import build_data
    from hmr_bench.train.trainer import train_run

    table = load_table(name)
    jobs = table_jobs(table, profile, seeds, overrides, variants, parse_shard(shard))
    store = ResultsStore(store_url)
    sha = git_sha()
    data_cache: dict[str, object] = {}
    outcomes = []
    for job in tqdm(jobs, desc=f"{name} ({profile})", unit="run", disable=not progress):
        data_id = repr((job.cfg.data, job.cfg.body_model))
        if data_id not in data_cache:
            data_cache[data_id] = build_data(job.cfg, data_root)
        data = data_cache[data_id]
        config_hash = job.cfg.hash(data.key)
        if not force and store.find_finished(config_hash):
            outcomes.append(JobOutcome(job, "skipped", config_hash, "finished before (cached)"))
            continue
        claim = dict(config_hash=config_hash, table=name, variant=job.row.name, seed=job.seed, profile=profile,
                     config=job.cfg.to_dict(), dataset_key=data.key, env=runtime_env(device), git_sha=sha)
        run_id = store.claim_run(**claim, force=force)
        if run_id is None and _dead_local_claim(store, config_hash):
            run_id = store.claim_run(**claim, force=True)
        if run_id is None:
            outcomes.append(JobOutcome(job, "busy", config_hash, "another worker is running it"))
            continue
        if force:
            from hmr_bench.train.trainer import run_dir

            for f in ("last.pt", "best.pt"):
                (run_dir(config_hash) / f).unlink(missing_ok=True)
        try:
            result = train_run(job.cfg, data, config_hash, store=store, run_id=run_id, device=device,
                               progress=progress)
        except NonFiniteLossError as e:
            store.fail_run(run_id, f"non-finite loss: {e}")
            log.warning("%s/%s seed %d failed: %s", name, job.row.name, job.seed, e)
            outcomes.append(JobOutcome(job, "failed", config_hash, str(e)))
            continue
        except BaseException as e:
            store.fail_run(run_id, f"{type(e).__name__}: {e}")
            raise
        store.finish_run(run_id, result.wall_time)
        outcomes.append(JobOutcome(job, "finished", config_hash))
    return outcomes
