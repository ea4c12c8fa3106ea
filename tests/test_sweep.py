"""Sweeps in one process: bad input, the search space's mapping onto the loss config, the objective read from the
store (validation, kept checkpoint), the per-trial seeded sampler, a pruned trial, and retrain + page + plots."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys

import numpy as np
import optuna
import pytest
from scipy import stats as sps

from hmr_bench.errors import InputError
from hmr_bench.experiment.runner import JobRunner
from hmr_bench.store import ResultsStore
from hmr_bench.sweep import plots
from hmr_bench.sweep.__main__ import main as sweep_main
from hmr_bench.sweep.page import sweep_page_data
from hmr_bench.sweep.retrain import compare, retrain
from hmr_bench.sweep.search import objective_values, run_sweep
from hmr_bench.sweep.space import build_spec, parse_param
from hmr_bench.sweep.study import TrialSeededSampler, create_or_load_study, open_storage, recover_dead_trials
from tests.train import cache_fixture, synth_root_fixture, tiny  # noqa: F401

TINY = tiny(**{"train.max_steps_per_epoch": 2})


# ------------------------------------------------------------------ bad input

@pytest.mark.parametrize("text, pattern", [
    ("loss.weights.cam=10:0.1", r"low 10, high 0\.1; expected finite numbers with low < high"),
    ("loss.weights.cam=0:1:log", r"low 0 on a log scale; expected low > 0 for a :log range"),
    ("loss.weights.cam=a:b", r"found 'a:b'; expected two numbers low:high"),
    ("loss.weights.cam=0.1:1:cubic", r"found '0.1:1:cubic'; expected low:high or low:high:log"),
    ("loss.weights.cam", r"expected key=low:high or key=low:high:log"),
    ("loss.weights.cma=0.1:1", r"found an unknown key.*did you mean 'loss.weights.cam'\?"),
    ("model.fusion=0:1", r"field 'model.fusion': found a field of type <class 'str'>; expected a numeric"),
    ("train.epochs=1.5:3", r"expected integer bounds"),
    ("loss.temperature=-1:1",
     r"'loss.temperature': found low end -1 makes an invalid config \(LossConfig: field 'temperature'.*τ > 0"),
])
def test_bad_param_ranges_are_input_errors(text, pattern):
    with pytest.raises(InputError, match=pattern):
        build_spec("smoke", params=[text])


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(search=["lambda_cma"]), r"--search: found 'lambda_cma'.*did you mean 'lambda_cam'\?"),
    (dict(search=[]), r"no parameter"),
    (dict(metrics=("mpjpee",)), r"--metric: found 'mpjpee'.*did you mean 'mpjpe'\?"),
    (dict(metrics=("mpjpe", "pa_mpjpe"), pruner="median"), r"'none' \(optuna cannot prune multi-objective"),
    (dict(overrides={"loss.weights.cam": 2.0}), r"'loss.weights.cam': found a key that is also searched"),
    (dict(overrides={"loss.cam": "paper"}, cam_form="official"), r"one L_cam form"),
    (dict(overrides={"train.epoch": 2}), r"did you mean 'train.epochs'\?"),
    (dict(overrides={"train.seed": 3}), r"'train.seed': found a fixed training seed; expected --seed"),
])
def test_bad_sweep_arguments_are_input_errors(kwargs, pattern):
    with pytest.raises(InputError, match=pattern):
        build_spec("smoke", **kwargs)


def test_bad_profile_and_study_name():
    with pytest.raises(InputError, match=r"did you mean 'smoke'\?"):
        build_spec("smok")
    with pytest.raises(InputError, match=r"--study: found 'a b'"):
        run_sweep(build_spec("smoke"), 1, study_name="a b")


def test_storage_urls_that_cannot_be_opened(tmp_path):
    with pytest.raises(InputError, match=r"is a directory"):
        open_storage(tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match=r"is a file, not a folder"):
        open_storage(tmp_path / "file" / "s.sqlite")
    with pytest.raises(InputError, match=r"unreadable URL or unknown database"):
        open_storage("nosuchdb://host/x")
    (tmp_path / "junk.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(InputError, match=r"the database cannot be opened"):
        open_storage(tmp_path / "junk.sqlite")
    with pytest.raises(InputError) as e:  # no server there (or no driver): either way a clear error, no password
        open_storage("postgresql://user:s3cret@127.0.0.1:1/db")
    assert "s3cret" not in str(e.value) and "***" in str(e.value)


def test_cli_reports_bad_input_with_exit_code_2(tmp_path, capsys):
    rc = sweep_main(["--profile", "smoke", "--trials", "1", "--param", "train.lr=1e-3:1e-5:log",
                     "--storage", str(tmp_path / "s.sqlite")])
    assert rc == 2
    assert "hmr-bench: error: --param: field 'train.lr': found low 0.001, high 1e-05" in capsys.readouterr().err
    rc = sweep_main(["--profile", "smoke", "--trials", "1", "--storage", str(tmp_path)])
    assert rc == 2 and "is a directory" in capsys.readouterr().err


def test_a_restart_with_another_search_space_is_refused(tmp_path):
    storage = open_storage(tmp_path / "s.sqlite")
    create_or_load_study(storage, "s", build_spec("smoke"))
    create_or_load_study(storage, "s", build_spec("smoke"))  # the same spec loads
    with pytest.raises(InputError, match=r"a different sweep: params: .*use another --study name"):
        create_or_load_study(storage, "s", build_spec("smoke", search=["lambda_cam"]))


# ------------------------------------------------------------------ search space

def test_builtin_weights_map_onto_the_loss_config_with_the_spec_defaults():
    """Spec §4.1/§4.7: official λx = λy = 1, λs = 1e-4; paper form 0.1, 0.1, 1e-4; λcam = 1, λcont = 0.1."""
    for form, (lx, ly, ls) in (("official", (1.0, 1.0, 1e-4)), ("paper", (0.1, 0.1, 1e-4))):
        spec = build_spec("smoke", cam_form=form)
        assert spec.defaults() == {"lambda_x": lx, "lambda_y": ly, "lambda_s": ls, "lambda_cam": 1.0,
                                   "lambda_cont": 0.1}
        for p in spec.params:  # one decade either side of each default
            assert p.log and p.low == pytest.approx(spec.defaults()[p.name] / 10)
            assert p.high == pytest.approx(spec.defaults()[p.name] * 10)
        cfg = spec.config({"lambda_x": 2.0, "lambda_y": 3.0, "lambda_s": 4e-4, "lambda_cam": 5.0,
                           "lambda_cont": 0.6}, seed=7)
        loss = cfg.loss
        assert (loss.cam, loss.lambda_x, loss.lambda_y, loss.lambda_s) == (form, 2.0, 3.0, 4e-4)
        assert (loss.weights.cam, loss.weights.cont, cfg.train.seed) == (5.0, 0.6, 7)
        assert cfg.model.backbone == "cnn-tiny"  # the smoke profile underneath


def test_user_params_and_builtin_range_overrides():
    spec = build_spec("smoke", search=["lambda_cam"], params=["train.lr=1e-5:1e-3:log", "loss.weights.cam=0.5:2",
                                                              "train.epochs=1:4", "lambda_cont=0.05:0.2:log"])
    got = {p.name: (p.key, p.low, p.high, p.log, p.integer) for p in spec.params}
    assert got == {"lambda_cam": ("loss.weights.cam", 0.5, 2.0, False, False),
                   "train.lr": ("train.lr", 1e-5, 1e-3, True, False),
                   "train.epochs": ("train.epochs", 1, 4, False, True),
                   "lambda_cont": ("loss.weights.cont", 0.05, 0.2, True, False)}
    assert spec.defaults()["train.lr"] == 1e-3 and spec.defaults()["train.epochs"] == 2  # the smoke profile's
    assert parse_param("a.b=1:2") == ("a.b", 1.0, 2.0, False)


# ------------------------------------------------------------------ objective and sampler

def test_objective_is_the_validation_value_of_the_kept_checkpoint(tmp_path):
    """Hand-made store rows: validation MPJPE 5, 4, 4 over three epochs (the trainer keeps the FIRST best, epoch 1);
    the test split (1.0) must never be read."""
    store = ResultsStore(tmp_path / "r.sqlite")
    rid = store.start_run("h", "sweep:x", "trial-0", 0, "smoke", {})
    for epoch, (mpjpe, pa) in enumerate([(5.0, 3.0), (4.0, 3.5), (4.0, 1.0)]):
        store.log_metrics(rid, "val", "synth-test", {"mpjpe": mpjpe, "pa_mpjpe": pa}, epoch=epoch)
    store.log_metrics(rid, "test", "synth-test", {"mpjpe": 1.0, "pa_mpjpe": 1.0})
    assert objective_values(store, "h", ("mpjpe", "pa_mpjpe")) is None  # not finished yet
    store.finish_run(rid, 1.0)
    assert objective_values(store, "h", ("mpjpe", "pa_mpjpe")) == [4.0, 3.5]
    assert objective_values(store, "h", ("pa_mpjpe",)) == [3.5]
    assert objective_values(store, "h", ("mpjpe", "pve")) is None  # a metric missing there: no objective (fails)


def _draw(study, n):
    dists = {"a": optuna.distributions.FloatDistribution(1e-3, 1.0, log=True),
             "b": optuna.distributions.FloatDistribution(0.0, 1.0)}
    for _ in range(n):
        t = study.ask(dists)
        study.tell(t, math.log(t.params["a"]) ** 2 + t.params["b"])


def test_sampler_is_seeded_per_trial_number():
    """A restarted worker (new sampler object, same study) continues exactly like an uninterrupted one, and never
    repeats an earlier trial's parameters; another seed gives other parameters."""
    whole = optuna.create_study(sampler=TrialSeededSampler(0, n_startup_trials=3))
    _draw(whole, 6)
    restarted = optuna.create_study(sampler=TrialSeededSampler(0, n_startup_trials=3))
    _draw(restarted, 2)
    restarted.sampler = TrialSeededSampler(0, n_startup_trials=3)
    _draw(restarted, 4)
    assert [t.params for t in restarted.trials] == [t.params for t in whole.trials]
    assert len({tuple(t.params.values()) for t in whole.trials}) == 6
    other = optuna.create_study(sampler=TrialSeededSampler(1, n_startup_trials=3))
    _draw(other, 2)
    assert other.trials[0].params != whole.trials[0].params


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")
def test_only_trials_of_dead_local_processes_are_failed_and_queued_again_once(tmp_path):
    spec = build_spec("smoke", search=["lambda_cam", "lambda_cont"])
    study = create_or_load_study(open_storage(tmp_path / "s.sqlite"), "dead", spec, enqueue_defaults=False)
    dists = {p.name: p.distribution() for p in spec.params}
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)  # a process that has exited
    host = socket.gethostname()
    owners = [(host, dead_pid), (host, os.getpid()), ("another-host", dead_pid)]
    trials = []
    for h, pid in owners:
        t = study.ask(dists)
        t.set_user_attr("host", h)
        t.set_user_attr("pid", pid)
        t.set_user_attr("note", "kept")
        trials.append(t)
    partial = study.ask()  # died before its parameters were set
    partial.set_user_attr("host", host)
    partial.set_user_attr("pid", dead_pid)

    assert recover_dead_trials(study) == [trials[0].number, partial.number]
    assert recover_dead_trials(study) == []  # exactly once
    by_number = {t.number: t for t in study.get_trials()}
    assert by_number[trials[0].number].state.name == "FAIL"
    assert by_number[trials[0].number].user_attrs["failure"] == \
        f"interrupted: its process (pid {dead_pid} on this host) died"
    assert [by_number[t.number].state.name for t in trials[1:]] == ["RUNNING", "RUNNING"]  # alive / other host
    (retry,) = [t for t in by_number.values() if t.state.name == "WAITING"]  # none for the parameterless one
    assert retry.params == trials[0].params and retry.system_attrs["failed_trial"] == trials[0].number
    assert retry.user_attrs == {"note": "kept"}  # the dead process's host/pid are not copied


# ------------------------------------------------------------------ runs

def test_pruned_trial_is_pruned_in_optuna_and_stopped_in_the_store(cache, tmp_path):
    spec = build_spec("smoke", search=["lambda_cam"], overrides=TINY)
    always = optuna.pruners.ThresholdPruner(upper=0.0, n_warmup_steps=0)  # any error > 0 mm: prune at epoch 1
    url = f"sqlite:///{tmp_path / 'sweeps.sqlite'}"
    result = run_sweep(spec, 1, study_name="prune", storage=url, pruner=always, poll_s=0.1)
    assert result.counts == {"PRUNED": 1} and result.best is None
    (trial,) = optuna.load_study(study_name="prune", storage=url).trials
    assert trial.state == optuna.trial.TrialState.PRUNED
    assert list(trial.intermediate_values) == [0]  # stopped after the first epoch's validation
    store = ResultsStore()
    (run,) = store.runs(table="sweep:prune")
    assert run["config_hash"] == trial.user_attrs["config_hash"] and run["variant"] == "trial-0"
    assert run["status"] == "failed" and run["message"].startswith("stopped: pruned by optuna at epoch 1")
    assert store.metrics(run_ids=[run["run_id"]], split="test", status=None) == []  # never tested
    val = store.metrics(run_ids=[run["run_id"]], split="val", final_only=False, status=None)
    assert trial.intermediate_values[0] == pytest.approx(next(m["value"] for m in val if m["name"] == "mpjpe"))


def test_retrain_compares_best_and_defaults_paired_and_the_page_draws(cache, tmp_path):
    """Multi-objective search of one trial (no defaults trial), retrained with seeds 0 and 1: the comparison must
    equal a hand computation from the store's test rows; the page data and every plot come out (importances: none
from one complete trial)."""
    spec = build_spec("smoke", search=["lambda_cam", "lambda_cont"], metrics=("mpjpe", "pa_mpjpe"), overrides=TINY)
    url = f"sqlite:///{tmp_path / 'sweeps.sqlite'}"
    result = run_sweep(spec, 1, study_name="rt", storage=url, enqueue_defaults=False, poll_s=0.1)
    assert result.counts == {"COMPLETE": 1} and len(result.best.values) == 2
    store = ResultsStore()
    study = optuna.load_study(study_name="rt", storage=url)
    plan = retrain(study, JobRunner(store, "smoke", progress=False), [0, 1])
    assert plan["status"]["best"]["0"] == "skipped"  # the trial's own run (seed 0), cached
    assert plan["params"]["defaults"] == {"lambda_cam": 1.0, "lambda_cont": 0.1}
    cmp = compare(store, plan)

    def test_value(config_hash, metric):
        run = store.find_finished(config_hash)
        rows = store.metrics(run_ids=[run["run_id"]], split="test")
        return next(r["value"] for r in rows if r["name"] == metric)

    for metric in ("mpjpe", "pa_mpjpe"):
        best = np.array([test_value(plan["hashes"]["best"][s], metric) for s in ("0", "1")])
        dflt = np.array([test_value(plan["hashes"]["defaults"][s], metric) for s in ("0", "1")])
        d = best - dflt
        half = sps.t.ppf(0.975, 1) * d.std(ddof=1) / math.sqrt(2)
        got = cmp["datasets"]["synth-test"][metric]
        assert got["diff"]["mean"] == pytest.approx(d.mean())
        assert (got["diff"]["low"], got["diff"]["high"]) == pytest.approx((d.mean() - half, d.mean() + half))
        assert got["beats_defaults"] == (True if d.mean() + half < 0 else False if d.mean() - half > 0 else None)
        assert got["values"]["best"] == {"0": best[0], "1": best[1]}

    data = sweep_page_data("rt", url, store)
    assert data["counts"] == {"COMPLETE": 1} and data["best"]["number"] == 0
    assert data["importances"] == {}  # one complete trial: nothing to rank
    assert data["retrain"]["datasets"] == cmp["datasets"]
    assert data["trials"][0]["config_hash"] == plan["hashes"]["best"]["0"]
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from hmr_bench.report.figures import retrain_plot

    study = optuna.load_study(study_name="rt", storage=url)
    for i in range(2):
        assert plots.plot_importances(study, data, i) is None
        for fn in (plots.plot_history, plots.plot_parallel, plots.plot_slices):
            assert isinstance(fn(study, data, i), Figure), (fn.__name__, i)
    per = data["retrain"]["datasets"]["synth-test"]
    svg = retrain_plot(per, data["retrain"]["best_trial"], 2, data["retrain"]["level"], "synth-test", "rt")
    assert svg.startswith('<svg class="plot" ') and all(f"{m}: best − defaults" in svg for m in per)
    plt.close("all")


def test_importances_rank_the_parameter_each_objective_depends_on():
    """Objective 1 = 10·a + 0.1·b, objective 2 = b: a must dominate the first, b the second."""
    from hmr_bench.sweep.page import importances

    study = optuna.create_study(directions=["minimize", "minimize"], sampler=optuna.samplers.RandomSampler(0))
    study.optimize(lambda t: (10 * t.suggest_float("a", 0, 1) + 0.1 * t.suggest_float("b", 0, 1), t.params["b"]),
                   n_trials=12)
    imp = importances(study, ("mpjpe", "pa_mpjpe"))
    assert imp["mpjpe"]["a"] > 0.8 and imp["pa_mpjpe"]["b"] > 0.8
    assert importances(optuna.create_study(), ("mpjpe",)) == {}


# ------------------------------------------------------------------ pruner warm-up

def _fake_sweep(pruner, curves: list[list[float]], epochs: int) -> optuna.Study:
    """One trial per curve (validation value after each epoch), reported as `run_trial` does: step = epoch index,
    the pruner asked after every epoch but the last; a complete trial's value is its best epoch's."""
    study = optuna.create_study(direction="minimize", pruner=pruner, sampler=optuna.samplers.RandomSampler(0))

    def objective(trial):
        trial.suggest_float("x", 0.0, 1.0)
        curve = curves[trial.number]
        for epoch in range(epochs):
            trial.report(curve[epoch], epoch)
            if epoch < epochs - 1 and trial.should_prune():
                raise optuna.TrialPruned()
        return min(curve)

    study.optimize(objective, n_trials=len(curves))
    return study


# Five finished 2-epoch trials: epoch-0 values 10 … 50 (median 30), epoch-1 values 9 … 49 (median 29).
FINISHED_CURVES = [[10.0, 9.0], [20.0, 19.0], [30.0, 29.0], [40.0, 39.0], [50.0, 49.0]]


def test_default_warmup_lets_the_median_pruner_act_before_the_last_epoch():
    from hmr_bench.sweep.study import default_warmup_epochs, make_pruner, trial_epochs

    assert [default_warmup_epochs(e) for e in (1, 2, 3, 4, 25)] == [0, 0, 1, 1, 1]
    with pytest.raises(InputError, match="epochs"):
        default_warmup_epochs(0)
    two = build_spec("smoke", search=["lambda_cam"])
    assert trial_epochs(two) == 2  # the smoke profile trains 2 epochs per trial
    assert trial_epochs(build_spec("cpu", search=["lambda_cam"])) == 5
    assert trial_epochs(build_spec("cpu", search=["lambda_cam"], params=["train.epochs=3:6"])) == 3
    assert trial_epochs(build_spec("paper", search=["lambda_cam"])) == 25

    # 2 epochs: trial 5 is worse than the median (30) after epoch 0 → pruned there, its second epoch never run
    study = _fake_sweep(make_pruner("median", epochs=trial_epochs(two)),
                        FINISHED_CURVES + [[35.0, 1.0], [25.0, 24.0]], epochs=2)
    states = [t.state for t in study.trials]
    assert states == [optuna.trial.TrialState.COMPLETE] * 5 + [optuna.trial.TrialState.PRUNED,
                                                               optuna.trial.TrialState.COMPLETE]
    assert study.trials[5].intermediate_values == {0: 35.0}  # exactly one value: epoch 0's
    assert study.trials[6].intermediate_values == {0: 25.0, 1: 24.0}  # better than the median: trained on

    # the old fixed warm-up of 1 epoch could only act after the last epoch, where nothing is saved: no pruning
    old = _fake_sweep(make_pruner("median", epochs=2, warmup_epochs=1), FINISHED_CURVES + [[35.0, 1.0]], epochs=2)
    assert old.trials[5].state == optuna.trial.TrialState.COMPLETE and len(old.trials[5].intermediate_values) == 2

    # 3 epochs: epoch 0 is the warm-up (35 > 30 goes on); pruned after epoch 1 (best so far 34 > the median 29)
    three = [c + [c[-1] - 1.0] for c in FINISHED_CURVES] + [[35.0, 34.0, 0.0]]
    study3 = _fake_sweep(make_pruner("median", epochs=3), three, epochs=3)
    assert study3.trials[5].state == optuna.trial.TrialState.PRUNED
    assert study3.trials[5].intermediate_values == {0: 35.0, 1: 34.0}


def test_created_study_gets_the_warmup_of_its_profile(tmp_path):
    url = f"sqlite:///{tmp_path / 'sweeps.sqlite'}"
    storage = open_storage(url, heartbeat=False)
    smoke = create_or_load_study(storage, "w-smoke", build_spec("smoke", search=["lambda_cam"]))  # 2 epochs
    cpu = create_or_load_study(storage, "w-cpu", build_spec("cpu", search=["lambda_cam"]))  # 5 epochs
    paper = create_or_load_study(storage, "w-paper", build_spec("paper", search=["lambda_cam"]))
    assert isinstance(cpu.pruner, optuna.pruners.MedianPruner)
    assert smoke.pruner._n_warmup_steps == 0
    assert cpu.pruner._n_warmup_steps == 1 and paper.pruner._n_warmup_steps == 1
    none = create_or_load_study(storage, "w-none", build_spec("cpu", search=["lambda_cam"], pruner="none"))
    assert isinstance(none.pruner, optuna.pruners.NopPruner)


def test_intermediate_value_at_step_e_is_the_validation_value_after_epoch_e(cache, tmp_path):
    """A real 2-epoch trial under a pruner that would prune at step 1 (the last epoch): it is not asked there, so
    the trial completes; its intermediate values are the store's validation MPJPE of epochs 0 and 1."""
    spec = build_spec("smoke", search=["lambda_cam"], overrides=TINY)
    at_last = optuna.pruners.ThresholdPruner(upper=0.0, n_warmup_steps=1)  # any error > 0 mm from step 1 on
    url = f"sqlite:///{tmp_path / 'sweeps.sqlite'}"
    result = run_sweep(spec, 1, study_name="steps", storage=url, pruner=at_last, poll_s=0.1)
    assert result.counts == {"COMPLETE": 1}
    (trial,) = optuna.load_study(study_name="steps", storage=url).trials
    (run,) = ResultsStore().runs(table="sweep:steps")
    val = ResultsStore().metrics(run_ids=[run["run_id"]], split="val", final_only=False, status=None)
    by_epoch = {m["epoch"]: m["value"] for m in val if m["name"] == "mpjpe"}
    assert sorted(by_epoch) == [0, 1] and by_epoch[0] != by_epoch[1]
    assert trial.intermediate_values == pytest.approx(by_epoch)
    assert trial.value == pytest.approx(min(by_epoch.values()))  # the kept (best validation MPJPE) epoch


def test_a_complete_trial_gets_the_epochs_it_never_reported_from_the_store(tmp_path):
    """The killed-between-checkpoint-and-report case, by hand: the run logged validation MPJPE 120, 110, 100 at
    epochs 0-2; the (retried) trial holds steps 1 and 2 only (its own reports, 111 and 101): step 0 is filled in with
    the run's 120, the held steps are left as they were, and a non-finite epoch is not reported."""
    from hmr_bench.sweep.search import _report_missing_epochs, _validation_by_epoch

    store = ResultsStore(f"sqlite:///{tmp_path / 'r.sqlite'}")
    rid = store.start_run("h-kill", "sweep:demo", "trial-1", 0, "smoke", {})
    for epoch, v in enumerate((120.0, 110.0, 100.0, float("nan"))):
        store.log_metrics(rid, "val", "synth-val", {"mpjpe": v, "pa_mpjpe": v / 2}, epoch=epoch)
    store.finish_run(rid, wall_time=1.0)
    study = optuna.create_study()
    trial = study.ask()
    trial.report(111.0, 1)
    trial.report(101.0, 2)
    _report_missing_epochs(trial, _validation_by_epoch(store, "h-kill"), "mpjpe")
    assert study.trials[0].intermediate_values == {0: 120.0, 1: 111.0, 2: 101.0}
