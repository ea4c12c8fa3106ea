"""The sweep page's figures (optuna's own plots plus the page's marks) read back from the Axes they draw, for small
in-memory studies made with the project's study API and hand-chosen trial values: the points are the trials'
values, the best-so-far line is the running minimum written out here by hand, the importances' bars are the
searched weights, the slice figure has one panel per weight over its searched range (5 % margins) with the
paper's default (spec §4.7: λcam = 1, λcont = 0.1) marked. Optuna's style and its ExperimentalWarning stay inside
the calls."""

from __future__ import annotations

import math
import warnings

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import optuna
import pytest

from hmr_bench.sweep import plots
from hmr_bench.sweep.page import sweep_page_data
from hmr_bench.sweep.space import build_spec
from hmr_bench.sweep.study import create_or_load_study

RANGES = {"lambda_cam": (0.1, 10.0), "lambda_cont": (0.01, 1.0)}  # the built-in log-uniform ranges
DEFAULTS = {"lambda_cam": 1.0, "lambda_cont": 0.1}
LABELS = {"lambda_cam": "λcam", "lambda_cont": "λcont"}
# "one" (mpjpe): trial 0 = the defaults (100), then these; "pruned" reported 130, 120 after epochs 0, 1
ONE = [("COMPLETE", {"lambda_cam": 2.0, "lambda_cont": 0.05}, 95.5),
       ("PRUNED", {"lambda_cam": 5.0, "lambda_cont": 0.8}, {0: 130.0, 1: 120.0}),
       ("COMPLETE", {"lambda_cam": 0.3, "lambda_cont": 0.02}, 97.0),
       ("COMPLETE", {"lambda_cam": 0.5, "lambda_cont": 0.3}, 90.25),
       ("FAIL", {"lambda_cam": 7.0, "lambda_cont": 0.9}, None)]
ONE_BEST = [100.0, 95.5, 95.5, 95.5, 90.25, 90.25]  # running minimum by trial number, incomplete trials carry it
# "two" (mpjpe, pa_mpjpe): trial 0 = the defaults, then these
TWO = [({"lambda_cam": 2.0, "lambda_cont": 0.05}, [78.0, 41.0]),
       ({"lambda_cam": 0.5, "lambda_cont": 0.3}, [79.0, 39.0])]
TWO_DEFAULTS = [80.0, 40.0]
TWO_BEST = {0: [80.0, 78.0, 78.0], 1: [40.0, 40.0, 39.0]}


def _study(storage, name: str, metrics: tuple[str, ...], first: list[float]):
    spec = build_spec("smoke", search=list(RANGES), metrics=metrics, overrides={"train.epochs": 2})
    study = create_or_load_study(storage, name, spec)
    dist = {p.name: p.distribution() for p in spec.params}
    trial = study.ask(dist)  # the enqueued defaults
    study.tell(trial, first)
    return study, dist


@pytest.fixture(scope="module")
def studies():
    """{name: (study, page data)} of "one" and "two" in one in-memory storage."""
    storage = optuna.storages.InMemoryStorage()
    one, dist = _study(storage, "one", ("mpjpe",), [100.0])
    for state, params, value in ONE:
        kw = {"COMPLETE": {"values": [value]}, "PRUNED": {"intermediate_values": value}, "FAIL": {}}[state]
        one.add_trial(optuna.trial.create_trial(params=params, distributions=dist,
                                                state=optuna.trial.TrialState[state], **kw))
    two, dist = _study(storage, "two", ("mpjpe", "pa_mpjpe"), TWO_DEFAULTS)
    for params, values in TWO:
        two.add_trial(optuna.trial.create_trial(params=params, distributions=dist, values=values))
    yield {name: (s, sweep_page_data(name, storage, None)) for name, s in (("one", one), ("two", two))}
    plt.close("all")


def _line(ax, label: str):
    hits = [ln for ln in ax.get_lines() if ln.get_label() == label]
    assert len(hits) == 1, (label, [ln.get_label() for ln in ax.get_lines()])
    return hits[0]


def _complete_points(ax) -> np.ndarray:
    """(x, y) of the complete trials: optuna's first scatter."""
    return np.asarray(ax.collections[0].get_offsets())


def test_history_single_objective(studies):
    study, data = studies["one"]
    ax = plots.plot_history(study, data).axes[0]
    complete = [(0, 100.0)] + [(n + 1, v) for n, (s, _, v) in enumerate(ONE) if s == "COMPLETE"]
    assert _complete_points(ax).tolist() == [[n, v] for n, v in complete]
    best = _line(ax, "Best Value")
    assert list(best.get_xdata()) == list(range(len(ONE_BEST)))
    assert list(best.get_ydata()) == ONE_BEST
    pruned = _line(ax, "pruned (last epoch reported)")
    assert (list(pruned.get_xdata()), list(pruned.get_ydata())) == ([2], [120.0])
    star = _line(ax, "paper's defaults")
    assert (list(star.get_xdata()), list(star.get_ydata())) == ([0], [100.0])
    assert ax.get_ylabel() == "validation mpjpe (mm)"


@pytest.mark.parametrize("objective", [0, 1])
def test_history_per_objective_of_a_two_objective_study(studies, objective):
    study, data = studies["two"]
    ax = plots.plot_history(study, data, objective).axes[0]
    values = [TWO_DEFAULTS[objective]] + [v[objective] for _, v in TWO]
    assert _complete_points(ax)[:, 1].tolist() == values
    assert list(_line(ax, "Best Value").get_ydata()) == TWO_BEST[objective]
    assert list(_line(ax, "paper's defaults").get_ydata()) == [TWO_DEFAULTS[objective]]
    assert not [ln for ln in ax.get_lines() if ln.get_label().startswith("pruned")]
    assert ax.get_ylabel() == f"validation {data['metrics'][objective]} (mm)"


def test_importances_bars_are_the_weights_and_rank_the_one_that_matters():
    """mpjpe = 100 + 20·log10(λcam) + 0.01·λcont over 16 trials: λcam must carry almost all the importance; the
    bars are the two weights, normalised (sum 1), and equal the page's importances table."""
    storage = optuna.storages.InMemoryStorage()
    study, dist = _study(storage, "imp", ("mpjpe",), [100.0 + 0.01 * DEFAULTS["lambda_cont"]])
    rng = np.random.default_rng(0)
    for _ in range(15):
        p = {k: float(math.exp(rng.uniform(math.log(lo), math.log(hi)))) for k, (lo, hi) in RANGES.items()}
        value = 100.0 + 20.0 * math.log10(p["lambda_cam"]) + 0.01 * p["lambda_cont"]
        study.add_trial(optuna.trial.create_trial(params=p, distributions=dist, values=[value]))
    data = sweep_page_data("imp", storage, None)
    ax = plots.plot_importances(study, data).axes[0]
    widths = {t.get_text(): bar.get_width() for t, bar in zip(ax.get_yticklabels(), ax.patches)}
    assert len(ax.patches) == 2 and set(widths) == {"λcam", "λcont"}
    assert sum(widths.values()) == pytest.approx(1.0)
    assert widths["λcam"] > 0.8
    assert widths == pytest.approx({LABELS[k]: v for k, v in data["importances"]["mpjpe"].items()})
    plt.close("all")


def test_no_importances_figure_without_the_pages_importances(studies):
    study, data = studies["two"]  # 3 complete trials of 2 objectives
    assert plots.plot_importances(study, {**data, "importances": {}}, 0) is None


@pytest.mark.parametrize("name, objective", [("one", 0), ("two", 1)])
def test_slices_one_panel_per_weight(studies, name, objective):
    study, data = studies[name]
    fig = plots.plot_slices(study, data, objective)
    panels = [ax for ax in fig.axes if ax.get_xlabel() in LABELS.values()]
    assert [ax.get_xlabel() for ax in panels] == [LABELS[k] for k in RANGES]
    trials = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    for ax, key in zip(panels, RANGES):
        assert ax.get_xscale() == "log"
        low, high = np.log10(RANGES[key])  # the searched range and 5 % of it on each side, in decades
        assert np.log10(ax.get_xlim()) == pytest.approx((low - 0.05 * (high - low), high + 0.05 * (high - low)))
        dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
        assert len(dashed) == 1 and list(dashed[0].get_xdata()) == [DEFAULTS[key]] * 2
        points = np.asarray(ax.collections[0].get_offsets())
        assert sorted(map(tuple, points.tolist())) == sorted((t.params[key], t.values[objective]) for t in trials)


def test_parallel_coordinates_axes_and_lines(studies):
    study, data = studies["one"]
    fig = plots.plot_parallel(study, data)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["validation mpjpe (mm)", "λcam", "λcont"]
    lines = ax.collections[0]
    values = [100.0] + [v for s, _, v in ONE if s == "COMPLETE"]
    assert sorted(lines.get_array().tolist()) == sorted(values)  # one line per complete trial, coloured by it
    assert sum(a.get_yscale() == "log" for a in fig.axes) == 2  # both weights were searched on a log scale


def test_nothing_to_draw_without_a_complete_trial(studies):
    study, data = studies["one"]
    bare = {**data, "trials": [t for t in data["trials"] if t["state"] == "FAIL"], "importances": {}}
    assert all(fn(study, bare) is None for fn in (plots.plot_history, plots.plot_importances, plots.plot_parallel,
                                                  plots.plot_slices))


def test_optuna_style_and_warnings_stay_inside(studies):
    """Optuna sets the ggplot style sheet with `plt.style.use`: none of its settings may be left in effect."""
    study, data = studies["one"]
    ggplot = {k: v for k, v in matplotlib.style.library["ggplot"].items() if matplotlib.rcParamsDefault[k] != v}
    assert ggplot  # the check below has something to find
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for fn in (plots.plot_history, plots.plot_importances, plots.plot_parallel, plots.plot_slices):
            fn(study, data)
    assert not [w for w in caught if issubclass(w.category, optuna.exceptions.ExperimentalWarning)]
    assert [k for k, v in ggplot.items() if matplotlib.rcParams[k] == v] == []
    plt.close("all")
