"""Plots of a sweep page, drawn from `page.sweep_page_data(...)` with matplotlib's Agg canvas (no pyplot state, no
display). Each function returns PNG bytes, or None when there is nothing to draw (e.g. no complete trial).

- `plot_history`: objective per trial (pruned ones at their last reported value), best so far, the defaults trial;
- `plot_importances`: parameter importances per metric (PED-ANOVA);
- `plot_parallel`: parallel coordinates of the parameters (log axes where searched on a log scale), coloured by
  the objective;
- `plot_slices`: the objective against each parameter, the paper's default marked;
- `plot_retrain`: best weights vs the paper's defaults on test, per seed, with mean and CI.
"""

from __future__ import annotations

import io
import math

import numpy as np

DPI = 110


def _figure(w: float, h: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def _objective_points(data: dict, objective: int):
    """(numbers, values, states, is_defaults) of the COMPLETE and PRUNED trials (pruned: last reported value)."""
    pts = []
    for t in data["trials"]:
        if t["state"] == "COMPLETE" and t["values"]:
            pts.append((t["number"], t["values"][objective], "COMPLETE", t["defaults"]))
        elif t["state"] == "PRUNED" and objective == 0 and t["intermediate"]:
            last = max(t["intermediate"])
            pts.append((t["number"], t["intermediate"][last], "PRUNED", t["defaults"]))
    return pts


def plot_history(data: dict, objective: int = 0) -> bytes | None:
    pts = _objective_points(data, objective)
    if not pts:
        return None
    metric = data["metrics"][objective]
    fig = _figure(6.4, 3.6)
    ax = fig.add_subplot()
    done = sorted((n, v) for n, v, s, _ in pts if s == "COMPLETE")
    pruned = [(n, v) for n, v, s, _ in pts if s == "PRUNED"]
    if done:
        ax.plot(*zip(*done), "o", color="C0", label="complete")
        best = np.minimum.accumulate([v for _, v in done])
        ax.step([n for n, _ in done], best, where="post", color="C1", label="best so far")
    if pruned:
        ax.plot(*zip(*pruned), "x", color="0.5", label="pruned (last epoch reported)")
    for n, v, s, d in pts:
        if d and s == "COMPLETE":
            ax.plot([n], [v], "*", ms=14, color="C3", label="paper's defaults", zorder=3)
            ax.axhline(v, color="C3", lw=0.8, ls="--")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel(f"validation {metric} (mm)")
    ax.set_title(f"Optimisation history: {data['study']}")
    ax.legend(fontsize=8)
    return _png(fig)


def plot_importances(data: dict) -> bytes | None:
    imp = data.get("importances") or {}
    if not imp:
        return None
    labels = data["labels"]
    params = list(labels)
    fig = _figure(6.4, 0.5 + 0.45 * len(params) * max(1, len(imp)))
    ax = fig.add_subplot()
    h = 0.8 / len(imp)
    y = np.arange(len(params))
    for i, (metric, values) in enumerate(imp.items()):
        ax.barh(y + i * h, [values.get(p, 0.0) for p in params], height=h, label=metric)
    ax.set_yticks(y + h * (len(imp) - 1) / 2, [labels[p] for p in params])
    ax.invert_yaxis()
    ax.set_xlabel("importance (PED-ANOVA, normalised)")
    ax.set_title("Parameter importances")
    ax.legend(fontsize=8)
    return _png(fig)


def _norm(data: dict, name: str, values) -> np.ndarray:
    low, high = data["ranges"][name]
    v = np.asarray(values, dtype=float)
    if data["log_scale"][name]:
        return (np.log(v) - math.log(low)) / (math.log(high) - math.log(low))
    return (v - low) / (high - low)


def plot_parallel(data: dict, objective: int = 0) -> bytes | None:
    from matplotlib import colormaps, colors

    trials = [t for t in data["trials"] if t["state"] == "COMPLETE" and t["values"]]
    if not trials:
        return None
    params = list(data["labels"])
    metric = data["metrics"][objective]
    vals = np.array([t["values"][objective] for t in trials])
    cols = np.stack([_norm(data, p, [t["params"][p] for t in trials]) for p in params], 1)  # (T, P)
    span = vals.max() - vals.min()
    obj = (vals - vals.min()) / span if span > 0 else np.full_like(vals, 0.5)
    norm = colors.Normalize(vals.min(), vals.max() if span > 0 else vals.min() + 1)
    cmap = colormaps["viridis"]  # low error → dark
    fig = _figure(1.3 * (len(params) + 1) + 1.5, 3.8)
    ax = fig.add_subplot()
    x = np.arange(len(params) + 1)
    for i in np.argsort(-vals):  # best drawn last (on top)
        ax.plot(x, np.append(cols[i], obj[i]), color=cmap(norm(vals[i])), lw=1.2, alpha=0.85)
    for xi in x:
        ax.axvline(xi, color="0.3", lw=0.8)
    names = [data["labels"][p] + (" (log)" if data["log_scale"][p] else "") for p in params]
    ax.set_xticks(x, names + [f"val {metric}"])
    for xi, p in enumerate(params):
        low, high = data["ranges"][p]
        ax.annotate(f"{low:.3g}", (xi, 0), xytext=(3, -2), textcoords="offset points", fontsize=7, va="top")
        ax.annotate(f"{high:.3g}", (xi, 1), xytext=(3, 2), textcoords="offset points", fontsize=7, va="bottom")
    ax.annotate(f"{vals.min():.1f}", (len(params), 0), xytext=(3, -2), textcoords="offset points", fontsize=7,
                va="top")
    ax.annotate(f"{vals.max():.1f}", (len(params), 1), xytext=(3, 2), textcoords="offset points", fontsize=7,
                va="bottom")
    ax.set_yticks([])
    ax.set_ylim(-0.08, 1.08)
    ax.set_title("Parallel coordinates (complete trials; darker = lower error)")
    return _png(fig)


def plot_slices(data: dict, objective: int = 0) -> bytes | None:
    trials = [t for t in data["trials"] if t["state"] == "COMPLETE" and t["values"]]
    if not trials:
        return None
    params = list(data["labels"])
    metric = data["metrics"][objective]
    n = len(params)
    ncol = min(n, 3)
    nrow = math.ceil(n / ncol)
    fig = _figure(3.3 * ncol + 0.8, 2.9 * nrow + 0.4)
    numbers = [t["number"] for t in trials]
    for i, p in enumerate(params):
        ax = fig.add_subplot(nrow, ncol, i + 1)
        sc = ax.scatter([t["params"][p] for t in trials], [t["values"][objective] for t in trials], c=numbers,
                        cmap="viridis", edgecolors="0.3", linewidths=0.5, s=22)
        if data["log_scale"][p]:
            ax.set_xscale("log")
        ax.set_xlim(*data["ranges"][p])
        d = data["defaults"].get(p)
        if d is not None:
            ax.axvline(d, color="C3", ls="--", lw=0.9, label="paper default")
        ax.set_xlabel(data["labels"][p])
        if i % ncol == 0:
            ax.set_ylabel(f"val {metric} (mm)")
        if i == 0:
            ax.legend(fontsize=7)
    from matplotlib.ticker import MaxNLocator

    bar = fig.colorbar(sc, ax=fig.axes, label="trial", shrink=0.8)
    bar.locator = MaxNLocator(integer=True)
    bar.update_ticks()
    fig.suptitle("Slices: validation error against each weight")
    return _png(fig)


def plot_retrain(data: dict, dataset: str | None = None) -> bytes | None:
    rt = data.get("retrain") or {}
    sets = rt.get("datasets") or {}
    if not sets:
        return None
    dataset = dataset or sorted(sets)[0]
    per = sets[dataset]
    fig = _figure(3.4 * len(per), 3.4)
    for i, (metric, r) in enumerate(per.items()):
        ax = fig.add_subplot(1, len(per), i + 1)
        for j, arm in enumerate(("defaults", "best")):
            seeds = r["values"][arm]
            ax.plot([j] * len(seeds), list(seeds.values()), "o", color="0.6", ms=4)
            m = r["mean"][arm]
            err = None if not math.isfinite(m["low"]) else [[m["mean"] - m["low"]], [m["high"] - m["mean"]]]
            ax.errorbar([j + 0.15], [m["mean"]], yerr=err, fmt="s", color="C3" if arm == "defaults" else "C0",
                        capsize=4)
        d = r["diff"]
        ci = f" [{d['low']:+.2f}, {d['high']:+.2f}]" if math.isfinite(d["low"]) else " (no CI: 1 seed)"
        ax.set_title(f"{metric}: best − defaults {d['mean']:+.2f}{ci}", fontsize=8)
        ax.set_xticks([0, 1], ["paper defaults", f"best (trial {rt['best_trial']})"])
        ax.set_xlim(-0.5, 1.6)
        ax.set_ylabel(f"test {metric} (mm)")
    fig.suptitle(f"Best weights vs the paper's defaults on {dataset} ({len(rt['seeds'])} seeds, "
                 f"{int(rt['level'] * 100)} % CI)", fontsize=9)
    return _png(fig)


PLOTS = {"history": plot_history, "importances": plot_importances, "parallel": plot_parallel, "slices": plot_slices,
         "retrain": plot_retrain}

__all__ = ["PLOTS", "plot_history", "plot_importances", "plot_parallel", "plot_retrain", "plot_slices"]
