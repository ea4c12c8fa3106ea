"""The ablation runner in one process: checkpoint selection on validation, caching by config hash, --force,
determinism, NaN runs failing alone, shards, takeover of dead claims, and bad input through `hmr-bench run`."""

from __future__ import annotations

import math
import os
import re
import subprocess
import time

import pytest
import torch

from hmr_bench.cli import main as cli_main
from hmr_bench.errors import InputError, NonFiniteLossError
from hmr_bench.experiment.claims import dead_local_claims
from hmr_bench.experiment.jobs import parse_shard, table_jobs
from hmr_bench.experiment.runner import run_table
from hmr_bench.store import ResultsStore
from hmr_bench.tables import load_table
from hmr_bench.train import trainer
from hmr_bench.train.checkpoint import load_checkpoint
from hmr_bench.train.data import build_data
from tests.train import cache_fixture, nan_table, set_args, synth_root_fixture, tiny, tiny_config  # noqa: F401

TEST_METRICS = ("mpjpe", "pa_mpjpe", "pve", "pa_pve")


def final_test_metrics(store: ResultsStore, run_id: str | None = None) -> dict[str, float]:
    rows = store.metrics(run_ids=None if run_id is None else [run_id], split="test", status=None)
    return {r["name"]: r["value"] for r in rows}


# ------------------------------------------------------------------ checkpoint chosen on validation

def test_best_validation_epoch_is_the_one_tested(cache, monkeypatch):
    """Epoch 2's validation MPJPE is made worse: best.pt must hold epoch 1's weights, test runs once at the end
    on them, and its metrics equal those of a 1-epoch run of the same config (training is deterministic)."""
    cfg2, cfg1 = tiny_config(train__epochs=2), tiny_config(train__epochs=1)
    data = build_data(cfg2)
    calls = []
    real_evaluate = trainer.evaluate

    def evaluate(model, body, loader, cfg, protocol_name, split, device):
        out = real_evaluate(model, body, loader, cfg, protocol_name, split, device)
        calls.append(split)
        if split == "val" and calls.count("val") == 2 and cfg.train.epochs == 2:
            out["mpjpe"] = out["mpjpe"] + 1000.0  # epoch 2 looks much worse on validation
        return out

    monkeypatch.setattr(trainer, "evaluate", evaluate)
    store = ResultsStore(cache / "r.sqlite")
    rid = store.start_run("h2", "t", "v", 0, "smoke", {}, data.key)
    two = trainer.train_run(cfg2, data, "h2", store=store, run_id=rid, progress=False)
    assert calls == ["val", "val", "test"]  # the test split is evaluated once, after training
    assert two.best_epoch == 0
    assert two.val_history[1]["mpjpe"] > two.val_history[0]["mpjpe"] + 900
    calls.clear()
    one = trainer.train_run(cfg1, data, "h1", progress=False)
    assert calls == ["val", "test"] and one.best_epoch == 0

    assert two.val_history[0] == one.val_history[0]  # same first epoch, bit for bit
    assert two.test == one.test  # the 2-epoch run was tested with its epoch-1 checkpoint
    best = load_checkpoint(trainer.run_dir("h2") / "best.pt")
    last2, last1 = (load_checkpoint(trainer.run_dir(h) / "last.pt") for h in ("h2", "h1"))
    assert best["epoch"] == 0 and last2["epoch"] == 1
    for k, v in best["model"].items():
        assert torch.equal(v, last1["model"][k]), k
    assert any(not torch.equal(v, last2["model"][k]) for k, v in best["model"].items())
    # the store got one validation point per epoch and the final test metrics once
    curve = store.curve(rid, "mpjpe", "val")
    assert curve["epoch"].tolist() == [0, 1]
    assert curve["value"][1] == pytest.approx(two.val_history[1]["mpjpe"])
    assert final_test_metrics(store, rid) == pytest.approx(two.test["synth-test"])
    assert len(store.samples(rid, "test", "mpjpe")["index"]) == 16


# ------------------------------------------------------------------ cache, --force, determinism

def test_rerun_skips_finished_force_reruns_and_results_are_deterministic(cache):
    url = f"sqlite:///{cache / 'r.sqlite'}"
    kw = dict(variants=["full"], store_url=url, overrides=tiny(), progress=False)
    first = run_table("table2", "smoke", **kw)
    assert [o.status for o in first] == ["finished"]
    h = first[0].config_hash
    assert (cache / "runs" / h / "last.pt").exists() and (cache / "runs" / h / "best.pt").exists()
    store = ResultsStore(url)
    m1 = final_test_metrics(store)
    assert set(m1) == set(TEST_METRICS) and all(math.isfinite(v) for v in m1.values())

    t0 = time.time()
    again = run_table("table2", "smoke", **kw)
    assert [(o.status, o.config_hash) for o in again] == [("skipped", h)]
    assert time.time() - t0 < 10  # nothing trained
    assert len(store.runs(table="table2")) == 1

    forced = run_table("table2", "smoke", force=True, **kw)
    assert [o.status for o in forced] == ["finished"]
    runs = store.runs(table="table2")
    assert [r["status"] for r in runs] == ["superseded", "finished"]
    assert store.find_finished(h)["run_id"] == runs[1]["run_id"]
    m2 = final_test_metrics(store, runs[1]["run_id"])
    assert m2 == m1  # same config and seed on CPU: identical numbers (a fresh run: --force deleted last.pt)
    s1 = store.samples(runs[0]["run_id"], "test", "pa_mpjpe")["value"]
    s2 = store.samples(runs[1]["run_id"], "test", "pa_mpjpe")["value"]
    assert s1.tolist() == s2.tolist()
    assert runs[1]["env"]["world_size"] == 1 and runs[1]["env"]["pid"] == os.getpid()


def test_another_seed_gives_other_numbers(cache):
    """Guards the determinism test: the seed does reach the run (else equal numbers would prove nothing)."""
    cfg0, cfg1 = tiny_config(train__epochs=1), tiny_config(train__epochs=1, train__seed=1)
    data = build_data(cfg0)
    r0 = trainer.train_run(cfg0, data, "s0", progress=False)
    r1 = trainer.train_run(cfg1, data, "s1", progress=False)
    assert r0.test["synth-test"]["mpjpe"] != r1.test["synth-test"]["mpjpe"]


# ------------------------------------------------------------------ NaN / Inf

def test_non_finite_loss_fails_that_run_and_the_next_row_runs(cache, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HMR_BENCH_ABLATIONS", str(nan_table(tmp_path / "ablations")))
    url = f"sqlite:///{cache / 'r.sqlite'}"
    rc = cli_main(["run", "nantest", "--profile", "smoke", "--store", url, "--device", "cpu", "--quiet",
                   *set_args(tiny(train__epochs=1))])
    out = capsys.readouterr().out
    assert rc == 1
    assert "runs: 1 failed, 1 finished" in out
    runs = {r["variant"]: r for r in ResultsStore(url).runs(table="nantest")}
    assert runs["ok"]["status"] == "finished"
    bad = runs["diverge"]
    assert bad["status"] == "failed"
    msg = bad["message"]
    # lr 1e30: step 1 is finite, its update blows the weights up, step 2's loss is not
    assert re.match(r"non-finite loss: epoch 1, step 2: non-finite loss term\(s\): "
                    r"(keypoint|keypoint3d|vertex|pose|beta|cam|cont) = .*(nan|inf|NaN|Inf)", msg), msg
    assert "failed: diverge seed 0: epoch 1, step 2: non-finite loss term(s)" in out
    assert set(final_test_metrics(ResultsStore(url), runs["ok"]["run_id"])) == set(TEST_METRICS)


def test_infinite_loss_weight_names_the_weighted_terms(cache):
    cfg = tiny_config(train__epochs=1, loss__weights__scale=float("inf"))
    with pytest.raises(NonFiniteLossError, match=r"^epoch 1, step 1: non-finite loss term\(s\): keypoint = inf") as e:
        trainer.train_run(cfg, build_data(cfg), "inf", progress=False)
    assert "keypoint" in e.value.names


def test_force_is_refused_while_a_live_worker_runs_the_config(cache, capsys):
    """--force never takes over a run whose worker is alive (fresh heartbeat): the claim and the checkpoints it
    writes stay untouched, the command says who runs it and exits 1."""
    from hmr_bench.experiment.runner import JobRunner
    from hmr_bench.store.store import runtime_env

    url = f"sqlite:///{cache / 'r.sqlite'}"
    store = ResultsStore(url)
    job = table_jobs(load_table("table2"), "smoke", overrides=tiny(train__epochs=1), variants=["full"])[0]
    h = JobRunner(store, "smoke", progress=False).config_hash(job.cfg)
    live = store.start_run(h, "table2", "full", 0, "smoke", {}, None, runtime_env("cpu"))  # this process: alive
    last = trainer.run_dir(h) / "last.pt"
    last.parent.mkdir(parents=True)
    last.write_bytes(b"the other worker's checkpoint")
    rc = cli_main(["run", "table2", "--profile", "smoke", "--variants", "full", "--store", url, "--quiet", "--force",
                   *set_args(tiny(train__epochs=1))])
    out = capsys.readouterr().out
    assert rc == 1 and "runs: 1 busy" in out
    assert re.search(rf"  busy: full seed 0: --force refused: run {live} on \S+ \(pid {os.getpid()}, last heartbeat "
                     r"\d+ s ago\) is running this config now", out), out
    assert store.get_run(live)["status"] == "running"
    assert [r["run_id"] for r in store.runs(table="table2")] == [live]
    assert last.read_bytes() == b"the other worker's checkpoint"


# ------------------------------------------------------------------ shards

@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_shards_cover_every_job_exactly_once(n):
    table = load_table("table2")
    every = [(j.row.name, j.seed) for j in table_jobs(table, "cpu")]
    assert len(every) == 5 * 8 == len(set(every))  # 5 rows × the cpu profile's 8 seeds
    parts = [[(j.row.name, j.seed) for j in table_jobs(table, "cpu", shard=parse_shard(f"{i}/{n}"))]
             for i in range(n)]
    seen = [job for part in parts for job in part]
    assert sorted(seen) == sorted(every)  # union is everything, no job twice
    assert max(map(len, parts)) - min(map(len, parts)) <= 1


@pytest.mark.parametrize("text", ["2/2", "-1/2", "1/0", "a/b", "1"])
def test_bad_shard(text):
    with pytest.raises(InputError, match=r"--shard.*i/n with 0 <= i < n"):
        parse_shard(text)


# ------------------------------------------------------------------ a claim left by a dead process

def test_dead_local_claim_is_found_and_taken_over(cache):
    store = ResultsStore(cache / "r.sqlite")
    gone = subprocess.Popen(["true"])
    gone.wait()
    from hmr_bench.store.store import runtime_env

    env = runtime_env("cpu")
    dead = store.start_run("hd", "t", "v", 0, "smoke", {}, None, env | {"pid": gone.pid})
    store.start_run("ha", "t", "v", 0, "smoke", {}, None, env | {"pid": os.getpid()})  # alive
    store.start_run("ho", "t", "v", 0, "smoke", {}, None, env | {"pid": gone.pid, "hostname": "elsewhere"})
    assert [r["run_id"] for r in dead_local_claims(store, "hd")] == [dead]
    assert dead_local_claims(store, "ha") == []  # this process is alive
    assert dead_local_claims(store, "ho") == []  # another host: left to the stale-heartbeat rule


# ------------------------------------------------------------------ bad input, as the user sees it

def run_cli(capsys, *args) -> tuple[int, str]:
    rc = cli_main(["run", *args])
    captured = capsys.readouterr()
    return rc, captured.err


def test_unknown_variant_lists_rows_and_suggests(cache, capsys):
    rc, err = run_cli(capsys, "table2", "--profile", "smoke", "--variants", "full,nope", "--quiet")
    assert rc == 2 and err.count("\n") == 1
    assert "found 'nope'; expected one of none, no-raf, no-cam, no-cont, full. did you mean 'none'?" in err


def test_unknown_profile(cache, capsys):
    rc, err = run_cli(capsys, "table2", "--profile", "smoek", "--quiet")
    assert rc == 2 and "found 'smoek'; expected one of smoke, cpu, paper. did you mean 'smoke'?" in err


def test_unknown_config_key_suggests_the_nearest(cache, capsys):
    rc, err = run_cli(capsys, "table2", "--profile", "smoke", "--set", "model.fusoin=none", "--quiet")
    assert rc == 2 and "--set: field 'model.fusoin': found an unknown key" in err
    assert "did you mean 'model.fusion'?" in err


def test_seeds_that_are_not_integers(cache, capsys):
    rc, err = run_cli(capsys, "table2", "--profile", "smoke", "--seeds", "0,x", "--quiet")
    assert rc == 2 and err == ("hmr-bench: error: --seeds: found '0,x'; expected comma-separated integers, "
                               "e.g. 0,1,2\n")


@pytest.mark.parametrize("key, value, expected", [
    ("train.epochs", -1, "an integer ≥ 1"), ("train.epochs", 0, "an integer ≥ 1"),
    ("train.batch_size", 0, "an integer ≥ 1"), ("train.max_steps_per_epoch", 0, "an integer ≥ 1"),
    ("data.n_val", 0, "an integer ≥ 1"), ("data.num_rois", -2, "an integer ≥ 1"),
    ("data.crop_size", [48, 0], "each value an integer ≥ 1"), ("data.workers", -1, "an integer ≥ 0"),
    ("train.lr", 0, "a finite number > 0")])
def test_non_positive_counts_and_sizes_are_refused_before_anything_runs(cache, capsys, key, value, expected):
    rc, err = run_cli(capsys, "table2", "--profile", "smoke", "--quiet", *set_args({key: value}))
    shown = repr(tuple(value) if isinstance(value, list) else float(value) if key == "train.lr" else value)
    assert rc == 2 and err == f"hmr-bench: error: --set: field '{key}': found {shown}; expected {expected}\n"
    assert not (cache / "results.sqlite").exists() and not (cache / "runs").exists()


def test_missing_body_model_fails_at_once_before_any_data(cache, capsys):
    before = sorted(p.name for p in (cache / "synthhmr").iterdir())
    t0 = time.time()
    rc, err = run_cli(capsys, "table2", "--profile", "smoke", "--quiet", "--set", "body_model=/nonexistent.npz")
    assert rc == 2 and time.time() - t0 < 10 and err.count("\n") == 1
    assert "body_model: found '/nonexistent.npz', which cannot be used (/nonexistent.npz: found no such file" in err
    assert sorted(p.name for p in (cache / "synthhmr").iterdir()) == before  # nothing rendered or started
    assert not (cache / "results.sqlite").exists()


def test_sqlite_url_with_user_and_password_is_refused_without_creating_anything(cache, tmp_path, capsys,
                                                                                monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc, err = run_cli(capsys, "table2", "--profile", "smoke", "--quiet", "--store", "sqlite://user:pw@/tmp/x")
    assert rc == 2 and err == (
        "hmr-bench: error: results store URL sqlite://user:***@/tmp/x: field 'url': found a user, password or host "
        "in a SQLite URL (SQLite opens a file; it has no server); expected sqlite:////absolute/path/results.sqlite "
        "(four slashes before an absolute path) or a plain file path\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]  # no folder 'tmp' made relative to the cwd


def test_store_that_cannot_be_opened(cache, tmp_path, capsys):
    (tmp_path / "afile").write_text("not a folder")
    rc, err = run_cli(capsys, "table2", "--profile", "smoke", "--store", str(tmp_path / "afile" / "r.sqlite"),
                      "--quiet")
    assert rc == 2 and f"results store URL sqlite:///{tmp_path}/afile/r.sqlite" in err
    assert "is a file, not a folder" in err


def test_password_in_store_url_never_shown(cache, capsys, caplog):
    t0 = time.time()
    rc, err = run_cli(capsys, "table2", "--profile", "smoke", "--quiet",
                      "--store", "postgresql://u:secret@nonexistent.invalid/db")
    assert rc == 2 and time.time() - t0 < 30  # fails before any data or training
    assert "postgresql://u:***@nonexistent.invalid/db" in err
    assert "secret" not in err and "secret" not in caplog.text
    assert not (cache / "runs").exists()


def test_data_root_without_the_files(cache, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    rc, err = run_cli(capsys, "table2", "--profile", "smoke", "--variants", "full", "--quiet", "--set",
                      "data.source=real", "--data-root", str(empty))
    assert rc == 2 and f"--data-root {empty}: found missing coco: annotations coco_2014_smpl_train.npz" in err


# ------------------------------------------------------------------ epoch callback, trivial baseline

def test_on_epoch_sees_each_validation_and_stop_run_ends_the_run(cache):
    """The callback gets each epoch's validation means; StopRun after epoch 1 ends the run there: "stopped" in the
    outcome, failed with the reason in the store, last.pt at epoch 0, no test metrics."""
    from hmr_bench.experiment.runner import JobRunner
    from hmr_bench.store import ResultsStore

    store = ResultsStore(cache / "r.sqlite")
    job = table_jobs(load_table("table2"), "smoke", seeds=[0], overrides=tiny(train__epochs=3), variants=["full"])[0]
    seen = []

    def on_epoch(epoch, val):
        seen.append((epoch, val))
        if epoch == 0:
            raise trainer.StopRun("pruned at epoch 1")

    out = JobRunner(store, "smoke", progress=False).run(job, on_epoch=on_epoch)
    assert out.status == "stopped" and "pruned at epoch 1" in out.message
    assert [e for e, _ in seen] == [0]
    run = store.runs()[-1]
    assert run["status"] == "failed" and "pruned at epoch 1" in run["message"]
    curve = store.curve(run["run_id"], "mpjpe", "val")
    assert curve["value"].tolist() == pytest.approx([seen[0][1]["mpjpe"]])
    assert load_checkpoint(cache / "runs" / out.config_hash / "last.pt")["epoch"] == 0
    assert final_test_metrics(store, run["run_id"]) == {}


def test_table_run_stores_the_trivial_baseline_once_and_prints_it(cache, capsys):
    url = f"sqlite:///{cache / 'r.sqlite'}"
    assert cli_main(["run", "table2", "--profile", "smoke", "--variants", "full", "--store", url, "--quiet",
                     *set_args(tiny(train__epochs=1))]) == 0
    store = ResultsStore(url)
    trivial = [r for r in store.runs() if r["table"] == "trivial"]
    assert len(trivial) == 1 and trivial[0]["status"] == "finished"
    m = {r["name"]: r["value"] for r in store.metrics([trivial[0]["run_id"]], split="test")}
    out = capsys.readouterr().out
    assert f"mpjpe {m['mpjpe']:.1f}" in out and "Trivial baseline" in out
    assert cli_main(["run", "table2", "--profile", "smoke", "--variants", "full", "--store", url, "--quiet",
                     *set_args(tiny(train__epochs=1))]) == 0
    assert len([r for r in store.runs() if r["table"] == "trivial"]) == 1  # cached, not recomputed


def test_a_config_shared_by_two_tables_trains_once_and_counts_in_both(cache):
    """Table 4's M = 5 is Table 2's full model (same config hash): running Table 4 after Table 2 skips it as
    cached, and Table 4's results show it (through the store's alias) with Table 2's numbers."""
    from hmr_bench.experiment.table_results import table_result

    url = f"sqlite:///{cache / 'r.sqlite'}"
    kw = dict(store_url=url, overrides=tiny(train__epochs=1), progress=False)
    full = run_table("table2", "smoke", variants=["full"], **kw)
    m5 = run_table("table4", "smoke", variants=["M5"], **kw)
    assert m5[0].config_hash == full[0].config_hash and m5[0].status == "skipped"
    store = ResultsStore(url)
    assert len([r for r in store.runs() if r["table"] != "trivial"]) == 1  # trained once
    res = table_result(store, load_table("table4"), "smoke")
    row = next(r for r in res.rows if r.name == "M5")
    assert row.seeds["mpjpe"] == {0: final_test_metrics(store, full[0].run_id)["mpjpe"]}
    aliased = store.runs(table="table4")
    assert [(r["variant"], r["alias_of"]) for r in aliased] == [("M5", "table2/full")]
