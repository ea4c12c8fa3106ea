"""The body model of a command: --set body_model, else $HMR_BENCH_BODY_MODEL, else free; validated at once,
named by absolute path, fingerprinted by sha256 in the store and in the run's data key."""

import hashlib
import shutil

import pytest

from hmr_bench import cli
from hmr_bench.body.model import FREE_MODEL_FILE
from hmr_bench.body.source import body_files, body_key, body_provenance, resolve_body_source
from hmr_bench.errors import InputError
from hmr_bench.experiment.jobs import table_jobs
from hmr_bench.experiment.provenance import run_provenance
from hmr_bench.experiment.runner import JobRunner
from hmr_bench.tables import load_table
from hmr_bench.train.data import RunData

ENV = "HMR_BENCH_BODY_MODEL"


@pytest.fixture
def model(tmp_path):
    """A real-looking user model: a copy of the free model under another name."""
    path = tmp_path / "smpl" / "SMPL_NEUTRAL.npz"
    path.parent.mkdir()
    shutil.copy(FREE_MODEL_FILE, path)
    return path


def test_resolution_order_and_absolute_paths(model, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    assert resolve_body_source() == "free" and resolve_body_source("free") == "free"
    monkeypatch.setenv(ENV, str(model))
    assert resolve_body_source() == str(model.resolve())
    assert resolve_body_source("free") == "free"  # an explicit choice wins over the variable
    monkeypatch.chdir(model.parent.parent)
    monkeypatch.setenv(ENV, "smpl")  # a folder, relative: named by its absolute path
    assert resolve_body_source() == str(model.parent.resolve())
    assert body_files(resolve_body_source()) == {"neutral": model.parent.resolve() / "SMPL_NEUTRAL.npz"}


@pytest.mark.parametrize("bad", ["missing.npz", "not_a_model.npz", "empty_folder"])
def test_a_bad_path_fails_at_once_naming_it_and_where_it_came_from(tmp_path, monkeypatch, bad):
    (tmp_path / "not_a_model.npz").write_bytes(b"PK\x03\x04 truncated")
    (tmp_path / "empty_folder").mkdir()
    monkeypatch.setenv(ENV, str(tmp_path / bad))
    with pytest.raises(InputError, match=rf"^\$HMR_BENCH_BODY_MODEL: found '.*{bad}', which cannot be used"):
        resolve_body_source()
    with pytest.raises(InputError, match=rf"^body_model: found '.*{bad}'"):
        resolve_body_source(tmp_path / bad)


def test_provenance_and_key_follow_the_file_content(model):
    prov = body_provenance(str(model))
    assert prov["files"]["neutral"] == {"file": str(model.resolve()),
                                        "sha256": hashlib.sha256(model.read_bytes()).hexdigest()}
    key = body_key(str(model))
    assert body_key("free") == "" and body_key(str(FREE_MODEL_FILE)) == ""
    assert key.startswith("|body=") and len(key) == len("|body=") + 16
    model.write_bytes(model.read_bytes() + b"\0")  # other content under the same name: another key
    assert body_key(str(model)) != key


def test_table_jobs_take_the_variable_and_set_wins(model, monkeypatch):
    monkeypatch.setenv(ENV, str(model))
    jobs = table_jobs(load_table("table3"), "smoke")
    assert {j.cfg.body_model for j in jobs} == {str(model.resolve())}
    jobs = table_jobs(load_table("table3"), "smoke", overrides={"body_model": "free"})
    assert {j.cfg.body_model for j in jobs} == {"free"}
    monkeypatch.setenv(ENV, str(model.parent / "nope.npz"))
    with pytest.raises(InputError, match=r"HMR_BENCH_BODY_MODEL: found '.*nope\.npz'"):
        table_jobs(load_table("table3"), "smoke")


def test_run_data_key_and_store_record_name_the_files(model, monkeypatch):
    monkeypatch.setattr("hmr_bench.train.data.build_data",
                        lambda cfg, root=None: RunData(None, None, {}, "synth-test", key="synthkey"))
    runner = JobRunner(store=None, profile="smoke")
    free_cfg = table_jobs(load_table("table3"), "smoke", overrides={"body_model": "free"})[0].cfg
    user_cfg = table_jobs(load_table("table3"), "smoke", overrides={"body_model": str(model)})[0].cfg
    assert runner.data(free_cfg).key == "synthkey"
    assert runner.data(user_cfg).key == "synthkey" + body_key(str(model))
    assert runner.config_hash(free_cfg) != runner.config_hash(user_cfg)  # never a cached free-model result
    env = run_provenance(user_cfg)
    assert env["body_model"]["files"]["neutral"]["sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert env["ground_truth"]["synth-test"].startswith("exact; pelvis joint 0")


def test_cli_run_and_synth_fail_at_once_on_a_bad_variable(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(ENV, str(tmp_path / "SMPL_NEUTRAL.npz"))
    store = tmp_path / "store.db"
    assert cli.main(["run", "table3", "--profile", "smoke", "--store", str(store), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "$HMR_BENCH_BODY_MODEL" in err and str(tmp_path / "SMPL_NEUTRAL.npz") in err
    assert not store.exists()  # nothing opened, nothing trained
    assert cli.main(["data", "synth", "--profile", "smoke", "--root", str(tmp_path / "d"), "--quiet"]) == 2
    assert str(tmp_path / "SMPL_NEUTRAL.npz") in capsys.readouterr().err
    assert cli.main(["body", "check"]) == 2


def test_a_folders_gendered_files_are_checked_too(model, monkeypatch):
    shutil.copy(model, model.parent / "SMPL_MALE.npz")  # gender 'neutral' inside a file named male
    monkeypatch.setenv(ENV, str(model.parent))
    with pytest.raises(InputError, match=r"SMPL_MALE\.npz: field 'gender': found 'neutral'; expected 'male'"):
        resolve_body_source()


def test_sweeps_take_the_variable_too(model, monkeypatch):
    from hmr_bench.sweep.space import build_spec

    monkeypatch.setenv(ENV, str(model))
    assert build_spec("smoke", search=["lambda_x"]).base_config().body_model == str(model.resolve())
    monkeypatch.setenv(ENV, str(model.parent / "gone.npz"))
    with pytest.raises(InputError, match=r"gone\.npz"):
        build_spec("smoke", search=["lambda_x"])
