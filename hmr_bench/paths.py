"""Where hmr-bench keeps generated data (datasets, runs, reports caches), and the checkout's folders.

`HMR_BENCH_CACHE` overrides the cache root; otherwise `$XDG_CACHE_HOME/hmr-bench` or `~/.cache/hmr-bench`.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
ASSETS_DIR = PACKAGE_DIR / "body" / "assets"
REPO_DIR = PACKAGE_DIR.parent  # the checkout: ablations/, baselines/, .benchmarks/
SPEED_GLOB = "speed_*.jsonl"  # one speed-record file per run (`bench.results`), read by the report


def cache_root() -> Path:
    env = os.environ.get("HMR_BENCH_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "hmr-bench"


def bench_dir() -> Path:
    """The folder of the speed-record files (``speed_<run>.jsonl``, `bench.results`) and pytest-benchmark's own:
    ``<repo>/.benchmarks``."""
    return REPO_DIR / ".benchmarks"
