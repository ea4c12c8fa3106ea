"""After the search: the best trial's weights and the paper's defaults, each trained with several seeds and
evaluated on the TEST split through the normal runner, compared paired over seeds (`eval.stats`).

The two arms run in the results store as table ``sweep:<study>``, variants ``best`` and ``defaults``; a seed whose
config was already run (the trials' own training seed) is a cache hit. The plan (seeds, parameters, config hashes)
is kept in the study (user attr ``hmr_bench.retrain``); `compare` recomputes the statistics from the store, so a
report always shows what the store holds.

Caveat written into the result: the best weights were chosen on validation with the trials' seed, so their test
runs with that same seed are not independent of the selection (the other seeds are).
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np

from hmr_bench.errors import InputError
from hmr_bench.eval.stats import CONTRADICTED, REPRODUCED, Claim, mean_ci, paired_bootstrap, paired_difference, verdict
from hmr_bench.store import STALE_AFTER_S
from hmr_bench.sweep.search import best_trial, sweep_table
from hmr_bench.sweep.space import SweepSpec
from hmr_bench.sweep.study import RETRAIN_ATTR, stored_spec
from hmr_bench.tables import Row

log = logging.getLogger(__name__)
ARMS = ("best", "defaults")
COMPARED = ("mpjpe", "pa_mpjpe")


def retrain(study, runner, seeds, *, poll_s: float = 5.0, busy_wait_s: float = STALE_AFTER_S + 60) -> dict:
    """Trains the best trial's parameters and the defaults with every seed of `seeds` (runner: a `JobRunner` on the
    results store); stores and returns the plan {"seeds", "best_trial", "params": {arm: {name: value}},
    "hashes": {arm: {seed: config_hash}}, "status": {arm: {seed: outcome status}}}."""
    spec: SweepSpec = stored_spec(study)
    best = best_trial(study)
    if best is None:
        raise InputError(f"study {study.study_name!r}", "trials", found="no complete trial",
                         expected="at least one complete trial before retraining")
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise InputError("--retrain-seeds", found=seeds, expected="one or more distinct seeds, e.g. 0,1,2")
    defaults = spec.defaults()
    if any(v is None for v in defaults.values()):
        missing = [k for k, v in defaults.items() if v is None]
        raise InputError(f"study {study.study_name!r}", "defaults", found=f"no default for {missing}",
                         expected="a default value for every searched key")
    params = {"best": dict(best.params), "defaults": defaults}
    plan = {"seeds": seeds, "best_trial": best.number, "params": params, "hashes": {}, "status": {}}
    from hmr_bench.experiment.jobs import Job

    for arm in ARMS:
        for seed in seeds:
            cfg = spec.config(params[arm], seed=seed)
            job = Job(sweep_table(study.study_name), Row(arm, arm, spec.overrides_for(params[arm])), seed, cfg)
            deadline = time.time() + busy_wait_s
            while True:
                outcome = runner.run(job)
                if outcome.status != "busy" or time.time() > deadline:
                    break
                time.sleep(poll_s)
            plan["hashes"].setdefault(arm, {})[str(seed)] = outcome.config_hash
            plan["status"].setdefault(arm, {})[str(seed)] = outcome.status
            log.info("retrain %s seed %d: %s", arm, seed, outcome.status)
    study.set_user_attr(RETRAIN_ATTR, plan)
    return plan


def compare(store, plan: dict, metrics=COMPARED, level: float = 0.95) -> dict:
    """Test-split statistics of a retrain plan, from the store (`best_is_defaults` beside them): per dataset and
    metric, each arm's per-seed values and mean ± t CI, the paired difference best − defaults (t CI over seeds; NaN
    bounds with one seed), a paired bootstrap CI over test samples (seed noise NOT included) and `beats_defaults`:
    True when the seed CI of the difference lies entirely below 0 (lower error), False when it lies above, None
    otherwise (no verdict)."""
    seeds = [str(s) for s in plan["seeds"]]
    runs = {arm: {s: store.find_finished(plan["hashes"][arm][s]) for s in seeds} for arm in ARMS}
    usable = [s for s in seeds if all(runs[arm][s] is not None for arm in ARMS)]
    out = {"seeds": [int(s) for s in usable], "missing_seeds": [int(s) for s in seeds if s not in usable],
           "level": level, "best_trial": plan["best_trial"], "params": plan["params"], "datasets": {},
           "best_is_defaults": plan["params"]["best"] == plan["params"]["defaults"],
           "caveat": "the best weights were selected on validation with the trials' training seed; the test runs "
                     "of that seed are not independent of the selection"}
    if not usable:
        return out
    rows = store.metrics(run_ids=[runs[a][s]["run_id"] for a in ARMS for s in usable], split="test")
    value = {(r["run_id"], r["dataset"], r["name"]): r["value"] for r in rows}
    for dataset in sorted({r["dataset"] for r in rows}):
        per = {}
        for metric in metrics:
            vals = {arm: {int(s): value.get((runs[arm][s]["run_id"], dataset, metric), math.nan) for s in usable}
                    for arm in ARMS}
            if not all(math.isfinite(v) for arm in ARMS for v in vals[arm].values()):
                continue
            diff = paired_difference(vals["best"], vals["defaults"], level)
            boot = _bootstrap(store, runs, usable, dataset, metric, level)
            # the project's verdict rule (eval.stats) on "best has a lower error than the defaults"
            claim = Claim("sweep-best", "the best weights beat the defaults", "sweep", metric, "best", "defaults", -1)
            beats = {REPRODUCED: True, CONTRADICTED: False}.get(verdict(claim, diff.mean, diff))
            per[metric] = {"values": {arm: {str(k): v for k, v in vals[arm].items()} for arm in ARMS},
                           "mean": {arm: _iv(mean_ci(list(vals[arm].values()), level)) for arm in ARMS},
                           "diff": _iv(diff), "bootstrap": _iv(boot) if boot is not None else None,
                           "beats_defaults": beats}
        out["datasets"][dataset] = per
    return out


def _bootstrap(store, runs, seeds, dataset: str, metric: str, level: float):
    a, b = [], []
    for s in seeds:
        sa = store.samples(runs["best"][s]["run_id"], "test", metric, dataset)
        sb = store.samples(runs["defaults"][s]["run_id"], "test", metric, dataset)
        if sa["index"].tolist() != sb["index"].tolist() or len(sa["index"]) == 0:
            return None
        a.append(sa["value"])
        b.append(sb["value"])
    try:
        return paired_bootstrap(np.stack(a), np.stack(b), level=level)
    except InputError:
        return None


def _iv(iv) -> dict:
    return {"mean": iv.mean, "low": iv.low, "high": iv.high, "n": iv.n, "level": iv.level, "method": iv.method}


__all__ = ["ARMS", "compare", "retrain"]
