"""Optuna sweeps over the loss weights (λx, λy, λs, λcam, λcont) and any numeric config key.

- `space`: the search space and the study's spec (`build_spec`, `SweepSpec`);
- `study`: optuna storage (SQLite/PostgreSQL), seeded sampler, recovery of trials whose process died;
- `search`: the loop (`run_sweep`): each trial is a normal results-store run, scored on validation;
- `retrain`: the best weights and the paper's defaults over several seeds on test, paired statistics;
- `page`, `plots`: the report's sweep page (`sweep_page_data`) and optuna's own plots of the study;
- `cli`: `hmr-bench sweep` (importing it does not import optuna or torch).
"""

from __future__ import annotations

import importlib

_EXPORTS = {"SweepError": "search", "run_sweep": "search", "SweepSpec": "space", "build_spec": "space",
            "compare": "retrain", "retrain": "retrain", "sweep_page_data": "page"}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"hmr_bench.sweep.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'hmr_bench.sweep' has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
