"""Where hmr-bench keeps generated data (datasets, runs, reports caches).

`HMR_BENCH_CACHE` overrides the root; otherwise `$XDG_CACHE_HOME/hmr-bench` or `~/.cache/hmr-bench`.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
ASSETS_DIR = PACKAGE_DIR / "body" / "assets"


def cache_root() -> Path:
    env = os.environ.get("HMR_BENCH_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "hmr-bench"
