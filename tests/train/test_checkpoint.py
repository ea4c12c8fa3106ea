"""Checkpoints: RNG states round-trip, a truncated file is a clear error that loses nothing stored, a full disk
keeps the previous checkpoint, and a file crafted to run code is refused with nothing executed."""

from __future__ import annotations

import errno
import pickle
import random
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from hmr_bench.cli import main as cli_main
from hmr_bench.errors import InputError
from hmr_bench.experiment.jobs import table_jobs
from hmr_bench.experiment.runner import run_table
from hmr_bench.io import atomic_write
from hmr_bench.store import ResultsStore
from hmr_bench.tables import load_table
from hmr_bench.train import checkpoint, trainer
from hmr_bench.train.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from hmr_bench.train.data import build_data
from tests.train import cache_fixture, set_args, synth_root_fixture, tiny, tiny_config  # noqa: F401


def draws() -> tuple:
    return random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist()  # noqa: NPY002


def test_rng_states_survive_a_checkpoint_file(tmp_path):
    random.seed(1)
    np.random.seed(2)  # noqa: NPY002
    torch.manual_seed(3)
    draws()
    save_checkpoint(tmp_path / "c.pt", {"rng": rng_state()})
    expected = draws()
    draws()  # move every generator on
    set_rng_state(load_checkpoint(tmp_path / "c.pt")["rng"])
    assert draws() == expected


def good_checkpoint(path: Path) -> dict:
    payload = {"model": {"w": torch.arange(6.0).reshape(2, 3)}, "epoch": 3, "history": [{"epoch": 0, "mpjpe": 1.5}]}
    save_checkpoint(path, payload)
    return payload


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "last.pt"
    good_checkpoint(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"last\.pt: found a corrupted or truncated file") as e:
        load_checkpoint(path)
    assert str(path) in str(e.value)


def no_space(monkeypatch, fail_when=lambda path: True):
    """save_checkpoint's atomic write runs for real but the disk fills up half way through `path`s for which
    `fail_when(path)` holds."""
    calls = []

    def write(path, fn):
        calls.append(Path(path))
        if not fail_when(Path(path)):
            return atomic_write(path, fn)

        def half_then_full(fh):
            fh.write(b"\x80" * 100)
            raise OSError(errno.ENOSPC, "No space left on device")

        return atomic_write(path, half_then_full)

    monkeypatch.setattr(checkpoint, "atomic_write", write)
    return calls


def test_disk_full_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    before = good_checkpoint(path)
    no_space(monkeypatch)
    with pytest.raises(InputError, match=r"last\.pt: found a write error \(No space left on device\); expected "
                       r"room to write the checkpoint; the previous one is kept"):
        save_checkpoint(path, {"model": {"w": torch.zeros(2)}, "epoch": 4})
    after = load_checkpoint(path)
    assert after["epoch"] == 3 and torch.equal(after["model"]["w"], before["model"]["w"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]  # no temporary file left behind


class RunsCode:
    """Pickles as a call of Path.touch(marker): loading the pickle without weights_only would create the file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_checkpoint_crafted_to_run_code_is_refused(tmp_path):
    marker, path = tmp_path / "pwned", tmp_path / "last.pt"
    torch.save({"model": {}, "epoch": 0, "x": RunsCode(marker)}, path)
    with pytest.raises(InputError, match=r"last\.pt: found data that safe loading refuses \(Unsupported global: "
                       r"GLOBAL [\w.]+ was not an allowed global by default\.\); expected a checkpoint") as e:
        load_checkpoint(path)
    assert not re.search(r"weights_only|safe_globals|trust", str(e.value))  # torch's advice to load it anyway
    assert not marker.exists()
    torch.load(path, weights_only=False)  # the file does run code when loaded unsafely (the test can fail)
    assert marker.exists()


def test_random_bytes_checkpoint_is_one_line_without_torchs_advice(tmp_path):
    path = tmp_path / "last.pt"
    data = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    path.write_bytes(data)
    with pytest.raises(pickle.UnpicklingError, match="weights_only"):  # torch's own message gives that advice
        torch.load(path, weights_only=True)
    with pytest.raises(InputError) as e:
        load_checkpoint(path)
    # not a zip archive, so torch reads a pickle, whose first byte (the first opcode) it does not know
    assert str(e.value) == (f"{path}: found data that safe loading refuses (Unsupported operand {data[0]}); "
                            "expected a checkpoint of plain tensors and containers written by hmr-bench")


# ------------------------------------------------------------------ through the runner

def job_hash(overrides: dict) -> str:
    job = table_jobs(load_table("table2"), "smoke", overrides=overrides, variants=["full"])[0]
    return job.cfg.hash(build_data(job.cfg).key)


def store_with_a_finished_run(url: str) -> tuple[ResultsStore, str]:
    store = ResultsStore(url)
    rid = store.start_run("earlier", "table2", "none", 0, "smoke", {"x": 1}, "k")
    store.log_metrics(rid, "test", "synth-test", {"mpjpe": 81.5})
    store.finish_run(rid, 3.0)
    return store, rid


@pytest.mark.parametrize("damage", ["truncated", "random bytes"])
def test_damaged_last_checkpoint_stops_with_its_name_and_loses_nothing(cache, capsys, damage):
    url = f"sqlite:///{cache / 'r.sqlite'}"
    store, earlier = store_with_a_finished_run(url)
    last = cache / "runs" / job_hash(tiny()) / "last.pt"
    good_checkpoint(last)
    data = last.read_bytes()[:200] if damage == "truncated" else bytes(range(256))[::-1] * 2
    last.write_bytes(data[:200])
    rc = cli_main(["run", "table2", "--profile", "smoke", "--variants", "full", "--store", url, "--quiet",
                   "--device", "cpu", *set_args(tiny())])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1
    found = ("a corrupted or truncated file" if damage == "truncated"
             else f"data that safe loading refuses (Unsupported operand {data[0]})")
    assert f"hmr-bench: error: {last}: found {found}" in err
    assert "Delete it to start this run over, or re-run with --force" in err
    assert not re.search(r"weights_only|safe_globals|trust", err)
    assert store.find_finished("earlier")["run_id"] == earlier  # what was stored before is intact
    assert [m["value"] for m in store.metrics(run_ids=[earlier])] == [81.5]
    failed = [r for r in store.runs() if r["run_id"] != earlier and r["table"] != "trivial"]
    assert len(failed) == 1 and failed[0]["status"] == "failed" and str(last) in failed[0]["message"]
    assert last.stat().st_size == 200  # the runner does not delete the user's file


def test_disk_full_during_training_fails_the_run_and_keeps_the_last_good_checkpoint(cache, monkeypatch):
    url = f"sqlite:///{cache / 'r.sqlite'}"
    writes = no_space(monkeypatch, fail_when=lambda p: p.name == "last.pt" and (p.parent / "last.pt").exists())
    with pytest.raises(InputError, match=r"last\.pt: found a write error \(No space left on device\)"):
        run_table("table2", "smoke", variants=["full"], store_url=url, overrides=tiny(train__epochs=2),
                  progress=False)
    last = [p for p in writes if p.name == "last.pt"][0]
    assert load_checkpoint(last)["epoch"] == 0  # epoch 1's checkpoint, whole
    assert sorted(p.name for p in last.parent.iterdir()) == ["best.pt", "last.pt"]
    (run,) = ResultsStore(url).runs(table="table2")
    assert run["status"] == "failed" and "No space left on device" in run["message"] and str(last) in run["message"]


def test_resume_refuses_a_crafted_last_checkpoint(cache, tmp_path):
    cfg = tiny_config(train__epochs=1)
    marker = tmp_path / "pwned"
    last = trainer.run_dir("crafted") / "last.pt"
    last.parent.mkdir(parents=True)
    torch.save({"model": {}, "x": RunsCode(marker)}, last)
    with pytest.raises(InputError, match=r"last\.pt: found data that safe loading refuses"):
        trainer.train_run(cfg, build_data(cfg), "crafted", progress=False)
    assert not marker.exists()
