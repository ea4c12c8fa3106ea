"""The SQLite set-up shared by the results store and the sweep storage (`store.database.harden_sqlite`), read back
with PRAGMA queries on a connection made through it."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from hmr_bench.store.database import harden_sqlite


@pytest.mark.parametrize("busy_ms", [15_000, 60_000])
def test_a_connection_has_wal_foreign_keys_and_the_busy_timeout(tmp_path, busy_ms):
    engine = create_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    with engine.connect() as conn:  # a connection opened before the set-up is dropped by it
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "delete"  # SQLite's own default
    harden_sqlite(engine, busy_ms)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
            assert conn.execute(text("PRAGMA busy_timeout")).scalar_one() == busy_ms
            assert conn.execute(text("PRAGMA synchronous")).scalar_one() == 1  # NORMAL
    finally:
        engine.dispose()


def test_the_results_store_and_the_sweep_storage_use_it(tmp_path):
    from hmr_bench.store import ResultsStore
    from hmr_bench.sweep.study import open_storage

    store = ResultsStore(tmp_path / "results.sqlite")
    storage = open_storage(tmp_path / "sweeps.sqlite", heartbeat=False)
    try:
        for engine, busy_ms in ((store._engine(), 15_000), (storage.engine, 60_000)):
            with engine.connect() as conn:
                got = [conn.execute(text(f"PRAGMA {p}")).scalar_one()
                       for p in ("journal_mode", "foreign_keys", "busy_timeout")]
            assert got == ["wal", 1, busy_ms]
    finally:
        store.close()
        storage.engine.dispose()


def test_writes_take_the_lock_at_begin_and_reads_do_not(tmp_path):
    """BEGIN IMMEDIATE by default: a second writer cannot begin while the first holds its transaction; a read
    (execution option hmr_sqlite_begin=DEFERRED) can."""
    url = f"sqlite:///{tmp_path / 'y.sqlite'}"
    first, second = create_engine(url), create_engine(url, connect_args={"timeout": 0.05})
    harden_sqlite(first, 15_000)
    harden_sqlite(second, 50)
    try:
        with first.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
        with first.begin() as writer:
            writer.execute(text("INSERT INTO t VALUES (1)"))
            with second.connect().execution_options(hmr_sqlite_begin="DEFERRED") as reader, reader.begin():
                assert reader.execute(text("SELECT COUNT(*) FROM t")).scalar_one() == 0  # WAL: the old snapshot
            with pytest.raises(Exception, match="locked"):
                with second.begin():
                    pass
        with second.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM t")).scalar_one() == 1
    finally:
        first.dispose()
        second.dispose()
