"""The search loop: each optuna trial is a normal run of the results store (table ``sweep:<study>``, variant
``trial-<n>``: same config hashing, caching, claims and resume), scored on the VALIDATION split only.

    spec = build_spec("smoke", search=["lambda_cam", "lambda_cont"])
    result = run_sweep(spec, 20, study_name="weights-smoke")     # any number of processes may run this at once

`n_trials` is the study's total of finished trials (COMPLETE or PRUNED), whoever ran them: a restarted sweep, or
a second worker on the same storage, stops when the study holds that many. A worker does not start a trial while
the finished and running ones already reach the total; if two start one at the same instant, the later-numbered
one sees that and is dropped (FAIL, user attr ``surplus``) before training. Trials whose training fails (NaN/Inf
loss) are FAIL and do not count. Objective: the validation metric(s) of the checkpoint the run keeps (the epoch
with the best validation MPJPE), read back from the store — a cached run gives the same value as a fresh one.
Pruning: the validation value after epoch index e is reported as optuna's intermediate value at step e (a complete
trial's missing steps — a cached run, an epoch between a checkpoint and a kill — are filled in from the store), and the
pruner asked after every epoch but the last (a stop then would save no training and lose a finished trial; the
warm-up: `study.default_warmup_epochs`); a pruned run stops (`StopRun`) and is kept in the store as failed with
the message "stopped: pruned …" (it resumes from its checkpoint if the same config is run again).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from hmr_bench.errors import HmrBenchError, InputError
from hmr_bench.store import STALE_AFTER_S
from hmr_bench.sweep.space import SweepSpec, check_study_name
from hmr_bench.sweep.study import (
    Heartbeat,
    create_or_load_study,
    mark_process,
    open_storage,
    recover_dead_trials,
    retry_trial,
)
from hmr_bench.tables import Row

log = logging.getLogger(__name__)
SELECT_METRIC = "mpjpe"  # the trainer keeps the checkpoint of the best validation MPJPE (train.trainer)
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


class SweepError(HmrBenchError, RuntimeError):
    """A sweep cannot go on (e.g. too many trials whose training failed)."""


@dataclass
class TrialRecord:
    number: int
    state: str  # COMPLETE | PRUNED | FAIL
    params: dict[str, float]
    values: list[float] | None
    config_hash: str | None
    message: str = ""


@dataclass
class SweepResult:
    study_name: str
    n_trials: int  # the study's target
    counts: dict[str, int]  # state name → trials in the study at the end
    ran: list[TrialRecord] = field(default_factory=list)  # the trials this call ran
    best: FrozenTrial | None = None


def sweep_table(study_name: str) -> str:
    """The results-store table of a study's runs."""
    return f"sweep:{study_name}"


def run_sweep(spec: SweepSpec, n_trials: int, *, study_name: str, storage=None, store=None,
              data_root: str | None = None, device: str = "cpu", progress: bool = False, pruner=None,
              startup_trials: int = 10, enqueue_defaults: bool = True, poll_s: float = 5.0,
              max_failed: int | None = None) -> SweepResult:
    """Works study `study_name` until it holds `n_trials` finished trials (see the module docstring).

    storage: an optuna storage or URL (None: `study.default_storage_url()`); store: a ResultsStore or URL (None:
    the default store); pruner: an optuna pruner replacing the spec's (tests); max_failed: stop with `SweepError`
    once the study holds this many trials whose training failed (None: max(3, n_trials)).
    """
    from hmr_bench.experiment.runner import JobRunner
    from hmr_bench.store import ResultsStore

    check_study_name(study_name)
    if not isinstance(n_trials, int) or n_trials < 1:
        raise InputError("--trials", found=repr(n_trials), expected="a positive number of trials")
    storage = storage if isinstance(storage, optuna.storages.BaseStorage) else open_storage(storage)
    store = store if isinstance(store, ResultsStore) else ResultsStore(store)
    study = create_or_load_study(storage, study_name, spec, pruner=pruner, startup_trials=startup_trials,
                                 enqueue_defaults=enqueue_defaults)
    runner = JobRunner(store, spec.profile, data_root=data_root, device=device, progress=progress)
    distributions = {p.name: p.distribution() for p in spec.params}
    max_failed = max(3, n_trials) if max_failed is None else max_failed
    ran: list[TrialRecord] = []
    while True:
        recover_dead_trials(study)
        trials = study.get_trials(deepcopy=False)
        done = sum(t.state in FINISHED for t in trials)
        running = sum(t.state == TrialState.RUNNING for t in trials)
        if done >= n_trials:
            break
        failed = sum(str(t.user_attrs.get("failure", "")).startswith("training failed") for t in trials)
        if failed >= max_failed:
            raise SweepError(f"study {study_name!r}: {failed} trials failed in training (non-finite loss); "
                             f"stopping (limit {max_failed}). See the trials' 'failure' attributes")
        if done + running >= n_trials:  # the others' trials complete the study unless one of them fails
            time.sleep(poll_s)
            continue
        with _quiet_heartbeat_warning():
            trial = study.ask(distributions)
        mark_process(study, trial._trial_id)
        ahead = sum(t.number < trial.number and t.state in (*FINISHED, TrialState.RUNNING, TrialState.WAITING)
                    for t in study.get_trials(deepcopy=False))
        if ahead >= n_trials:  # another worker started the last trial at the same moment
            trial.set_user_attr("surplus", True)
            _tell(study, trial, TrialState.FAIL)
            continue
        ran.append(_run_one(study, trial, spec, runner, study_name, poll_s))
    counts: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    return SweepResult(study_name, n_trials, counts, ran, best_trial(study))


def _run_one(study, trial, spec: SweepSpec, runner, study_name: str, poll_s: float) -> TrialRecord:
    params = dict(trial.params)
    log.info("trial %d: %s", trial.number, _fmt(params))
    with Heartbeat(study, trial._trial_id):
        try:
            state, values, config_hash, message = run_trial(trial, spec, runner, study_name, poll_s)
        except (KeyboardInterrupt, SystemExit):
            trial.set_user_attr("failure", "interrupted")
            if _tell(study, trial, TrialState.FAIL):
                retry_trial(study, study._storage.get_trial(trial._trial_id))  # a restart runs it again
            raise
        except BaseException as e:
            trial.set_user_attr("failure", f"error: {type(e).__name__}: {e}"[:500])
            _tell(study, trial, TrialState.FAIL)
            raise
    if state == TrialState.FAIL:
        trial.set_user_attr("failure", message[:500])
    _tell(study, trial, state, values)
    log.info("trial %d %s%s", trial.number, state.name.lower(),
             f": {_fmt(dict(zip(spec.metrics, values)))}" if values else f" ({message})")
    return TrialRecord(trial.number, state.name, params, values, config_hash, message)


def run_trial(trial, spec: SweepSpec, runner, study_name: str, poll_s: float = 5.0,
              busy_wait_s: float = STALE_AFTER_S + 60) -> tuple[TrialState, list[float] | None, str | None, str]:
    """Runs (or finds cached) the run of `trial`'s parameters: (state, objective values, config hash, message).

    The validation value of the first metric after epoch index e is reported to optuna at step e; after every
    epoch but the last, the run stops when the pruner says so. A run another live worker holds is waited for (up
    to `busy_wait_s`; its result is then cached)."""
    from hmr_bench.experiment.jobs import Job
    from hmr_bench.train.trainer import StopRun

    params = dict(trial.params)
    cfg = spec.config(params)
    row = Row(f"trial-{trial.number}", _fmt(params), spec.overrides_for(params))
    job = Job(sweep_table(study_name), row, spec.seed, cfg)
    metric = spec.metrics[0]
    prune = len(spec.metrics) == 1
    last_epoch = cfg.train.epochs - 1

    def on_epoch(epoch: int, val: dict) -> None:  # val: the validation means after epoch index `epoch`
        value = val.get(metric)
        if not prune or value is None or not math.isfinite(value):
            return
        trial.report(float(value), epoch)
        if epoch < last_epoch and trial.should_prune():
            raise StopRun(f"pruned by optuna at epoch {epoch + 1} (validation {metric} {value:.2f})")

    deadline = time.time() + busy_wait_s
    while True:
        outcome = runner.run(job, on_epoch=on_epoch)
        if outcome.status != "busy" or time.time() > deadline:
            break
        time.sleep(poll_s)
    trial.set_user_attr("config_hash", outcome.config_hash)
    trial.set_user_attr("run_status", outcome.status)
    if outcome.status == "stopped":
        return TrialState.PRUNED, None, outcome.config_hash, outcome.message
    if outcome.status == "failed":
        return TrialState.FAIL, None, outcome.config_hash, f"training failed: {outcome.message}"
    if outcome.status == "busy":
        return TrialState.FAIL, None, outcome.config_hash, f"run busy for {busy_wait_s:.0f} s: {outcome.message}"
    by_epoch = _validation_by_epoch(runner.store, outcome.config_hash)
    values = _objective(by_epoch, spec.metrics)
    if prune:
        _report_missing_epochs(trial, by_epoch or {}, metric)
    if values is None:
        return TrialState.FAIL, None, outcome.config_hash, "the run has no finite validation value"
    return TrialState.COMPLETE, values, outcome.config_hash, outcome.status


def objective_values(store, config_hash: str, metrics) -> list[float] | None:
    """Validation values of `metrics` at the epoch with the lowest validation MPJPE (the checkpoint the run keeps;
    the first such epoch on ties) of the finished run of `config_hash`; None without a finished run, a finite
    MPJPE, or a finite value of every metric there. Never reads the test split."""
    return _objective(_validation_by_epoch(store, config_hash), metrics)


def _objective(by_epoch: dict[int, dict[str, float]] | None, metrics) -> list[float] | None:
    """`objective_values` of a run's validation values per epoch (`_validation_by_epoch`)."""
    if by_epoch is None:
        return None
    best = None
    for epoch in sorted(by_epoch):
        v = by_epoch[epoch].get(SELECT_METRIC, math.nan)
        if math.isfinite(v) and (best is None or v < by_epoch[best][SELECT_METRIC]):
            best = epoch
    if best is None:
        return None
    values = [float(by_epoch[best].get(m, math.nan)) for m in metrics]
    return values if all(math.isfinite(v) for v in values) else None  # NaN: the trial fails, never "complete"


def _validation_by_epoch(store, config_hash: str) -> dict[int, dict[str, float]] | None:
    """{epoch index: {metric: value}} of the finished run of `config_hash` on the validation split; None without
    a finished run."""
    run = store.find_finished(config_hash)
    if run is None:
        return None
    by_epoch: dict[int, dict[str, float]] = {}
    for m in store.metrics(run_ids=[run["run_id"]], split="val", final_only=False, status=None):
        if m["epoch"] is not None:
            by_epoch.setdefault(m["epoch"], {})[m["name"]] = m["value"]
    return by_epoch


def _report_missing_epochs(trial, by_epoch: dict[int, dict[str, float]], metric: str) -> None:
    """Reports the finished run's validation `metric` (`by_epoch`: `_validation_by_epoch`) at every epoch the trial
    holds no value for. A process killed after an epoch's checkpoint was written but before the epoch was reported
    resumes past it, so its retried trial would lack that step (and a cached run reports nothing while it trains);
    the run's logged value is the one the epoch callback would have reported."""
    held = trial.study._storage.get_trial(trial._trial_id).intermediate_values  # this trial only
    for epoch, values in sorted(by_epoch.items()):
        v = values.get(metric)
        if epoch not in held and v is not None and math.isfinite(v):
            trial.report(float(v), epoch)


def best_trial(study) -> FrozenTrial | None:
    """The best COMPLETE trial: single objective optuna's; several objectives: the Pareto trial with the lowest
    first objective (MPJPE by default). None when no trial is complete."""
    try:
        if len(study.directions) == 1:
            return study.best_trial
        front = study.best_trials
    except ValueError:
        return None
    return min(front, key=lambda t: (t.values[0], t.number)) if front else None


def _tell(study, trial, state: TrialState, values: list[float] | None = None) -> bool:
    """study.tell; False when another process failed the trial meanwhile (taken for dead: see study.py)."""
    try:
        if state == TrialState.COMPLETE:
            study.tell(trial, values)
        else:
            study.tell(trial, state=state)
        return True
    except (optuna.exceptions.UpdateFinishedTrialError, ValueError, RuntimeError) as e:
        log.warning("trial %d could not be told %s: %s", trial.number, state.name, e)
        return False


class _quiet_heartbeat_warning:
    """study.ask outside study.optimize warns that heartbeats are meant for optimize; this loop runs its own."""

    def __enter__(self):
        import warnings

        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
        return self

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)


def _fmt(d: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in d.items())


__all__ = ["SweepError", "SweepResult", "TrialRecord", "best_trial", "objective_values", "run_sweep", "run_trial",
           "sweep_table"]
