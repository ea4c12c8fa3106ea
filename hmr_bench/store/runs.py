"""Runs in the results store: claims and their lifecycle (claim, heartbeat, finish, fail), aliases, reading runs, and
the environment recorded with a run (`runtime_env`).

The rules a claim keeps (a finished config is not run again unless forced, at most one live ``running`` row per
config, a stale claim is taken over) are listed in `hmr_bench.store.store`.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import socket
import sys
import time
import uuid
from collections.abc import Mapping

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from hmr_bench.errors import InputError, RunConflictError
from hmr_bench.store import schema
from hmr_bench.store.database import Database, require_int, require_text, unknown_run
from hmr_bench.store.redact import redact_text

log = logging.getLogger(__name__)

STALE_AFTER_S = 600.0  # a running claim without heartbeat for this long may be taken over


def runtime_env(device: str | None = None) -> dict:
    """The environment of this process for a run's provenance: hostname, python, platform, torch version,
    torch threads (None unless torch is imported), device (as given; None if unknown), pid."""
    env = {"hostname": socket.gethostname(), "python": platform.python_version(), "platform": platform.platform(),
           "device": device, "pid": os.getpid()}
    torch = sys.modules.get("torch")  # not imported here: a store must not pay for importing torch
    if torch is not None:
        env["torch"], env["threads"] = torch.__version__, torch.get_num_threads()
    else:
        from importlib.metadata import PackageNotFoundError, version

        try:
            env["torch"] = version("torch")
        except PackageNotFoundError:
            env["torch"] = None
        env["threads"] = None
    return env


class RunLog(Database):
    """The runs of a `ResultsStore`: claims, lifecycle and reading (the store's methods; see `ResultsStore`)."""

    def claim_run(self, config_hash: str, table: str, variant: str, seed: int, profile: str, config: Mapping,
                  dataset_key: str | None = None, env: Mapping | None = None, *, git_sha: str | None = None,
                  force: bool = False, stale_after_s: float = STALE_AFTER_S) -> str | None:
        """Atomically claims `config_hash` for this worker: a new ``running`` row, its run_id returned.

        Returns None (a no-op) when the config is finished (unless `force`) or another run of it is ``running``
        with a heartbeat newer than `stale_after_s` seconds, also with `force` (a forced run never takes over a
        live one: both would write the same checkpoints). A stale running row is marked ``failed`` and taken
        over. `env` None records `runtime_env()`. Passwords in `config` and
        `env` are redacted before writing.
        """
        return self._claim(config_hash, table, variant, seed, profile, config, dataset_key, env, git_sha, force,
                           stale_after_s, raise_conflict=False)

    def start_run(self, config_hash: str, table: str, variant: str, seed: int, profile: str, config: Mapping,
                  dataset_key: str | None = None, env: Mapping | None = None, *, git_sha: str | None = None,
                  force: bool = False, stale_after_s: float = STALE_AFTER_S) -> str:
        """`claim_run` that raises `RunConflictError` (saying why) instead of returning None."""
        return self._claim(config_hash, table, variant, seed, profile, config, dataset_key, env, git_sha, force,
                           stale_after_s, raise_conflict=True)

    def _claim(self, config_hash, table, variant, seed, profile, config, dataset_key, env, git_sha, force,
               stale_after_s, raise_conflict):
        for name, v in (("config_hash", config_hash), ("table", table), ("variant", variant), ("profile", profile)):
            require_text(v, name)
        seed = require_int(seed, "seed")
        row = {"config_hash": config_hash, "table": table, "variant": variant, "seed": seed, "profile": profile,
               "config": self._json(config, "config"), "git_sha": git_sha,
               "dataset_key": None if dataset_key is None else redact_text(str(dataset_key), self._secrets),
               "env": self._json(runtime_env() if env is None else env, "env"), "status": "running"}
        runs = schema.runs

        def claim(conn):
            now = time.time()
            live = runs.c.status == "running"
            cutoff = now - stale_after_s
            stale_msg = f"stale: no heartbeat for {stale_after_s:g} s; taken over by another worker"
            conn.execute(update(runs).where(runs.c.config_hash == config_hash, live,
                                            func.coalesce(runs.c.heartbeat_at, runs.c.created_at) < cutoff)
                         .values(status="failed", message=stale_msg, finished_at=now))
            blocking = conn.execute(select(runs.c.run_id, runs.c.status, runs.c.env, runs.c.heartbeat_at)
                                    .where(runs.c.config_hash == config_hash,
                                           runs.c.status.in_(("running",) if force else ("running", "finished")))
                                    ).first()
            if blocking is not None:
                return None, blocking
            run_id = str(uuid.uuid4())
            try:
                with conn.begin_nested():
                    conn.execute(insert(runs).values(run_id=run_id, created_at=now, started_at=now,
                                                     heartbeat_at=now, **row))
            except IntegrityError:  # another worker inserted its claim between our check and insert
                return None, None
            return run_id, None

        run_id, blocking = self._write(claim, "claim_run")
        if run_id is None:
            why = _conflict_text(config_hash, blocking)
            log.info("results store: not claimed: %s", why)
            if raise_conflict:
                finished = blocking is not None and blocking.status == "finished"
                raise RunConflictError(why + ("; pass force=True to run it again" if finished else
                                              f"; it can be taken over once its heartbeat is {stale_after_s:g} s old"))
        return run_id

    def heartbeat(self, run_id: str) -> bool:
        """Marks `run_id` alive now. False if the run is no longer ``running`` (e.g. taken over as stale): the
        worker should stop."""
        r = schema.runs
        n = self._write(lambda conn: conn.execute(update(r).where(r.c.run_id == run_id, r.c.status == "running")
                                                  .values(heartbeat_at=time.time())).rowcount, "heartbeat")
        return n == 1

    def finish_run(self, run_id: str, wall_time: float) -> None:
        """``running`` → ``finished`` with `wall_time` seconds; a previous finished run of the same config (a forced
        re-run) becomes ``superseded`` in the same transaction. Raises `RunConflictError` if the run is not
        ``running`` (failed, taken over, or finished already)."""
        r = schema.runs
        wall_time = float(wall_time)

        def finish(conn):
            cur = conn.execute(select(r.c.config_hash, r.c.status, r.c.message).where(r.c.run_id == run_id)).first()
            if cur is None:
                raise unknown_run(run_id)
            if cur.status != "running":
                raise RunConflictError(f"run {run_id} cannot finish: its status is '{cur.status}'"
                                       + (f" ({cur.message})" if cur.message else ""))
            now = time.time()
            conn.execute(update(r).where(r.c.config_hash == cur.config_hash, r.c.status == "finished")
                         .values(status="superseded", superseded_by=run_id))
            conn.execute(update(r).where(r.c.run_id == run_id).values(status="finished", finished_at=now,
                                                                       heartbeat_at=now, wall_time=wall_time))

        self._write(finish, "finish_run")

    def fail_run(self, run_id: str, message: str) -> None:
        """``running``/``pending`` → ``failed`` with `message` (passwords redacted). A finished run cannot fail."""
        r = schema.runs
        message = redact_text(str(message), self._secrets)

        def fail(conn):
            cur = conn.execute(select(r.c.status).where(r.c.run_id == run_id)).first()
            if cur is None:
                raise unknown_run(run_id)
            if cur.status in ("finished", "superseded"):
                raise RunConflictError(f"run {run_id} is '{cur.status}' and cannot be marked failed")
            conn.execute(update(r).where(r.c.run_id == run_id)
                         .values(status="failed", message=message, finished_at=time.time()))

        self._write(fail, "fail_run")

    def find_finished(self, config_hash: str) -> dict | None:
        """The finished run of `config_hash` (a dict as in `runs`), or None."""
        r = schema.runs
        rows = self._read(lambda conn: conn.execute(select(r).where(r.c.config_hash == config_hash,
                                                                    r.c.status == "finished")).all())
        return _run_dict(rows[0]) if rows else None

    def get_run(self, run_id: str) -> dict:
        """The row of `run_id` as a dict (see `runs`); `InputError` if there is none."""
        r = schema.runs
        row = self._read(lambda conn: conn.execute(select(r).where(r.c.run_id == run_id)).first())
        if row is None:
            raise unknown_run(run_id)
        return _run_dict(row)

    def add_alias(self, table: str, variant: str, seed: int, profile: str, run_id: str) -> None:
        """Records that run `run_id` (of another table/variant, same config hash) is also (table, variant, seed)
        under `profile`; replaces an earlier link of that key."""
        a = schema.run_aliases

        def write(conn):
            self._require_run(conn, run_id)
            conn.execute(delete(a).where(a.c["table"] == table, a.c.variant == variant, a.c.seed == seed,
                                         a.c.profile == profile))
            conn.execute(insert(a).values(table=table, variant=variant, seed=seed, profile=profile, run_id=run_id))

        self._write(write, "record an alias run")

    def runs(self, table: str | None = None, status: str | None = None) -> list[dict]:
        """Run rows (oldest first) as dicts with every column of `schema.runs`; ``config`` and ``env`` parsed.

        With `table`, the runs recorded for it by `add_alias` come too, each as its own row re-labelled with the
        alias's table, variant and seed, and ``alias_of`` = "<table>/<variant>" of the run's own row."""
        r = schema.runs
        if status is not None and status not in schema.STATUSES:
            raise InputError("ResultsStore.runs", "status", found=repr(status),
                             expected="one of " + ", ".join(schema.STATUSES))
        q = select(r).order_by(r.c.created_at, r.c.run_id)
        if table is not None:
            q = q.where(r.c["table"] == table)
        if status is not None:
            q = q.where(r.c.status == status)
        out = [_run_dict(row) for row in self._read(lambda conn: conn.execute(q).all())]
        if table is None:
            return out
        a = schema.run_aliases
        qa = select(r, a.c.variant.label("alias_variant"), a.c.seed.label("alias_seed"),
                    a.c.profile.label("alias_profile")).join(a, a.c.run_id == r.c.run_id).where(a.c["table"] == table)
        if status is not None:
            qa = qa.where(r.c.status == status)
        for row in self._read(lambda conn: conn.execute(qa).all()):
            d = row._asdict()
            variant, seed, profile = d.pop("alias_variant"), d.pop("alias_seed"), d.pop("alias_profile")
            d = _run_dict(_Row(d))
            d.update(alias_of=f"{d['table']}/{d['variant']}", table=table, variant=variant, seed=seed, profile=profile)
            out.append(d)
        return out



# -------------------------------------------------------------------- helpers

def _conflict_text(config_hash: str, blocking) -> str:
    if blocking is None:
        return f"config {config_hash} was claimed by another worker at the same moment"
    if blocking.status == "finished":
        return f"config {config_hash} is finished already (run {blocking.run_id})"
    try:
        host = json.loads(blocking.env).get("hostname", "?")
    except (ValueError, AttributeError):
        host = "?"
    age = time.time() - blocking.heartbeat_at if blocking.heartbeat_at is not None else float("nan")
    return f"config {config_hash} is being run by run {blocking.run_id} on {host} (last heartbeat {age:.0f} s ago)"


class _Row:
    """A plain dict dressed as a result row (for `_run_dict`)."""

    def __init__(self, d: dict):
        self.d = d

    def _asdict(self) -> dict:
        return dict(self.d)


def _run_dict(row) -> dict:
    d = row._asdict()
    d["config"] = json.loads(d["config"])
    d["env"] = json.loads(d["env"])
    return d
