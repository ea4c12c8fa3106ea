"""Where hmr-bench keeps generated data (datasets, runs, reports caches), and the checkout's folders.

`HMR_BENCH_CACHE` overrides the cache root; otherwise `$XDG_CACHE_HOME/hmr-bench` or `~/.cache/hmr-bench`.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
ASSETS_DIR = PACKAGE_DIR / "body" / "assets"
REPO_DIR = PACKAGE_DIR.parent  # the checkout: ablations/, baselines/, .benchmarks/
BENCH_FILE = "bench_results.json"  # Table 4's inference records: written by `bench.results`, read by `report.bench`


def cache_root() -> Path:
    env = os.environ.get("HMR_BENCH_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "hmr-bench"


def bench_dir() -> Path:
    """The folder of the benchmark files (``bench_results.json``, ``hmr_bench_*.json``, ``targets_*.json``):
    ``<repo>/.benchmarks``."""
    return REPO_DIR / ".benchmarks"
