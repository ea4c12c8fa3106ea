"""The results store: runs, metrics and per-sample errors of every ablation run, in one SQL database.

    store = ResultsStore()                                     # sqlite:///<cache_root()>/results.sqlite
    store = ResultsStore("postgresql://user:pw@host/hmr")      # shared by several machines
    run_id = store.claim_run(cfg_hash, "table2", "full", seed=0, profile="cpu", config=cfg, dataset_key=key)
    if run_id is not None:                                     # None: finished already, or another worker has it
        ...; store.heartbeat(run_id); store.log_metrics(run_id, "val", "synth", {"mpjpe": 81.2}, epoch=3)
        store.log_samples(run_id, "test", "synth", idx, actions, {"mpjpe": err}, per_joint=err_j)
        store.finish_run(run_id, wall_time=812.4)

Rules the store keeps:
- a finished config is not run again: `claim_run` returns None and `start_run` raises `RunConflictError`, unless
  ``force=True`` (which never takes over a live running claim); a forced run gets a new row, and the old finished
  row stays valid until the new run finishes, then becomes ``superseded`` (history kept, `find_finished` always
  gives at most one row);
- at most one ``running`` row per config: a second claimer gets None while the first one's heartbeat is fresher
  than `stale_after_s`; a stale claim is marked ``failed`` ("stale: ...") and taken over (machines sharing a store
  need roughly synchronised clocks, NTP is plenty for the default of 10 minutes);
- every write is one transaction; SQLite runs in WAL mode with a busy timeout, write transactions take the write
  lock at BEGIN (``BEGIN IMMEDIATE``) and are retried on ``database is locked``. Put SQLite files on a local disk;
  to share between machines use PostgreSQL (WAL does not work over network file systems);
- the engine is created lazily in each process (a store object can be pickled to spawned workers or inherited
  through fork);
- no password reaches a row, a log message or an error (see `redact`).

Queries return plain structures (lists of dicts, numpy arrays); reports pivot them.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np
from sqlalchemy import and_, delete, event, func, insert, select, update
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from hmr_bench.errors import InputError, RunConflictError, StoreError
from hmr_bench.paths import cache_root
from hmr_bench.store import schema
from hmr_bench.store.redact import redact_obj, redact_text, redact_url, url_secrets

log = logging.getLogger(__name__)

STALE_AFTER_S = 600.0  # a running claim without heartbeat for this long may be taken over
CONNECT_TIMEOUT_S = 5  # unreachable database hosts fail after this long
SQLITE_BUSY_TIMEOUT_MS = 15_000
LOCK_RETRIES = 8
_TIMEOUT_ARG = {"psycopg2": "connect_timeout", "psycopg": "connect_timeout", "pg8000": "timeout",
                "pymysql": "connect_timeout", "mysqldb": "connect_timeout"}
_EXPECTED_URL = ("a SQLAlchemy database URL such as sqlite:////abs/path/results.sqlite (or a file path) or "
                 "postgresql+psycopg://user:password@host/dbname")


def default_url() -> str:
    """``sqlite:///<cache_root()>/results.sqlite``."""
    return f"sqlite:///{cache_root() / 'results.sqlite'}"


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


class ResultsStore:
    """Runs, metrics and per-sample errors in the SQL database at `url` (default: `default_url()`).

    `url`: a SQLAlchemy URL string/``URL``, or a plain file path (taken as a SQLite file). Opening checks the
    URL, the driver, the connection and the schema; anything wrong raises `InputError` naming the URL with its
    password replaced by ``***``.
    """

    def __init__(self, url: str | os.PathLike | URL | None = None, *, connect_timeout_s: float = CONNECT_TIMEOUT_S):
        self._url = _parse_url(url)
        self._secrets = url_secrets(self._url)
        self.url_redacted = redact_url(self._url)
        self.connect_timeout_s = connect_timeout_s
        self._engine_obj: Engine | None = None
        self._engine_pid: int | None = None
        self._lock = threading.Lock()
        self._engine()  # fail now, not after an hour of training
        log.debug("results store opened: %s", self.url_redacted)

    # ---------------------------------------------------------------- engine (per process)

    @property
    def dialect(self) -> str:
        return self._url.get_backend_name()

    def describe(self) -> dict:
        """Provenance of the store itself, password-free: url, dialect, driver, sqlalchemy and schema versions."""
        import sqlalchemy

        return {"url": self.url_redacted, "dialect": self.dialect, "driver": self._url.get_driver_name(),
                "sqlalchemy": sqlalchemy.__version__, "schema_version": schema.SCHEMA_VERSION}

    def __repr__(self) -> str:
        return f"ResultsStore({self.url_redacted!r})"

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_engine_obj"] = state["_engine_pid"] = None
        state["_lock"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def close(self) -> None:
        """Closes this process's connections (the store reopens them on next use)."""
        if self._engine_obj is not None and self._engine_pid == os.getpid():
            self._engine_obj.dispose()
        self._engine_obj = self._engine_pid = None

    def _engine(self) -> Engine:
        pid = os.getpid()
        if self._engine_obj is not None and self._engine_pid == pid:
            return self._engine_obj
        with self._lock:
            if self._engine_obj is not None and self._engine_pid != pid:
                self._engine_obj.dispose(close=False)  # inherited through fork: leave the parent's connections
                self._engine_obj = None
            if self._engine_obj is None:
                engine = self._create_engine()
                try:
                    self._init_schema(engine)
                except BaseException:
                    engine.dispose()
                    raise
                self._engine_obj, self._engine_pid = engine, pid
        return self._engine_obj

    def _create_engine(self) -> Engine:
        from sqlalchemy import create_engine

        url, kw = self._url, {}
        if self.dialect == "sqlite":
            _check_sqlite_path(url, self.url_redacted)
            kw["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        else:
            arg = _TIMEOUT_ARG.get(url.get_driver_name())
            if arg and arg not in url.query:
                kw["connect_args"] = {arg: max(1, int(math.ceil(self.connect_timeout_s)))}
            kw["pool_pre_ping"] = True
        try:
            engine = create_engine(url, **kw)
        except ImportError as e:
            raise InputError(f"results store URL {self.url_redacted}", "url",
                             found=f"the database driver for '{url.drivername}' is not installed (no module "
                             f"'{e.name or e}')", expected=_EXPECTED_URL + " with its driver installed (PostgreSQL: "
                             "pip install 'psycopg[binary]')") from None
        except Exception as e:
            raise self._url_error(e, "an engine could not be created") from None
        if self.dialect == "sqlite":
            _sqlite_events(engine)
        return engine

    def _url_error(self, e: BaseException, what: str) -> InputError:
        detail = _one_line(redact_text(f"{type(e).__name__}: {getattr(e, 'orig', None) or e}", self._secrets))
        return InputError(f"results store URL {self.url_redacted}", "url", found=f"{what} ({detail})",
                          expected=_EXPECTED_URL + " that can be opened")

    def _init_schema(self, engine: Engine) -> None:
        """Creates missing tables (inside one write transaction on SQLite, so concurrent openers agree) and checks
        the schema version."""
        for attempt in range(3):
            try:
                with engine.begin() as conn:
                    schema.metadata.create_all(conn)
                    row = conn.execute(select(schema.store_info.c.value)
                                       .where(schema.store_info.c.key == "schema_version")).first()
                    if row is None:
                        conn.execute(insert(schema.store_info).values(key="schema_version",
                                                                      value=str(schema.SCHEMA_VERSION)))
                break
            except DBAPIError as e:
                if attempt < 2 and (_is_locked(e) or "already exists" in str(e)):
                    time.sleep(0.1 * (attempt + 1))  # another process created the schema at the same moment
                    continue
                raise self._url_error(e, "the database could not be opened") from None
            except Exception as e:
                raise self._url_error(e, "the database could not be opened") from None
        if row is not None and row.value != str(schema.SCHEMA_VERSION):
            raise InputError(f"results store {self.url_redacted}", "schema_version", found=row.value,
                             expected=f"{schema.SCHEMA_VERSION} (a store written by a different hmr-bench version; "
                             "use another URL or migrate it)")

    def _write(self, fn: Callable, what: str):
        """Runs fn(conn) in one write transaction, retried while the SQLite database is locked."""
        for attempt in range(LOCK_RETRIES):
            try:
                with self._engine().begin() as conn:
                    return fn(conn)
            except OperationalError as e:
                if not _is_locked(e) or attempt == LOCK_RETRIES - 1:
                    raise StoreError(redact_text(f"results store {self.url_redacted}: {what} failed: "
                                                 f"{getattr(e, 'orig', None) or e}", self._secrets)) from None
                log.debug("results store locked during %s; retry %d", what, attempt + 1)
                time.sleep(min(2.0, 0.05 * 2 ** attempt))
        raise AssertionError("unreachable")

    def _read(self, fn: Callable):
        with self._engine().connect().execution_options(hmr_sqlite_begin="DEFERRED") as conn, conn.begin():
            return fn(conn)

    # ---------------------------------------------------------------- runs

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
            _require_text(v, name)
        seed = _require_int(seed, "seed")
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
                raise _unknown_run(run_id)
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
                raise _unknown_run(run_id)
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
            raise _unknown_run(run_id)
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

    # ---------------------------------------------------------------- metrics and curves

    def log_metrics(self, run_id: str, split: str, dataset: str, values: Mapping[str, float],
                    epoch: int | None = None, step: int | None = None) -> None:
        """One row per ``name: value``; `epoch` None = final values, an int = a learning-curve point."""
        _check_split(split)
        _require_text(dataset, "dataset")
        epoch = None if epoch is None else _require_int(epoch, "epoch")
        step = None if step is None else _require_int(step, "step")
        now = time.time()
        rows = [{"run_id": run_id, "split": split, "dataset": dataset, "name": _require_text(k, "metric name"),
                 "value": _as_float(v, f"values['{k}']"), "epoch": epoch, "step": step, "logged_at": now}
                for k, v in values.items()]
        if not rows:
            return

        def write(conn):
            self._require_run(conn, run_id)
            conn.execute(insert(schema.metrics), rows)

        self._write(write, "log_metrics")

    def metrics(self, run_ids: Iterable[str] | None = None, split: str | None = None, final_only: bool = True, *,
                table: str | None = None, status: str | None = "finished", dataset: str | None = None) -> list[dict]:
        """Metric rows joined with their run: keys run_id, config_hash, table, variant, seed, profile, status,
        split, dataset, name, value (NaN stays NaN), epoch, step, logged_at; in logging order. A value logged
        again for the same (run, split, dataset, name, epoch) replaces the earlier one (all rows stay in the table).

        `final_only`: only rows with epoch None. `status` filters runs (default ``finished``; None = any).
        """
        m, r = schema.metrics, schema.runs
        q = (select(m.c.run_id, r.c.config_hash, r.c["table"], r.c.variant, r.c.seed, r.c.profile, r.c.status,
                    m.c.split, m.c.dataset, m.c.name, m.c.value, m.c.epoch, m.c.step, m.c.logged_at)
             .join(r, r.c.run_id == m.c.run_id).order_by(m.c.id))
        conds = []
        if run_ids is not None:
            conds.append(m.c.run_id.in_(list(run_ids)))
        if split is not None:
            _check_split(split)
            conds.append(m.c.split == split)
        if final_only:
            conds.append(m.c.epoch.is_(None))
        if table is not None:
            conds.append(r.c["table"] == table)
        if status is not None:
            conds.append(r.c.status == status)
        if dataset is not None:
            conds.append(m.c.dataset == dataset)
        if conds:
            q = q.where(and_(*conds))
        latest = {}
        for row in self._read(lambda conn: conn.execute(q).all()):
            key = (row.run_id, row.split, row.dataset, row.name, row.epoch)
            latest.pop(key, None)  # a value logged again replaces the earlier one
            latest[key] = {**row._asdict(), "value": _from_db_float(row.value)}
        return list(latest.values())

    def curve(self, run_id: str, metric: str, split: str = "val", dataset: str | None = None) -> dict:
        """The learning curve of `metric`: {"epoch": (E,) int64, "step": (E,) float64 (NaN if not logged),
        "value": (E,) float64}, sorted by epoch (a later log of the same epoch wins). `dataset` is needed when
        the run logged the metric for several datasets."""
        _check_split(split)
        m = schema.metrics
        q = (select(m.c.dataset, m.c.epoch, m.c.step, m.c.value)
             .where(m.c.run_id == run_id, m.c.split == split, m.c.name == metric, m.c.epoch.is_not(None))
             .order_by(m.c.epoch, m.c.id))
        if dataset is not None:
            q = q.where(m.c.dataset == dataset)
        rows = self._read(lambda conn: conn.execute(q).all())
        _one_dataset(rows, f"curve({run_id!r}, {metric!r}, split={split!r})")
        by_epoch = {row.epoch: row for row in rows}
        eps = sorted(by_epoch)
        return {"epoch": np.array(eps, np.int64),
                "step": np.array([np.nan if by_epoch[e].step is None else by_epoch[e].step for e in eps], np.float64),
                "value": np.array([_from_db_float(by_epoch[e].value) for e in eps], np.float64)}

    # ---------------------------------------------------------------- per-sample errors

    def log_samples(self, run_id: str, split: str, dataset: str, indices, actions, values: Mapping[str, object],
                    per_joint=None) -> None:
        """Per-sample errors of one evaluation, one row per (sample, metric).

        indices: (N,) int sample indices in the dataset; actions: (N,) str action labels (or None);
        values: {metric: (N,) float}; per_joint: None, an (N, J) array (stored with the first metric of
        `values`) or {metric: (N, J)} (J = 14 LSP joints; kept as packed float32). Logging the same (split,
        dataset, metric, index) twice for a run raises `InputError`.
        """
        _check_split(split)
        _require_text(dataset, "dataset")
        src = f"log_samples(run {run_id}, {split}, {dataset})"
        idx = np.asarray(indices)
        if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
            raise InputError(src, "indices", found=f"shape {idx.shape} dtype {idx.dtype}", expected="(N,) integers")
        n = len(idx)
        if len(np.unique(idx)) != n:
            raise InputError(src, "indices", found="repeated sample indices", expected="N distinct indices")
        acts = [None] * n if actions is None else [None if a is None else str(a) for a in actions]
        if len(acts) != n:
            raise InputError(src, "actions", found=f"{len(acts)} labels", expected=f"{n} (one per index)")
        if not values:
            raise InputError(src, "values", found="no metrics", expected="{metric: (N,) array}")
        cols = {}
        for k, v in values.items():
            _require_text(k, "metric name")
            a = np.asarray(v, dtype=np.float64)
            if a.shape != (n,):
                raise InputError(src, f"values['{k}']", found=f"shape {a.shape}", expected=f"shape ({n},)")
            cols[k] = a
        joints = self._per_joint(per_joint, cols, n, src)
        py_idx = idx.astype(np.int64).tolist()
        rows = []
        for k, a in cols.items():
            jb = joints.get(k)
            vals = [None if math.isnan(x) else x for x in a.tolist()]
            for i in range(n):
                rows.append({"run_id": run_id, "split": split, "dataset": dataset, "metric": k,
                             "sample_index": py_idx[i], "action": acts[i], "value": vals[i],
                             "joints": None if jb is None else jb[i]})

        lo, hi = (min(py_idx), max(py_idx)) if py_idx else (0, -1)
        s = schema.samples

        def write(conn):
            self._require_run(conn, run_id)
            logged = conn.execute(select(s.c.sample_index).where(
                s.c.run_id == run_id, s.c.split == split, s.c.dataset == dataset, s.c.metric.in_(list(cols)),
                s.c.sample_index.between(lo, hi))).scalars().all()
            if set(logged) & set(py_idx):
                raise InputError(src, "indices", found=f"samples already logged for this run, split, dataset and "
                                 f"metric (e.g. index {min(set(logged) & set(py_idx))})",
                                 expected="each sample logged once per run")
            try:
                with conn.begin_nested():
                    conn.execute(insert(schema.samples), rows)
            except IntegrityError:
                raise InputError(src, "indices", found="samples already logged for this run, split, dataset "
                                 "and metric", expected="each sample logged once per run") from None

        if rows:
            self._write(write, "log_samples")

    @staticmethod
    def _per_joint(per_joint, cols: dict, n: int, src: str) -> dict[str, list[bytes]]:
        if per_joint is None:
            return {}
        pj = per_joint if isinstance(per_joint, Mapping) else {next(iter(cols)): per_joint}
        out = {}
        for k, v in pj.items():
            if k not in cols:
                raise InputError(src, "per_joint", found=f"metric {k!r}", expected="one of " + ", ".join(cols))
            a = np.asarray(v, dtype="<f4")
            if a.ndim != 2 or a.shape[0] != n or a.shape[1] == 0:
                raise InputError(src, f"per_joint['{k}']", found=f"shape {a.shape}", expected=f"shape ({n}, J)")
            a = np.ascontiguousarray(a)
            out[k] = [a[i].tobytes() for i in range(n)]
        return out

    def samples(self, run_id: str, split: str, metric: str, dataset: str | None = None) -> dict:
        """Per-sample values of `metric`, sorted by sample index: {"index": (N,) int64, "action": (N,) str
        ('' where none was logged), "value": (N,) float64, "per_joint": (N, J) float32 or None (NaN rows where a
        sample has none)}. `dataset` is needed when the run logged several."""
        _check_split(split)
        s = schema.samples
        q = (select(s.c.dataset, s.c.sample_index, s.c.action, s.c.value, s.c.joints)
             .where(s.c.run_id == run_id, s.c.split == split, s.c.metric == metric).order_by(s.c.sample_index))
        if dataset is not None:
            q = q.where(s.c.dataset == dataset)
        rows = self._read(lambda conn: conn.execute(q).all())
        _one_dataset(rows, f"samples({run_id!r}, {split!r}, {metric!r})")
        n = len(rows)
        out = {"index": np.fromiter((r.sample_index for r in rows), np.int64, n),
               "action": np.array(["" if r.action is None else r.action for r in rows], dtype=str),
               "value": np.fromiter((_from_db_float(r.value) for r in rows), np.float64, n),
               "per_joint": None}
        blobs = [r.joints for r in rows]
        sizes = {len(b) for b in blobs if b is not None}
        if sizes:
            if len(sizes) > 1:
                raise InputError(f"results store {self.url_redacted}", "samples.joints",
                                 found=f"per-joint rows of different lengths {sorted(sizes)} bytes",
                                 expected="one joint count per run, split, dataset and metric")
            j = sizes.pop() // 4
            pj = np.full((n, j), np.nan, np.float32)
            for i, b in enumerate(blobs):
                if b is not None:
                    pj[i] = np.frombuffer(b, "<f4")
            out["per_joint"] = pj
        return out

    # ---------------------------------------------------------------- helpers

    def _json(self, obj: Mapping, field: str) -> str:
        if not isinstance(obj, Mapping):
            raise InputError("ResultsStore", field, found=type(obj).__name__, expected="a dict")
        try:
            return json.dumps(redact_obj(_plain(obj), self._secrets), sort_keys=True, allow_nan=True)
        except (TypeError, ValueError) as e:
            raise InputError("ResultsStore", field, found=f"a value JSON cannot hold ({e})",
                             expected="numbers, strings, booleans, None, lists and dicts") from None

    @staticmethod
    def _require_run(conn, run_id: str) -> None:
        r = schema.runs
        if conn.execute(select(r.c.run_id).where(r.c.run_id == run_id)).first() is None:
            raise _unknown_run(run_id)


# -------------------------------------------------------------------- module helpers

def _parse_url(url) -> URL:
    if url is None:
        url = default_url()
    if isinstance(url, os.PathLike) or (isinstance(url, str) and "://" not in url and url.strip()):
        url = f"sqlite:///{Path(url).expanduser().resolve()}"
    try:
        u = url if isinstance(url, URL) else make_url(str(url))
    except Exception as e:
        raise InputError(f"results store URL {redact_url(url)}", "url",
                         found=f"an unreadable URL ({_one_line(redact_text(str(e), url_secrets(url)))})",
                         expected=_EXPECTED_URL) from None
    if u.get_backend_name() == "sqlite" and (u.username or u.password or u.host or u.port):
        raise InputError(f"results store URL {redact_url(u)}", "url",
                         found="a user, password or host in a SQLite URL (SQLite opens a file; it has no server)",
                         expected="sqlite:////absolute/path/results.sqlite (four slashes before an absolute path) "
                         "or a plain file path")
    try:
        u.get_dialect()
    except Exception as e:  # unknown dialect or driver name
        raise InputError(f"results store URL {redact_url(u)}", "url",
                         found=f"unknown database dialect or driver '{u.drivername}' ({type(e).__name__})",
                         expected=_EXPECTED_URL) from None
    return u


def _one_line(text: str) -> str:
    """`text` with every run of whitespace (newlines too) as one space: an error message stays one line."""
    return " ".join(text.split())


def _check_sqlite_path(url: URL, shown: str) -> None:
    db = url.database
    if not db or db == ":memory:" or db.startswith("file:"):
        return
    path = Path(db).expanduser()
    if path.is_dir():
        raise InputError(f"results store URL {shown}", "url", found=f"{path} is a directory",
                         expected="the path of a SQLite file (created if missing)")
    blocker = next((p for p in path.parents if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise InputError(f"results store URL {shown}", "url", found=f"{blocker} is a file, not a folder",
                         expected="a SQLite file path in a writable folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"results store URL {shown}", "url",
                         found=f"the folder {path.parent} cannot be created ({e.strerror or e})",
                         expected="a SQLite file path in a writable folder") from None


def _sqlite_events(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # the store emits BEGIN itself (see _on_begin)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # writes take the write lock at BEGIN, so a read-then-write transaction (a claim) is atomic and never
        # fails to upgrade its lock; reads use a deferred transaction and never block
        conn.exec_driver_sql(f"BEGIN {conn.get_execution_options().get('hmr_sqlite_begin', 'IMMEDIATE')}")


def _is_locked(e: BaseException) -> bool:
    msg = str(getattr(e, "orig", None) or e).lower()
    return "database is locked" in msg or "database table is locked" in msg or "busy" in msg


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


def _unknown_run(run_id: str) -> InputError:
    return InputError("results store", "run_id", found=repr(run_id), expected="the id of a run in this store "
                      "(from start_run / claim_run)")


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


def _one_dataset(rows, what: str) -> None:
    names = sorted({r.dataset for r in rows})
    if len(names) > 1:
        raise InputError(what, "dataset", found=f"rows for several datasets {names}", expected="dataset=<one of them>")


def _check_split(split: str) -> None:
    if split not in schema.SPLITS:
        raise InputError("results store", "split", found=repr(split), expected="one of " + ", ".join(schema.SPLITS))


def _require_text(v, name: str) -> str:
    if not isinstance(v, str) or not v:
        raise InputError("results store", name, found=repr(v), expected="a non-empty string")
    return v


def _require_int(v, name: str) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise InputError("results store", name, found=repr(v), expected="an integer")
    return int(v)


def _as_float(v, name: str) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise InputError("results store", name, found=repr(v), expected="a number") from None
    return None if math.isnan(x) else x  # SQLite cannot keep NaN; NULL reads back as NaN


def _from_db_float(v) -> float:
    return float("nan") if v is None else float(v)


def _plain(obj):
    """JSON-ready copy: numpy scalars/arrays → Python numbers/lists, Paths and tuples → str / lists."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj
