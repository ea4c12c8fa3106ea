"""Tables of the results store, in long format: one row per run, per (run, metric value), per (run, sample, metric).

Reports and plots are pivots of these rows. Plain SQLAlchemy Core, so the same schema serves SQLite and PostgreSQL.

- ``runs``: one row per training/evaluation attempt of a config (``config_hash``). ``status`` is one of
  ``STATUSES``. At most one row per config_hash is ``running`` and at most one ``finished`` (partial unique indexes
  on SQLite and PostgreSQL). A forced re-run adds a new row; when it finishes, the previous finished row becomes
  ``superseded`` (``superseded_by`` = the new run id). Timestamps are Unix seconds (UTC), ``wall_time`` seconds.
  ``config`` and ``env`` are JSON text (passwords redacted before writing).
- ``metrics``: one row per (run, split, dataset, name[, epoch]); ``epoch`` NULL = the final value, set = a
  learning-curve point (Fig. 8).
- ``samples``: one row per (run, split, dataset, metric, sample index) with the sample's action label and value;
  ``joints`` optionally holds that sample's per-joint errors as packed little-endian float32 (J values, J = 14
  for the LSP-14 evaluation joints).
- ``store_info``: key/value; ``schema_version`` guards against opening a store written by another layout.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

SCHEMA_VERSION = 1
STATUSES = ("pending", "running", "finished", "failed", "superseded")
SPLITS = ("train", "val", "test")

metadata = MetaData()

runs = Table(
    "runs", metadata,
    Column("run_id", String(36), primary_key=True),
    Column("config_hash", String(128), nullable=False, index=True),
    Column("table", String(64), nullable=False),
    Column("variant", String(128), nullable=False),
    Column("seed", Integer, nullable=False),
    Column("profile", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("message", Text),
    Column("config", Text, nullable=False),
    Column("dataset_key", String(256)),
    Column("git_sha", String(64)),
    Column("env", Text, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("started_at", Double),
    Column("finished_at", Double),
    Column("heartbeat_at", Double),
    Column("wall_time", Double),
    Column("superseded_by", String(36)),
)
# One live claim and one valid result per config. Partial indexes exist on SQLite and PostgreSQL only; elsewhere
# the store's transactions alone keep these rules.
_PARTIAL = ("sqlite", "postgresql")
Index("uq_runs_running", runs.c.config_hash, unique=True,
      sqlite_where=runs.c.status == "running", postgresql_where=runs.c.status == "running").ddl_if(dialect=_PARTIAL)
Index("uq_runs_finished", runs.c.config_hash, unique=True,
      sqlite_where=runs.c.status == "finished", postgresql_where=runs.c.status == "finished").ddl_if(dialect=_PARTIAL)
Index("ix_runs_table_status", runs.c["table"], runs.c.status)

metrics = Table(
    "metrics", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(36), ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column("split", String(16), nullable=False),
    Column("dataset", String(128), nullable=False),
    Column("name", String(128), nullable=False),
    Column("value", Double),
    Column("epoch", Integer),
    Column("step", Integer),
    Column("logged_at", Double, nullable=False),
)
Index("ix_metrics_run", metrics.c.run_id, metrics.c.split, metrics.c.name)

samples = Table(
    "samples", metadata,
    Column("run_id", String(36), ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column("split", String(16), nullable=False),
    Column("dataset", String(128), nullable=False),
    Column("metric", String(128), nullable=False),
    Column("sample_index", Integer, nullable=False),
    Column("action", String(128)),
    Column("value", Double),
    Column("joints", LargeBinary),
    PrimaryKeyConstraint("run_id", "split", "dataset", "metric", "sample_index"),
)

# A finished run also counts for another (table, variant) with the same config hash (Table 4's M = 5 is Table 2's
# full model): the runner records the link instead of training the config again.
run_aliases = Table(
    "run_aliases", metadata,
    Column("table", String(64), primary_key=True),
    Column("variant", String(128), primary_key=True),
    Column("seed", Integer, primary_key=True),
    Column("profile", String(64), primary_key=True),
    Column("run_id", String(36), ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
)

store_info = Table(
    "store_info", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
