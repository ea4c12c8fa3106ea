"""Helpers for the results-store tests.

Every test runs on a fresh SQLite file. Set ``HMR_BENCH_TEST_DB_URL`` (e.g. a PostgreSQL URL) to run the same tests
on that database as well; its tables are dropped before each test.
"""

from __future__ import annotations

import os

DB_URL_ENV = "HMR_BENCH_TEST_DB_URL"
BACKENDS = ["sqlite"] + (["url"] if os.environ.get(DB_URL_ENV) else [])


def backend_url(kind: str, tmp_path) -> str:
    """A URL of an empty store: a SQLite file in `tmp_path`, or the database of $HMR_BENCH_TEST_DB_URL emptied."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'results.sqlite'}"
    from sqlalchemy import create_engine

    from hmr_bench.store import schema

    url = os.environ[DB_URL_ENV]
    engine = create_engine(url)
    schema.metadata.drop_all(engine)
    engine.dispose()
    return url


def count_rows(url: str, table: str, where: str = "") -> int:
    """Rows of `table` counted with plain SQL on a separate connection (not through the store)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(f'SELECT COUNT(*) FROM "{table}" {where}')).scalar_one()
    finally:
        engine.dispose()


def raw_rows(url: str, table: str) -> list[tuple]:
    """Every row of `table`, as stored, read with plain SQL."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(f'SELECT * FROM "{table}"'))]
    finally:
        engine.dispose()
