"""The `hmr-bench` command as a user runs it (a subprocess, so the console script itself is exercised)."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import torch

from tests.body.test_convert_smpl import write_official_style_pickle
from tests.toy_smpl import toy_smpl_arrays


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "hmr_bench.cli", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_info_reports_versions_device_body_model_and_cache(tmp_path, monkeypatch):
    env = {**__import__("os").environ, "HMR_BENCH_CACHE": str(tmp_path / "cache")}
    res = run("info", "--json", env=env)
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout)
    assert info["torch"] == torch.__version__
    assert info["device"].startswith(("cpu", "cuda"))
    assert info["cache"] == str(tmp_path / "cache")
    assert info["body model"].startswith("free (neutral, 6894 vertices, 10 betas")
    assert res.stderr == ""


def test_convert_smpl_then_check(tmp_path):
    pkl = tmp_path / "SMPL_NEUTRAL.pkl"
    write_official_style_pickle(pkl, toy_smpl_arrays())
    res = run("body", "convert-smpl", str(pkl), str(tmp_path / "SMPL_NEUTRAL.npz"))
    assert res.returncode == 0, res.stderr
    assert "6890 vertices" in res.stdout
    res = run("body", "check", str(tmp_path / "SMPL_NEUTRAL.npz"))
    assert res.returncode == 0 and "neutral" in res.stdout


def test_errors_are_one_clear_line_not_a_traceback(tmp_path):
    pkl = tmp_path / "SMPL_NEUTRAL.pkl"
    pkl.write_bytes(pickle.dumps(toy_smpl_arrays(), protocol=2))
    res = run("body", "check", str(pkl))
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert "SMPL_NEUTRAL.pkl" in res.stderr and "hmr-bench body convert-smpl" in res.stderr
