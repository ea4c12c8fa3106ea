"""Two `hmr-bench run --shard i/2` processes started together on one empty results store and one empty cache: one
renders the SynthHMR dataset while the other waits for it, the trivial baseline is claimed like any run, both exit 0,
and every job (the baseline included) is finished exactly once."""

from __future__ import annotations

import subprocess

import pytest

from hmr_bench.store import ResultsStore
from tests.store import BACKENDS, backend_url
from tests.train import PYTHON, cli_env, set_args, tiny

VARIANTS = ("none", "no-cam", "full")
OVERRIDES = tiny(train__epochs=1, train__max_steps_per_epoch=2)


@pytest.mark.parametrize("backend", BACKENDS)  # SQLite; PostgreSQL too with $HMR_BENCH_TEST_DB_URL
def test_two_shards_on_one_empty_store_and_cache_finish_every_job_once(tmp_path, backend):
    cache, url = tmp_path / "cache", backend_url(backend, tmp_path / "store")
    env = cli_env(cache)
    procs = [subprocess.Popen([PYTHON, "-m", "hmr_bench.cli", "run", "table2", "--profile", "smoke", "--variants",
                               ",".join(VARIANTS), "--shard", f"{i}/2", "--store", url, "--quiet", "--device", "cpu",
                               *set_args(OVERRIDES)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for i in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    # shard 0 takes jobs 0 and 2 of the three, shard 1 job 1 (every n-th job from i)
    assert "runs: 2 finished" in outs[0][0] and "runs: 1 finished" in outs[1][0]

    runs = ResultsStore(url).runs()
    assert sorted((r["table"], r["variant"], r["status"]) for r in runs) == sorted(
        [("table2", v, "finished") for v in VARIANTS] + [("trivial", "mean-params", "finished")])
    assert len({r["env"]["pid"] for r in runs}) == 2  # both processes ran jobs
    datasets = [p for p in (cache / "synthhmr").iterdir() if p.is_dir()]
    assert len(datasets) == 1 and (datasets[0] / "COMPLETE").exists()
    assert not list(datasets[0].glob("*.partial")) and not (datasets[0] / "progress").exists()


def test_jobs_runs_the_table_in_worker_processes_each_job_once(tmp_path):
    """`--jobs 2`: two workers (shards 0/2 and 1/2 on one core each), one store; the parent prints each worker's
    summary and the table."""
    cache, url = tmp_path / "cache", f"sqlite:///{tmp_path / 'r.sqlite'}"
    out = subprocess.run([PYTHON, "-m", "hmr_bench.cli", "run", "table2", "--profile", "smoke", "--variants",
                          ",".join(VARIANTS), "--jobs", "2", "--store", url, "--quiet", "--device", "cpu",
                          *set_args(OVERRIDES)], env=cli_env(cache), capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "worker 0/2: runs: 2 finished" in out.stdout and "worker 1/2: runs: 1 finished" in out.stdout
    assert "Table 2." in out.stdout
    runs = ResultsStore(url).runs(table="table2")
    assert sorted((r["variant"], r["status"]) for r in runs) == sorted((v, "finished") for v in VARIANTS)
    assert len({r["env"]["pid"] for r in runs}) == 2


@pytest.mark.parametrize("text", ["0", "x", "-2"])
def test_bad_jobs_is_one_line(tmp_path, text):
    out = subprocess.run([PYTHON, "-m", "hmr_bench.cli", "run", "table2", "--profile", "smoke", "--jobs", text],
                         env=cli_env(tmp_path / "cache"), capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr.strip() == f"hmr-bench: error: --jobs: found {text!r}; expected a positive integer or 'auto'"
