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

The store is made of three parts: `database` (the URL, the engine of each process, the SQLite set-up, the schema
and transactions), `runs` (claims and their lifecycle, reading runs) and `results` (metrics, learning curves and
per-sample errors); this module puts them together.
"""

from __future__ import annotations

from hmr_bench.errors import RunConflictError, StoreError
from hmr_bench.store.database import default_url
from hmr_bench.store.results import ResultLog
from hmr_bench.store.runs import STALE_AFTER_S, RunLog, runtime_env


class ResultsStore(RunLog, ResultLog):
    """Runs, metrics and per-sample errors in the SQL database at `url` (default: `default_url()`).

    `url`: a SQLAlchemy URL string/``URL``, or a plain file path (taken as a SQLite file). Opening checks the
    URL, the driver, the connection and the schema; anything wrong raises `InputError` naming the URL with its
    password replaced by ``***``.

    Runs: `claim_run`, `start_run`, `heartbeat`, `finish_run`, `fail_run`, `find_finished`, `get_run`, `add_alias`,
    `runs` (module `runs`). Results: `log_metrics`, `metrics`, `curve`, `log_samples`, `samples` (module
    `results`). The connection: `dialect`, `describe`, `close` (module `database`).
    """


__all__ = ["STALE_AFTER_S", "ResultsStore", "RunConflictError", "StoreError", "default_url", "runtime_env"]
