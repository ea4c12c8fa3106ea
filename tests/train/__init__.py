"""Helpers for the runner tests: one tiny SynthHMR dataset rendered once per session, shared by every cache.

Each test gets its own cache folder (``HMR_BENCH_CACHE``: runs, checkpoints, results store) whose ``synthhmr``
is a link to the shared dataset, so no test renders images again. Import the fixtures into a test module with
``from tests.train import cache_fixture, synth_root_fixture  # noqa: F401``; tests ask for ``cache`` or
``synth_root``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# The smallest run that exercises everything: 32 training samples in 4 steps of 8, 16 val, 16 test, 64 px images.
TINY = {"data.n_train": 32, "data.n_val": 16, "data.n_test": 16, "data.image_size": 64, "train.batch_size": 8,
        "data.workers": 0, "model.fc1_dim": 64, "train.threads": 1, "train.epochs": 2}


def tiny(**changes) -> dict:
    """TINY with some keys changed (dotted keys written with '__' for '.', e.g. train__epochs=3)."""
    return TINY | {k.replace("__", "."): v for k, v in changes.items()}


def set_args(overrides: dict) -> list[str]:
    """The `--set key=value` arguments of `overrides` (values written as JSON)."""
    import json

    out = []
    for k, v in overrides.items():
        out += ["--set", f"{k}={json.dumps(v)}"]
    return out


def tiny_config(**changes):
    from hmr_bench.config import apply_overrides
    from hmr_bench.profiles import profile_config

    return apply_overrides(profile_config("smoke"), tiny(**changes))


@pytest.fixture(scope="session", name="synth_root")
def synth_root_fixture(tmp_path_factory) -> Path:
    """A folder holding the TINY SynthHMR dataset (rendered once per session, in this process; each test module
    that imports the fixture finds it complete)."""
    from hmr_bench.data.synth.generate import generate
    from hmr_bench.train.data import synth_config

    root = tmp_path_factory.getbasetemp() / "train-synth" / "synthhmr"
    cfg = tiny_config()
    generate(synth_config(cfg), root=root, workers=1, body_source=cfg.body_model)
    return root


@pytest.fixture(name="cache")
def cache_fixture(tmp_path, synth_root, monkeypatch) -> Path:
    """This test's cache folder (HMR_BENCH_CACHE set to it) with the shared dataset linked in."""
    path = make_cache(tmp_path / "cache", synth_root)
    monkeypatch.setenv("HMR_BENCH_CACHE", str(path))
    return path


def make_cache(path: Path, synth_root: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "synthhmr").symlink_to(synth_root, target_is_directory=True)
    return path


def cli_env(cache_dir: Path, **extra) -> dict:
    """Environment of a `hmr-bench` subprocess using `cache_dir` (and the repository's package)."""
    repo = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (repo, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "HMR_BENCH_CACHE": str(cache_dir), "PYTHONPATH": path, **extra}


PYTHON = sys.executable

NAN_TABLE = '''
from hmr_bench.tables import Row, Table
TABLE = Table(name="nantest", title="NaN test", reference="ok", rows=(
    Row("diverge", "lr 1e30", {"train.lr": 1e30}),
    Row("ok", "normal", {}),
))
'''


def nan_table(folder: Path) -> Path:
    """A folder of tables (for $HMR_BENCH_ABLATIONS) holding `nantest`: a row whose loss goes NaN, then a normal row."""
    folder.mkdir(exist_ok=True)
    (folder / "nantest.py").write_text(NAN_TABLE)
    return folder
