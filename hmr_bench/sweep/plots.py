"""Figures of a sweep page: optuna's own plots (`optuna.visualization.matplotlib`) of the loaded study, with the
few marks the page needs added to the Axes optuna returns; `data` is `page.sweep_page_data(...)` of the same study.
Each function returns a matplotlib Figure (the report turns it into SVG), or None when there is nothing to draw.

- `plot_history`: objective per complete trial and the best so far (optuna), plus the pruned trials at their last
  reported value (first objective) and the paper's-defaults trial (★, dashed level);
- `plot_importances`: PED-ANOVA parameter importances of one objective (optuna);
- `plot_parallel`: parallel coordinates of the complete trials, log axes where searched on a log scale (optuna);
- `plot_slices`: the objective against each parameter, one panel each (optuna), the paper's default dashed.

The retrain comparison (best weights vs the paper's defaults on test) is not an optuna plot: the report draws it
with seaborn (`report.figures.retrain_plot`).

Optuna draws with pyplot and sets its ggplot style; both stay inside `_optuna()` (rcParams restored; its
ExperimentalWarning, PED-ANOVA's note that it ranks for low target values and matplotlib's about the empty axis
range of a single complete trial, which it widens itself, silenced there only).
"""

from __future__ import annotations

import contextlib
import math
import warnings

import numpy as np
import optuna
from optuna.visualization import matplotlib as ovm

DEFAULTS_COLOUR = "C3"
PAD = 0.05  # slices: the searched range widened by this fraction on each side (optuna pads its data range so)


@contextlib.contextmanager
def _optuna():
    import matplotlib

    with warnings.catch_warnings(), matplotlib.rc_context():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", "PedAnovaImportanceEvaluator computes the importances of params to achieve "
                                "low", UserWarning)  # our targets are errors: low is what we want
        warnings.filterwarnings("ignore", "Attempting to set identical low and high [xy]lims", UserWarning)  # 1 trial
        yield


def _target(data: dict, objective: int) -> dict:
    """optuna's target arguments for objective `objective`: none for a single-objective study (its own best-value
    line then), `target=` the objective's value otherwise."""
    name = f"validation {data['metrics'][objective]} (mm)"
    if len(data["metrics"]) == 1:
        return {"target_name": name}
    return {"target": lambda t: t.values[objective], "target_name": name}


def _complete(data: dict) -> list[dict]:
    return [t for t in data["trials"] if t["state"] == "COMPLETE" and t["values"]]


def plot_history(study, data: dict, objective: int = 0):
    """Optimisation history of `objective`; None when no trial has a value to show."""
    pruned = [(t["number"], t["intermediate"][max(t["intermediate"])]) for t in data["trials"]
              if objective == 0 and t["state"] == "PRUNED" and t["intermediate"]]
    if not _complete(data) and not pruned:
        return None
    from matplotlib.ticker import MaxNLocator

    with _optuna():
        ax = ovm.plot_optimization_history(study, **_target(data, objective))
    if len(data["metrics"]) > 1:  # optuna draws no best line for a target: the running minimum, as it would
        trials = sorted(data["trials"], key=lambda t: t["number"])
        ax.plot([t["number"] for t in trials], np.minimum.accumulate(
            [t["values"][objective] if t["state"] == "COMPLETE" and t["values"] else math.inf for t in trials]),
            color="C1", alpha=0.5, label="Best Value")
    if pruned:
        ax.plot(*zip(*pruned), "x", color="0.5", label="pruned (last epoch reported)")
    dflt = next((t for t in sorted(_complete(data), key=lambda t: t["number"]) if t["defaults"]), None)
    if dflt is not None:
        ax.plot([dflt["number"]], [dflt["values"][objective]], "*", ms=14, color=DEFAULTS_COLOUR, zorder=3,
                label="paper's defaults")
        ax.axhline(dflt["values"][objective], color=DEFAULTS_COLOUR, lw=0.8, ls="--")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"Optimisation history: {data['study']}")
    ax.legend(bbox_to_anchor=(1.02, 1.0), loc="upper left", fontsize=8)
    return ax.figure


def plot_importances(study, data: dict, objective: int = 0):
    """PED-ANOVA importances of the parameters for `objective` (optuna's computation, as the page's table); None
    where the page has none for it (fewer than 2 complete trials, or the evaluator could not work)."""
    metric = data["metrics"][objective]
    if not (data.get("importances") or {}).get(metric):
        return None
    with _optuna():
        ax = ovm.plot_param_importances(study, evaluator=optuna.importance.PedAnovaImportanceEvaluator(),
                                        **_target(data, objective))
    labels = data["labels"]
    ax.set_yticks(ax.get_yticks(), [labels.get(t.get_text(), t.get_text()) for t in ax.get_yticklabels()])
    ax.set_title(f"Parameter importances for validation {metric} (PED-ANOVA, normalised)", loc="left")
    ax.get_legend().remove()  # one target: the title names it
    return ax.figure


def plot_parallel(study, data: dict, objective: int = 0):
    """Parallel coordinates of the complete trials coloured by `objective`; None without a complete trial."""
    if not _complete(data):
        return None
    with _optuna():
        ax = ovm.plot_parallel_coordinate(study, params=list(data["labels"]), **_target(data, objective))
    labels = data["labels"]
    ax.set_xticks(ax.get_xticks(), [labels.get(t.get_text(), t.get_text()) for t in ax.get_xticklabels()],
                  rotation=330)
    ax.figure.set_size_inches(max(6.4, 1.3 * len(labels) + 2.8), 4.8)  # optuna's 6.4 in crowds 5 weights
    return ax.figure


def plot_slices(study, data: dict, objective: int = 0):
    """`objective` against each parameter (one panel each, x over the searched range), the paper's default as a
    dashed line; None without a complete trial."""
    if not _complete(data):
        return None
    with _optuna():
        axes = np.atleast_1d(ovm.plot_slice(study, params=list(data["labels"]), **_target(data, objective)))
    marks = []
    for ax in axes:
        name = ax.get_xlabel()
        low, high = data["ranges"][name]
        pad = (high / low) ** PAD if data["log_scale"][name] else None
        ax.set_xlim(*((low / pad, high * pad) if pad else (low - PAD * (high - low), high + PAD * (high - low))))
        if data["defaults"].get(name) is not None:
            marks = [ax.axvline(data["defaults"][name], color=DEFAULTS_COLOUR, ls="--", lw=0.9, label="paper default")]
        ax.set_xlabel(data["labels"][name])
    axes[0].legend(handles=marks, fontsize=7)
    return axes[0].figure


__all__ = ["plot_history", "plot_importances", "plot_parallel", "plot_slices"]
