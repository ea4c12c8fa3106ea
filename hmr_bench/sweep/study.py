"""The optuna side of a sweep: the study storage, the seeded sampler, and recovery of trials whose process died.

Storage: a SQLite file by default (``<cache>/sweeps.sqlite``, beside the results store) or any SQLAlchemy URL
(PostgreSQL: several machines work one study). SQLite is hardened for several processes as the results store is
(`store.database.harden_sqlite`): WAL, a busy timeout, foreign keys on and ``BEGIN IMMEDIATE`` for every
transaction, so optuna's read-then-write steps (taking a queued trial, failing a dead one) are atomic between
processes, as ``SELECT … FOR UPDATE`` makes them on PostgreSQL.

A trial left RUNNING by a dead process is failed and queued again (WAITING, same parameters, its intermediate
values kept; optuna's ``failed_trial`` / ``retry_history`` system attributes) exactly once — by whichever process
wins the atomic RUNNING → FAIL update:

- on this host at once, when the pid recorded in the trial (user attrs ``host``, ``pid``) no longer exists;
- elsewhere through optuna's heartbeat (`HEARTBEAT_S`), after `GRACE_S` without one (the results store's
  stale-claim time, so the re-run can take over the run's claim and resume from its checkpoint).

The sampler is TPE seeded per trial from (sampler seed, trial number): one worker gives the same suggestions on
every run of the same history; a restarted or second worker never repeats the random draws of another trial.
Several workers are not deterministic (what each sees depends on timing).
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import optuna
from optuna.samplers import BaseSampler, TPESampler
from optuna.trial import FrozenTrial, TrialState

from hmr_bench.errors import InputError
from hmr_bench.io import file_lock, pid_alive
from hmr_bench.paths import cache_root
from hmr_bench.store import STALE_AFTER_S
from hmr_bench.store.database import CONNECT_TIMEOUT_S, engine_options, harden_sqlite, sqlite_file
from hmr_bench.store.redact import redact_text, redact_url, url_secrets
from hmr_bench.sweep.space import SweepSpec, check_study_name, spec_differences

log = logging.getLogger(__name__)

HEARTBEAT_S = 30  # optuna heartbeat of a running trial
GRACE_S = int(STALE_AFTER_S)  # a trial without heartbeat for this long is failed and queued again
SQLITE_TIMEOUT_S = 60
SPEC_ATTR = "hmr_bench.spec"
RETRAIN_ATTR = "hmr_bench.retrain"
PROCESS_ATTRS = ("host", "pid")  # user attrs of the process running a trial (not copied to a retry)
_EXPECTED_URL = ("a SQLAlchemy URL such as sqlite:////abs/path/sweeps.sqlite (or a file path) or "
                 "postgresql+psycopg://user:password@host/dbname")


def default_storage_url() -> str:
    """``sqlite:///<cache_root()>/sweeps.sqlite``."""
    return f"sqlite:///{cache_root() / 'sweeps.sqlite'}"


# ------------------------------------------------------------------ storage

def open_storage(url: str | os.PathLike | None = None, *, heartbeat: bool = True):
    """An optuna `RDBStorage` at `url` (None: `default_storage_url()`; a plain path: a SQLite file).

    Raises `InputError` (password hidden) when the URL cannot be parsed, its driver is missing, or the database
    cannot be opened. `heartbeat`: record heartbeats and retry stale trials (see the module docstring).
    """
    from sqlalchemy.engine import make_url

    raw = default_storage_url() if url is None else url
    if isinstance(raw, os.PathLike) or (isinstance(raw, str) and "://" not in raw and raw.strip()):
        raw = f"sqlite:///{Path(raw).expanduser().resolve()}"
    shown = redact_url(raw)
    where = f"sweep storage {shown}"
    try:
        u = make_url(str(raw))
        u.get_dialect()
    except Exception as e:
        raise InputError(where, "url", found=f"an unreadable URL or unknown database ({type(e).__name__})",
                         expected=_EXPECTED_URL) from None
    lock_path = None
    if u.get_backend_name() == "sqlite":
        db_file = sqlite_file(u, where)
        lock_path = None if db_file is None else db_file.with_name(db_file.name + ".lock")
    kw = engine_options(u, sqlite_busy_timeout_s=SQLITE_TIMEOUT_S, connect_timeout_s=CONNECT_TIMEOUT_S)
    hb = dict(heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S, heartbeat_stale_trial_callback=retry_trial)
    # SQLite: one process of this host at a time creates the schema (PostgreSQL: `_rdb_storage` retries)
    with file_lock(lock_path), warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            storage = _rdb_storage(u.render_as_string(hide_password=False), kw, hb if heartbeat else {})
            if lock_path is not None:  # a SQLite file: the results store's set-up (drops the connections opened)
                harden_sqlite(storage.engine, SQLITE_TIMEOUT_S * 1000)
        except ImportError as e:
            raise InputError(where, "url", found=f"the database driver for '{u.drivername}' is not installed "
                             f"({redact_text(str(e.__cause__ or e), url_secrets(u))})",
                             expected=_EXPECTED_URL + " with its driver installed") from None
        except Exception as e:
            detail = redact_text(f"{type(e).__name__}: {getattr(e, 'orig', None) or e.__cause__ or e}",
                                 url_secrets(u))
            raise InputError(where, "url", found=f"the database cannot be opened ({detail[:300]})",
                             expected=_EXPECTED_URL + " that can be opened") from None
    return storage


def _rdb_storage(url: str, engine_kwargs: dict, heartbeat: dict, attempts: int = 4):
    """RDBStorage(url); retried when another process created optuna's tables at the same moment (PostgreSQL)."""
    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **heartbeat)
        except Exception as e:
            text = str(getattr(e, "orig", None) or e).lower()
            if attempt == attempts - 1 or not any(w in text for w in ("already exists", "duplicate key", "locked")):
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


# ------------------------------------------------------------------ sampler and pruner

class TrialSeededSampler(BaseSampler):
    """TPE (constant liar, so parallel workers spread out) with a fresh random state per trial, seeded from
    (seed, trial number). `n_startup_trials` random trials come first."""

    def __init__(self, seed: int = 0, n_startup_trials: int = 10):
        self.seed, self.n_startup_trials = int(seed), int(n_startup_trials)
        self._inner: dict[int, TPESampler] = {}

    def _for(self, trial: FrozenTrial) -> TPESampler:
        if trial.number not in self._inner:
            s = int(np.random.SeedSequence([self.seed, trial.number]).generate_state(1)[0])
            self._inner = {trial.number: TPESampler(seed=s, n_startup_trials=self.n_startup_trials,
                                                    constant_liar=True)}
        return self._inner[trial.number]

    def infer_relative_search_space(self, study, trial):
        return self._for(trial).infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):
        return self._for(trial).sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self._for(trial).sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study, trial):
        self._for(trial).before_trial(study, trial)

    def after_trial(self, study, trial, state, values):
        self._for(trial).after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:  # the state is a function of the trial number already
        pass


def default_warmup_epochs(epochs: int) -> int:
    """Epochs at the start of a trial whose validation value the pruner never acts on, for trials of `epochs`.

    A trial can be pruned after epoch index ``warmup`` … ``epochs - 2`` (`run_trial` makes no pruning decision
    after the last epoch: stopping then saves no training and throws a finished trial away). The first epoch's
    value ranks trials least reliably, so it is skipped (warm-up 1) when that still leaves an epoch before the
    last, i.e. from 3 epochs on (paper profile, 25 epochs: prune from epoch index 1). With 1–2 epochs (smoke and
    cpu profiles) a warm-up of 1 would leave only the last epoch, where pruning saves nothing: warm-up 0, so a
    2-epoch trial worse than the median after its first epoch skips its second.
    """
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
        raise InputError("pruner", "epochs", found=repr(epochs), expected="a positive number of training epochs")
    return 1 if epochs >= 3 else 0


def trial_epochs(spec: SweepSpec) -> int:
    """The fewest training epochs a trial of `spec` runs: ``train.epochs`` of the spec's config, or the low end of
    its range when ``train.epochs`` is searched (the warm-up must leave every trial an epoch to be pruned at)."""
    searched = [p for p in spec.params if p.key == "train.epochs"]
    return int(searched[0].low) if searched else int(spec.base_config().train.epochs)


def make_pruner(name: str, *, epochs: int, warmup_epochs: int | None = None):
    """The pruner of a sweep whose trials train `epochs` epochs (the fewest, see `trial_epochs`).

    median: optuna's MedianPruner — after epoch index e ≥ `warmup_epochs` (None: `default_warmup_epochs(epochs)`:
    0 for ≤ 2 epochs, else 1), once 5 trials are COMPLETE, prunes a trial whose best validation value up to
    epoch e (intermediate values at steps 0..e, step = epoch index) is worse than the median of the COMPLETE
    trials' values at step e; none: never prunes."""
    if name == "median":
        warmup = default_warmup_epochs(epochs) if warmup_epochs is None else warmup_epochs
        if not isinstance(warmup, int) or isinstance(warmup, bool) or warmup < 0:
            raise InputError("pruner", "warmup_epochs", found=repr(warmup), expected="an integer ≥ 0")
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=warmup)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise InputError("--pruner", found=repr(name), expected="median or none")


# ------------------------------------------------------------------ studies

def create_or_load_study(storage, name: str, spec: SweepSpec, *, pruner=None, startup_trials: int = 10,
                         enqueue_defaults: bool = True) -> optuna.Study:
    """The study `name`: created with `spec` (and, once, a first trial at the paper's default weights), or loaded
    when it exists — then its stored spec must equal `spec` (InputError listing the differences otherwise)."""
    check_study_name(name)
    sampler = TrialSeededSampler(spec.sampler_seed, startup_trials)
    pruner = make_pruner(spec.pruner, epochs=trial_epochs(spec)) if pruner is None else pruner
    directions = ["minimize"] * len(spec.metrics)
    try:
        study = optuna.create_study(storage=storage, study_name=name, directions=directions, sampler=sampler,
                                    pruner=pruner)
        created = True
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
        created = False
    if created:
        study.set_user_attr(SPEC_ATTR, spec.to_dict())
        defaults = spec.defaults()
        inside = all(v is not None and p.low <= v <= p.high for p, v in zip(spec.params, defaults.values()))
        if enqueue_defaults and inside:
            study.enqueue_trial(defaults, user_attrs={"defaults": True})
        elif enqueue_defaults:
            log.info("study %s: the default weights are outside the search space; no defaults trial", name)
        return study
    stored = _wait_for_spec(study)
    if stored is None:
        raise InputError(f"study {name!r}", "spec", found="a study that hmr-bench did not create",
                         expected="a study made by `hmr-bench sweep`", hint="choose another --study name")
    diffs = spec_differences(stored, spec.to_dict())
    if diffs:
        raise InputError(f"study {name!r}", "spec", found="a different sweep: " + "; ".join(diffs),
                         expected="the same profile, search space, metrics, overrides and seeds as when it was "
                         "created", hint="use another --study name for a different sweep")
    return study


def _wait_for_spec(study: optuna.Study, wait_s: float = 30.0) -> dict | None:
    """The stored spec; a study created by another process this instant gets it a moment later."""
    deadline = time.time() + wait_s
    while True:
        stored = study.user_attrs.get(SPEC_ATTR)
        if stored is not None or time.time() > deadline or study.trials:
            return stored
        time.sleep(0.2)


def load_study(storage, name: str) -> optuna.Study:
    """An existing study (read-only use: report pages); InputError listing the studies there when missing."""
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)]
        raise InputError("sweep storage", "study", found=repr(name),
                         expected="one of " + (", ".join(names) if names else "(no study yet)")) from None


def stored_spec(study: optuna.Study) -> SweepSpec:
    return SweepSpec.from_dict(study.user_attrs[SPEC_ATTR])


# ------------------------------------------------------------------ dead trials

def retry_trial(study: optuna.Study, trial: FrozenTrial) -> None:
    """Queues a failed trial again (WAITING, same params and distributions, intermediate values kept). A trial
    without all its parameters (its process died while it was being created) trained nothing and is not retried.
    Also optuna's heartbeat-stale callback."""
    spec = study.user_attrs.get(SPEC_ATTR)
    names = {p["name"] for p in spec["params"]} if spec else set(trial.params)
    if not trial.params or set(trial.params) != names:
        log.info("trial %d died before its parameters were set; not retried", trial.number)
        return
    history = list(trial.system_attrs.get("retry_history", [])) + [trial.number]
    user = {k: v for k, v in trial.user_attrs.items() if k not in PROCESS_ATTRS and k != "failure"}
    study.add_trial(optuna.trial.create_trial(
        state=TrialState.WAITING, params=trial.params, distributions=trial.distributions, user_attrs=user,
        system_attrs={"failed_trial": trial.system_attrs.get("failed_trial", trial.number),
                      "retry_history": history},
        intermediate_values=dict(trial.intermediate_values)))
    log.info("trial %d queued again (its process died)", trial.number)


def mark_process(study: optuna.Study, trial_id: int) -> None:
    """Records this process (host, pid) in the trial, for `recover_dead_trials`."""
    study._storage.set_trial_user_attr(trial_id, "host", socket.gethostname())
    study._storage.set_trial_user_attr(trial_id, "pid", os.getpid())


def recover_dead_trials(study: optuna.Study) -> list[int]:
    """Fails and queues again (exactly once, see the module docstring) every RUNNING trial whose process is dead:
    a pid of this host that no longer exists, a trial without heartbeat for `GRACE_S`, or one that never recorded
    a process and started more than `GRACE_S` ago. Returns the numbers of the trials this call failed."""
    storage = study._storage
    host, me = socket.gethostname(), os.getpid()
    now = datetime.datetime.now()
    failed = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid = t.user_attrs.get("pid")
        if t.user_attrs.get("host") == host and isinstance(pid, int) and pid != me:
            why = None if pid_alive(pid) else f"interrupted: its process (pid {pid} on this host) died"
        elif pid is None and t.datetime_start is not None and (now - t.datetime_start).total_seconds() > GRACE_S:
            why = "interrupted: its process died before it started training"
        else:
            continue
        if why is None:
            continue
        try:
            storage.set_trial_user_attr(t._trial_id, "failure", why)
            if not storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another process failed it first (and queued it again)
        failed.append(t.number)
        log.warning("trial %d: %s; queued again", t.number, why)
        retry_trial(study, storage.get_trial(t._trial_id))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)  # other hosts: heartbeat older than GRACE_S → retry_trial
    return failed


class Heartbeat:
    """Context manager: records optuna heartbeats of one trial from a thread every `HEARTBEAT_S` seconds."""

    def __init__(self, study: optuna.Study, trial_id: int, every_s: float = HEARTBEAT_S):
        self.storage, self.trial_id, self.every_s = study._storage, trial_id, every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _loop(self) -> None:
        while True:
            try:
                self.storage.record_heartbeat(self.trial_id)
            except Exception as e:  # noqa: BLE001 (a missed beat is logged; the grace period covers it)
                log.debug("heartbeat of trial id %d failed: %s", self.trial_id, e)
            if self._stop.wait(self.every_s):
                return

    def __enter__(self) -> Heartbeat:
        if self.storage.get_heartbeat_interval():
            self._thread = threading.Thread(target=self._loop, name="optuna-heartbeat", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


__all__ = ["GRACE_S", "HEARTBEAT_S", "Heartbeat", "RETRAIN_ATTR", "SPEC_ATTR", "TrialSeededSampler",
           "create_or_load_study", "default_storage_url", "default_warmup_epochs", "load_study", "make_pruner",
           "mark_process", "open_storage", "recover_dead_trials", "retry_trial", "stored_spec", "trial_epochs"]
