"""Everything a report's sweep page shows, as one JSON-ready dict; `sweep.plots` draws optuna's plots of the study
with it (labels, ranges, the paper's defaults, which trial ran them).

    data = sweep_page_data("weights-cpu", None, ResultsStore())
    fig = plots.plot_history(load_study(storage, "weights-cpu"), data)
"""

from __future__ import annotations

import logging
import math
import warnings

import optuna
from optuna.trial import TrialState

from hmr_bench.sweep.retrain import compare
from hmr_bench.sweep.search import best_trial, sweep_table
from hmr_bench.sweep.space import BUILTIN_KEYS, builtin_default
from hmr_bench.sweep.study import RETRAIN_ATTR, load_study, open_storage, stored_spec

log = logging.getLogger(__name__)
LABELS = {"lambda_x": "λx", "lambda_y": "λy", "lambda_s": "λs", "lambda_cam": "λcam", "lambda_cont": "λcont"}


def sweep_page_data(study_name: str, storage, store) -> dict:
    """The sweep page of study `study_name` in `storage` (URL, path, optuna storage or None for the default) with
    runs in `store` (a ResultsStore).

    Keys: study, table (results-store table), spec (`SweepSpec.to_dict()`), metrics, labels {param: display name},
    defaults {param: paper default}, counts {state: n}, trials [{number, state, params, values, intermediate
    {epoch: value}, config_hash, defaults (bool), retry_of, surplus, failure, duration_s}], best {number, params,
    values} or None, importances {metric: {param: importance}} (PED-ANOVA, deterministic; {} with < 2 complete
    trials), retrain (`retrain.compare` of the stored plan, or None before retraining).
    """
    storage = storage if isinstance(storage, optuna.storages.BaseStorage) else open_storage(storage, heartbeat=False)
    study = load_study(storage, study_name)
    spec = stored_spec(study)
    trials = []
    for t in study.get_trials(deepcopy=False):
        duration = (t.datetime_complete - t.datetime_start).total_seconds() \
            if t.datetime_complete and t.datetime_start else None
        trials.append({"number": t.number, "state": t.state.name, "params": dict(t.params),
                       "values": None if t.values is None else [float(v) for v in t.values],
                       "intermediate": {int(k): float(v) for k, v in t.intermediate_values.items()},
                       "config_hash": t.user_attrs.get("config_hash"), "defaults": bool(t.user_attrs.get("defaults")),
                       "retry_of": t.system_attrs.get("failed_trial"), "surplus": bool(t.user_attrs.get("surplus")),
                       "failure": t.user_attrs.get("failure"), "duration_s": duration})
    counts: dict[str, int] = {}
    for t in trials:
        counts[t["state"]] = counts.get(t["state"], 0) + 1
    best = best_trial(study)
    plan = study.user_attrs.get(RETRAIN_ATTR)
    return {
        "study": study_name, "table": sweep_table(study_name), "spec": spec.to_dict(), "metrics": list(spec.metrics),
        "labels": {p.name: LABELS.get(p.name, p.name) for p in spec.params},
        "log_scale": {p.name: p.log for p in spec.params},
        "ranges": {p.name: [p.low, p.high] for p in spec.params},
        "defaults": {p.name: (builtin_default(p.name, spec.cam_form) if p.name in BUILTIN_KEYS
                              else spec.defaults()[p.name]) for p in spec.params},
        "counts": counts, "trials": trials,
        "best": None if best is None else {"number": best.number, "params": dict(best.params),
                                           "values": [float(v) for v in best.values]},
        "importances": importances(study, spec.metrics),
        "retrain": None if plan is None else compare(store, plan),
    }


def importances(study, metrics) -> dict[str, dict[str, float]]:
    """{metric: {param: importance}} over COMPLETE trials with PED-ANOVA (optuna's default; deterministic, needs no
    scikit-learn); {} when fewer than 2 complete trials or the evaluator cannot work (e.g. no variation)."""
    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    if len(complete) < 2:
        return {}
    out = {}
    for i, metric in enumerate(metrics):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                imp = optuna.importance.get_param_importances(
                    study, evaluator=optuna.importance.PedAnovaImportanceEvaluator(),
                    target=(lambda t, i=i: t.values[i]) if len(metrics) > 1 else None, normalize=True)
        except (RuntimeError, ValueError, ZeroDivisionError) as e:
            log.info("no parameter importances for %s: %s", metric, e)
            continue
        out[metric] = {k: float(v) for k, v in imp.items() if math.isfinite(v)}
    return out


__all__ = ["LABELS", "importances", "sweep_page_data"]
