"""The results store: every run, metric and per-sample error of the ablations in one SQL database (SQLite file by
default, any SQLAlchemy URL such as PostgreSQL to share it between machines). Long format: reports pivot its rows.
"""

from hmr_bench.store.redact import redact_url
from hmr_bench.store.store import (
    STALE_AFTER_S,
    ResultsStore,
    RunConflictError,
    StoreError,
    default_url,
    runtime_env,
)

__all__ = ["ResultsStore", "RunConflictError", "STALE_AFTER_S", "StoreError", "default_url", "redact_url",
           "runtime_env"]
