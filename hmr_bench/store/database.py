"""The results store's connection to its database: the URL, one engine per process, the schema, transactions.

- `parse_url`: a SQLAlchemy URL or a plain file path (a SQLite file), checked; errors hide the password;
- `Database`: the base of `ResultsStore`: creates its engine lazily in each process (a store object can be
  pickled to spawned workers or inherited through fork), creates the schema and checks its version, and runs
  every write as one transaction, retried while SQLite says ``database is locked``;
- `sqlite_file`, `engine_options` and `harden_sqlite`: the SQLite set-up shared with the sweep's optuna storage:
  the file's folder is made, a busy timeout, WAL, ``foreign_keys`` on, and a ``BEGIN IMMEDIATE`` for every
  write transaction (reads ask for ``DEFERRED``), so a read-then-write transaction is atomic between processes;
- the conversions between Python values and rows (NaN ↔ NULL, JSON with passwords redacted) and the argument
  checks every writer of the store shares.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
from sqlalchemy import event, insert, select
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from hmr_bench.errors import InputError, StoreError
from hmr_bench.paths import cache_root
from hmr_bench.store import schema
from hmr_bench.store.redact import redact_obj, redact_text, redact_url, url_secrets

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5  # unreachable database hosts fail after this long
SQLITE_BUSY_TIMEOUT_MS = 15_000
LOCK_RETRIES = 8
CONNECT_TIMEOUT_ARG = {"psycopg2": "connect_timeout", "psycopg": "connect_timeout", "pg8000": "timeout",
                       "pymysql": "connect_timeout", "mysqldb": "connect_timeout"}  # driver → its connect argument
BEGIN_OPTION = "hmr_sqlite_begin"  # execution option: the BEGIN mode of a SQLite transaction (default IMMEDIATE)
_EXPECTED_URL = ("a SQLAlchemy database URL such as sqlite:////abs/path/results.sqlite (or a file path) or "
                 "postgresql+psycopg://user:password@host/dbname")


def default_url() -> str:
    """``sqlite:///<cache_root()>/results.sqlite``."""
    return f"sqlite:///{cache_root() / 'results.sqlite'}"


class Database:
    """The connection of a `ResultsStore` to the SQL database at `url` (see `ResultsStore`)."""

    def __init__(self, url: str | os.PathLike | URL | None = None, *, connect_timeout_s: float = CONNECT_TIMEOUT_S):
        self._url = parse_url(url)
        self._secrets = url_secrets(self._url)
        self.url_redacted = redact_url(self._url)
        self.connect_timeout_s = connect_timeout_s
        self._engine_obj: Engine | None = None
        self._engine_pid: int | None = None
        self._lock = threading.Lock()
        self._engine()  # fail now, not after an hour of training
        log.debug("results store opened: %s", self.url_redacted)

    @property
    def dialect(self) -> str:
        return self._url.get_backend_name()

    def describe(self) -> dict:
        """Provenance of the store itself, password-free: url, dialect, driver, sqlalchemy and schema versions."""
        import sqlalchemy

        return {"url": self.url_redacted, "dialect": self.dialect, "driver": self._url.get_driver_name(),
                "sqlalchemy": sqlalchemy.__version__, "schema_version": schema.SCHEMA_VERSION}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url_redacted!r})"

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

    # ---------------------------------------------------------------- engine (per process)

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

        url = self._url
        if self.dialect == "sqlite":
            sqlite_file(url, f"results store URL {self.url_redacted}")
        kw = engine_options(url, sqlite_busy_timeout_s=SQLITE_BUSY_TIMEOUT_MS / 1000,
                            connect_timeout_s=self.connect_timeout_s)
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
            harden_sqlite(engine, SQLITE_BUSY_TIMEOUT_MS)
        return engine

    def _url_error(self, e: BaseException, what: str) -> InputError:
        detail = one_line(redact_text(f"{type(e).__name__}: {getattr(e, 'orig', None) or e}", self._secrets))
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
                if attempt < 2 and (is_locked(e) or "already exists" in str(e)):
                    time.sleep(0.1 * (attempt + 1))  # another process created the schema at the same moment
                    continue
                raise self._url_error(e, "the database could not be opened") from None
            except Exception as e:
                raise self._url_error(e, "the database could not be opened") from None
        if row is not None and row.value != str(schema.SCHEMA_VERSION):
            raise InputError(f"results store {self.url_redacted}", "schema_version", found=row.value,
                             expected=f"{schema.SCHEMA_VERSION} (a store written by a different hmr-bench version; "
                             "use another URL or migrate it)")

    # ---------------------------------------------------------------- transactions

    def _write(self, fn: Callable, what: str):
        """Runs fn(conn) in one write transaction, retried while the SQLite database is locked."""
        for attempt in range(LOCK_RETRIES):
            try:
                with self._engine().begin() as conn:
                    return fn(conn)
            except OperationalError as e:
                if not is_locked(e) or attempt == LOCK_RETRIES - 1:
                    raise StoreError(redact_text(f"results store {self.url_redacted}: {what} failed: "
                                                 f"{getattr(e, 'orig', None) or e}", self._secrets)) from None
                log.debug("results store locked during %s; retry %d", what, attempt + 1)
                time.sleep(min(2.0, 0.05 * 2 ** attempt))
        raise AssertionError("unreachable")

    def _read(self, fn: Callable):
        with self._engine().connect().execution_options(**{BEGIN_OPTION: "DEFERRED"}) as conn, conn.begin():
            return fn(conn)

    # ---------------------------------------------------------------- shared by the writers

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
            raise unknown_run(run_id)


# -------------------------------------------------------------------- URL and SQLite set-up

def parse_url(url) -> URL:
    """The checked SQLAlchemy URL of `url` (None: `default_url()`; a plain path: a SQLite file)."""
    if url is None:
        url = default_url()
    if isinstance(url, os.PathLike) or (isinstance(url, str) and "://" not in url and url.strip()):
        url = f"sqlite:///{Path(url).expanduser().resolve()}"
    try:
        u = url if isinstance(url, URL) else make_url(str(url))
    except Exception as e:
        raise InputError(f"results store URL {redact_url(url)}", "url",
                         found=f"an unreadable URL ({one_line(redact_text(str(e), url_secrets(url)))})",
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


def one_line(text: str) -> str:
    """`text` with every run of whitespace (newlines too) as one space: an error message stays one line."""
    return " ".join(text.split())


def sqlite_file(url: URL, where: str) -> Path | None:
    """The file of the SQLite URL `url`, its folder made; None for an in-memory or ``file:`` database.

    Raises `InputError` (naming `where`, e.g. "results store URL …") when the path is a folder, lies under a file,
    or its folder cannot be made or written to.
    """
    db = url.database
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    path = Path(db).expanduser()
    if path.is_dir():
        raise InputError(where, "url", found=f"{path} is a directory",
                         expected="the path of a SQLite file (created if missing)")
    blocker = next((p for p in path.parents if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise InputError(where, "url", found=f"{blocker} is a file, not a folder",
                         expected="a SQLite file path in a writable folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(where, "url", found=f"the folder {path.parent} cannot be created ({e.strerror or e})",
                         expected="a SQLite file path in a writable folder") from None
    if not os.access(path.parent, os.W_OK):
        raise InputError(where, "url", found=f"the folder {path.parent} is not writable",
                         expected="a SQLite file path in a writable folder")
    return path


def engine_options(url: URL, *, sqlite_busy_timeout_s: float, connect_timeout_s: float) -> dict:
    """``create_engine`` keyword arguments for `url`: SQLite waits up to `sqlite_busy_timeout_s` for a lock; a
    server database gives up connecting after `connect_timeout_s` (unless the URL sets its driver's own
    timeout) and checks pooled connections before use."""
    if url.get_backend_name() == "sqlite":
        return {"connect_args": {"timeout": sqlite_busy_timeout_s}}
    kw: dict = {"pool_pre_ping": True}
    arg = CONNECT_TIMEOUT_ARG.get(url.get_driver_name())
    if arg and arg not in url.query:
        kw["connect_args"] = {arg: max(1, int(math.ceil(connect_timeout_s)))}
    return kw


def harden_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    """Sets up every new connection of the SQLite `engine` for several processes: ``busy_timeout`` (ms), WAL,
    ``synchronous = NORMAL``, ``foreign_keys = ON``, and a BEGIN emitted here: ``BEGIN IMMEDIATE`` unless the
    connection's execution option `BEGIN_OPTION` says otherwise (``DEFERRED`` for reads). Connections the engine
    opened before are dropped."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # pysqlite's own BEGIN is replaced by _on_begin's
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # writes take the write lock at BEGIN, so a read-then-write transaction (a claim) is atomic and never
        # fails to upgrade its lock; reads use a deferred transaction and never block
        conn.exec_driver_sql(f"BEGIN {conn.get_execution_options().get(BEGIN_OPTION, 'IMMEDIATE')}")

    engine.dispose()


def is_locked(e: BaseException) -> bool:
    """Whether a database error says the database (or a table) is locked or busy."""
    msg = str(getattr(e, "orig", None) or e).lower()
    return "database is locked" in msg or "database table is locked" in msg or "busy" in msg


# -------------------------------------------------------------------- values and argument checks

def unknown_run(run_id: str) -> InputError:
    return InputError("results store", "run_id", found=repr(run_id), expected="the id of a run in this store "
                      "(from start_run / claim_run)")


def check_split(split: str) -> None:
    if split not in schema.SPLITS:
        raise InputError("results store", "split", found=repr(split), expected="one of " + ", ".join(schema.SPLITS))


def require_text(v, name: str) -> str:
    if not isinstance(v, str) or not v:
        raise InputError("results store", name, found=repr(v), expected="a non-empty string")
    return v


def require_int(v, name: str) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise InputError("results store", name, found=repr(v), expected="an integer")
    return int(v)


def as_float(v, name: str) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise InputError("results store", name, found=repr(v), expected="a number") from None
    return None if math.isnan(x) else x  # SQLite cannot keep NaN; NULL reads back as NaN


def from_db_float(v) -> float:
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
