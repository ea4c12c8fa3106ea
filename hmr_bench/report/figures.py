"""The report's figures, drawn with seaborn from the results frames (`experiment.table_results`) in one style,
returned as inline SVG text: text stays text (the page's fonts), and every figure's element ids are prefixed with
its own name, so several figures can live in one HTML page.

    forest_plot(diffs, paper, ...)     paired differences to the reference row (pointplot, hue = verdict)
    rois_plot(values, paper, ...)      accuracy against the table's x axis (lineplot with 95 % CI band)
    curve_plot(points, metrics, name)  validation curves (lineplot, hue = row, min–max band over seeds)
    bars(frame, x, y, hue, ...)        grouped bars (barplot, hue = row): Fig. 7, the speed page's step breakdown
    fps_plot / speed_plot              inference speed against M (`report.speed`'s frames of the speed records)
    retrain_plot(per, ...)             a sweep's best weights vs the paper's defaults on test, per seed

Nothing here reads the store.
"""

from __future__ import annotations

import io
import math
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib import ticker  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from hmr_bench.eval.stats import mean_ci  # noqa: E402

VERDICT_COLOURS = {"reproduced": "#2e7d32", "contradicted": "#c62828", "inconclusive": "#b7791f", "": "#555555"}
PAPER_COLOUR = "#1f3a93"
SERIES = tuple(sns.color_palette("tab10").as_hex()) + ("#393b79", "#637939", "#8c6d31")
STYLE = {"svg.fonttype": "none", "font.family": "sans-serif", "font.size": 9, "axes.spines.top": False,
         "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3, "figure.dpi": 100}


def to_svg(fig, name: str) -> str:
    """The figure as an <svg> element (no XML prolog, no date), every element id prefixed with `name` (so figures
    share a page safely); the figure is closed."""
    buf = io.StringIO()
    with plt.rc_context({**STYLE, "svg.hashsalt": name}):  # svg.fonttype "none": text stays text
        fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)  # a creation date: not reproducible
    pre = re.sub(r"[^A-Za-z0-9_-]", "_", name) + "-"  # element ids unique within the page, references follow
    text = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{pre}{m.group(1)}"', text)
    text = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{pre}{m.group(1)})", text)
    text = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{pre}{m.group(1)}"', text)
    return text.replace("<svg ", '<svg class="plot" ', 1)


def _figure(w: float, h: float, ncols: int = 1):
    """A row of `ncols` axes in the report's style (seaborn's ticks with a light grid)."""
    with plt.rc_context(STYLE), sns.axes_style("ticks", {"axes.grid": True, "grid.color": "#dddddd"}):
        fig, axes = plt.subplots(1, ncols, figsize=(w, h), squeeze=False)
    for ax in axes[0]:
        ax.set_axisbelow(True)
        sns.despine(ax=ax)
    return fig, list(axes[0])


def t_interval(v: pd.Series) -> tuple[float, float]:
    """seaborn `errorbar`: the 95 % Student-t interval of the mean over seeds (`eval.stats.mean_ci`)."""
    iv = mean_ci(v.to_numpy(np.float64))
    return iv.low, iv.high


def forest_plot(diffs: pd.DataFrame, paper: pd.DataFrame, rows: list[str], reference: str, name: str) -> str | None:
    """Measured difference row − reference (mean, 95 % CI whisker; colour = the cell's verdict) beside the paper's
    (◇), one panel per metric; None when no row has a measured difference.

    diffs: per-seed paired differences (variant, metric, seed, diff, verdict); paper: the paper's differences
    (variant, metric, paper); rows: the rows shown, top to bottom."""
    metrics = list(dict.fromkeys(diffs["metric"]))
    if not metrics:
        return None
    fig, axes = _figure(3.4 * len(metrics) + 1.2, 0.42 * len(rows) + 1.1, len(metrics))
    for ax, m in zip(axes, metrics):
        ax.axvline(0, color="#333", lw=0.8)
        d = diffs[diffs["metric"] == m]
        sns.pointplot(d, x="diff", y="variant", hue="verdict", order=rows, palette=VERDICT_COLOURS,
                      errorbar=t_interval, linestyle="none", capsize=0.15, markersize=5, err_kws={"linewidth": 1.4},
                      legend=False, ax=ax)
        p = paper[paper["metric"] == m]
        if len(p):
            sns.pointplot(p, x="paper", y="variant", order=rows, color=PAPER_COLOUR, marker="D", linestyle="none",
                          markersize=5, markerfacecolor="none", errorbar=None, ax=ax)
        ax.set_ylabel("")
        ax.set_xlabel(f"Δ {m} vs {reference} (mm)")
        ax.grid(axis="y", alpha=0)
    axes[-1].plot([], [], "o", color="#555", label="measured (95 % CI)")
    axes[-1].plot([], [], "D", color=PAPER_COLOUR, mfc="none", label="paper")
    axes[-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    return to_svg(fig, name)


def rois_plot(values: pd.DataFrame, paper: pd.DataFrame, metrics, x_label: str, name: str) -> str | None:
    """Accuracy against the table's x axis (the number of RoIs M): per metric the mean over seeds with its 95 % CI
    band, the paper's numbers (◇), and rows that are another model at the same x (e.g. a shared backbone) as
    their own markers, off the line.

    values: per-seed test values (x, metric, value, shared: bool); paper: (x, metric, paper)."""
    if values.empty:
        return None
    fig, axes = _figure(3.6 * len(metrics) + 0.6, 2.8, len(metrics))
    for ax, metric in zip(axes, metrics):
        v = values[values["metric"] == metric]
        line, other = v[~v["shared"]], v[v["shared"]]
        if len(other):
            sns.lineplot(other, x="x", y="value", errorbar=t_interval, err_style="bars", marker="s", linestyle="",
                         color=SERIES[1], err_kws={"capsize": 3}, label="shared backbone", ax=ax)
        if len(line):
            sns.lineplot(line, x="x", y="value", errorbar=t_interval, marker="o", color=SERIES[0],
                         err_kws={"alpha": 0.18, "lw": 0}, label="measured (95 % CI band)", ax=ax)
        p = paper[paper["metric"] == metric]
        if len(p):
            sns.scatterplot(p, x="x", y="paper", marker="D", s=45, facecolor="none", edgecolor=PAPER_COLOUR,
                            linewidth=1.2, label="paper", ax=ax)
        ax.set_xlabel(x_label)
        ax.set_ylabel(f"{metric} (mm)")
        ax.set_xticks(sorted(set(values["x"]) | set(paper["x"])))
    for ax in axes[1:]:
        if ax.get_legend():
            ax.get_legend().remove()
    axes[0].legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return to_svg(fig, name)


def curve_plot(points: pd.DataFrame, metrics, name: str) -> str | None:
    """Validation curves per epoch: per row the mean over seeds and the min–max band over seeds, one panel per
    metric. points: one row per (variant, run, metric, epoch): value (epochs 0-based, drawn from 1)."""
    if points.empty:
        return None
    n = points.groupby("variant", sort=False)["run_id"].nunique()
    data = points.assign(epoch=points["epoch"] + 1, row=points["variant"].map(lambda v: f"{v} (n={n[v]})"))
    fig, axes = _figure(3.8 * len(metrics) + 0.6, 3.0, len(metrics))
    for ax, m in zip(axes, metrics):
        sns.lineplot(data[data["metric"] == m], x="epoch", y="value", hue="row", hue_order=list(dict.fromkeys(
            data["row"])), palette=list(SERIES[:data["row"].nunique()]), errorbar=lambda v: (v.min(), v.max()),
            marker="o", markersize=4, markeredgewidth=0, err_kws={"alpha": 0.18, "lw": 0}, ax=ax, legend=ax is axes[0])
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"validation {m} (mm)")
        ax.xaxis.get_major_locator().set_params(integer=True)
    if axes[0].get_legend():
        axes[0].legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return to_svg(fig, name)


def bars(frame: pd.DataFrame, x: str, y: str, hue: str, ylabel: str, name: str,
         width: float | None = None) -> str | None:
    """Grouped bars: one group per `x` value (in the frame's order), one bar per `hue` value side by side (Fig. 7
    per action / per joint, the training step's breakdown). NaN = no bar."""
    frame = frame[frame[y].notna()]
    if frame.empty:
        return None
    cats, series = list(dict.fromkeys(frame[x])), list(dict.fromkeys(frame[hue]))
    fig, (ax,) = _figure(width or min(11.0, max(4.5, 0.16 * len(cats) * (len(series) + 1) + 1.5)), 3.0)
    sns.barplot(frame, x=x, y=y, hue=hue, order=cats, hue_order=series, palette=list(SERIES[:len(series)]),
                errorbar=None, saturation=1.0, ax=ax)
    ax.set_xticks(range(len(cats)), cats, rotation=35 if max(len(str(c)) for c in cats) > 6 else 0, ha="right")
    ax.set_xlabel("")
    ax.set_ylabel(ylabel)
    ax.grid(axis="x", alpha=0)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    fig.tight_layout()
    return to_svg(fig, name)


def fps_plot(fps, paper: dict[int, float], name: str) -> str | None:
    """Inference FPS against M, one line per series (backbone · device · batch) of Table 4's records
    (`speed.table4_fps`: num_rois, samples_per_s, series), the paper's as ◇."""
    if fps is None or fps.empty:
        return None
    series = list(dict.fromkeys(fps["series"]))
    fig, (ax,) = _figure(5.2, 2.8)
    sns.lineplot(fps.astype({"num_rois": int}), x="num_rois", y="samples_per_s", hue="series", hue_order=series,
                 palette=list(SERIES[:len(series)]), marker="o", estimator=None, ax=ax)
    if paper:
        sns.scatterplot(x=list(paper), y=list(paper.values()), marker="D", s=45, facecolor="none",
                        edgecolor=PAPER_COLOUR, linewidth=1.2, label="paper", ax=ax)
    ax.set_xlabel("number of RoIs M")
    ax.set_ylabel("samples / s")
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return to_svg(fig, name)


SPEED_LINES = {"end-to-end crops": ("-", "end-to-end, separate crops"),
               "end-to-end shared": ("-.", "end-to-end, shared backbone"),
               "backbone": ("--", "backbone scope"), "model": (":", "model scope")}
DEVICE_MARKERS = ("o", "s", "^", "D", "v", "P", "X")
SPEED_COLUMNS = 3


def _speed_line(scope: str, mode: str) -> tuple[str, object, str]:
    """(key, matplotlib linestyle, legend text) of an inference series: end-to-end by mode, else by scope."""
    key = f"end-to-end {mode}" if scope == "end-to-end" and mode in ("crops", "shared") else scope
    style, text = SPEED_LINES.get(key, ((0, (3, 1, 1, 1, 1, 1)), f"{scope} scope"))
    return key, style, text


def _nice_125(x: float, up: bool) -> float:
    """The nearest value of the 1-2-5 series (…, 0.5, 1, 2, 5, 10, …) at or below (at or above with `up`) x > 0."""
    base = 10.0 ** math.floor(math.log10(x))
    steps = [base * k for k in (1, 2, 5, 10)]
    return min(v for v in steps if v >= x * (1 - 1e-9)) if up else max(v for v in steps if v <= x * (1 + 1e-9))


def speed_plot(inference: pd.DataFrame, name: str) -> str | None:
    """Inference samples/s against M as small multiples: one panel per backbone (in the order of the rows, the
    speed page's: the benchmark plan's), SPEED_COLUMNS panels a row, log y per panel; one line per (scope, mode,
    batch, device label): line style = scope and mode (`SPEED_LINES`: end-to-end crops solid, shared dash-dot,
    backbone scope dashed, model scope dotted; open markers for a shared mode outside end-to-end), colour = batch,
    marker = device label (where several); one legend for the figure. Each panel title's SVG id is
    "<name>-panel-<backbone>", each line's "<name>-series-<backbone>-<scope>-<mode>-b<batch>-d<device index>".
    inference: the speed page's inference rows (backbone, scope, mode, batch, label, num_rois, samples_per_s)."""
    if inference.empty:
        return None
    data = inference[pd.to_numeric(inference["samples_per_s"]) > 0]
    if data.empty:
        return None
    data = data.astype({"samples_per_s": float, "num_rois": int, "batch": int})
    panels = list(dict.fromkeys(data["backbone"]))
    batches = sorted(set(data["batch"]))
    devices = list(dict.fromkeys(data["label"]))
    colour = {b: SERIES[i % len(SERIES)] for i, b in enumerate(batches)}
    marker = {d: DEVICE_MARKERS[i % len(DEVICE_MARKERS)] for i, d in enumerate(devices)}
    ncols = min(SPEED_COLUMNS, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 2.6 * nrows + 0.6), squeeze=False,
                                 layout="constrained")
    flat = list(axes.flat)
    lines: dict[str, tuple] = {}
    open_markers = False
    for ax, backbone in zip(flat, panels):
        group = data[data["backbone"] == backbone]
        for (scope, mode, batch, device), s in group.groupby(["scope", "mode", "batch", "label"], sort=False):
            key, style, text = _speed_line(scope, mode)
            lines.setdefault(key, (style, text))
            hollow = mode == "shared" and scope != "end-to-end"
            open_markers |= hollow
            s = s.sort_values("num_rois")
            sns.lineplot(x=s["num_rois"].tolist(), y=s["samples_per_s"].tolist(), ax=ax, estimator=None,
                         legend=False, linestyle=style, marker=marker[device], color=colour[batch], ms=3.5, lw=1.3,
                         mfc="white" if hollow else colour[batch], mec=colour[batch])
            ax.lines[-1].set_gid(f"series-{backbone}-{scope}-{mode}-b{batch}-d{devices.index(device)}")
        ax.set_yscale("log")
        low, high = _nice_125(group["samples_per_s"].min(), up=False), _nice_125(group["samples_per_s"].max(), up=True)
        ax.set_ylim(low, high if high > low else _nice_125(1.01 * high, up=True))
        ax.yaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_xticks(sorted(set(group["num_rois"])))
        ax.set_axisbelow(True)
        ax.grid(True, which="major", alpha=0.3)
        ax.set_title(backbone, fontsize=9, fontweight="bold").set_gid(f"panel-{backbone}")
    for ax in flat[len(panels):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("samples / s")
    for i, ax in enumerate(flat[:len(panels)]):
        if i + ncols >= len(panels):  # nothing drawn below it
            ax.set_xlabel("number of RoIs M")
    handles = [Line2D([], [], color="#444", linestyle=style, lw=1.3, label=text)
               for key, (style, text) in sorted(lines.items(), key=lambda kv: list(SPEED_LINES).index(kv[0])
                                                if kv[0] in SPEED_LINES else len(SPEED_LINES))]
    handles += [Line2D([], [], color=colour[b], lw=2.5, label=f"batch {b}") for b in batches]
    if open_markers:
        handles.append(Line2D([], [], color="#444", marker="o", mfc="white", linestyle="none",
                              label="open: shared backbone"))
    if len(devices) > 1:
        handles += [Line2D([], [], color="#444", marker=marker[d], linestyle="none", label=d)
                    for d in devices]
    fig.legend(handles=handles, loc="outside upper center", ncol=min(len(handles), 3 if len(devices) > 1 else 6),
               fontsize=7.5, frameon=False)
    return to_svg(fig, name)


def retrain_plot(per: dict, best_trial: int, n_seeds: int, level: float, dataset: str, name: str) -> str | None:
    """A sweep's retrain (`sweep.retrain.compare`, one test set): per metric each seed's test value (grey) and the
    mean with its CI over seeds for the paper's defaults and the best trial's weights; the title gives the paired
    difference best − defaults. The intervals are the ones `compare` computed (at its `level`), not re-estimated.

    per: {metric: {"values": {arm: {seed: value}}, "mean": {arm: {mean, low, high}}, "diff": {mean, low, high}}}."""
    if not per:
        return None
    arms = {"defaults": "paper defaults", "best": f"best (trial {best_trial})"}
    seeds = pd.DataFrame([(m, arms[a], v) for m, r in per.items() for a in arms for v in r["values"][a].values()],
                         columns=["metric", "arm", "value"])
    fig, axes = _figure(3.4 * len(per), 3.4, len(per))
    for ax, (metric, r) in zip(axes, per.items()):
        sns.stripplot(seeds[seeds["metric"] == metric], x="arm", y="value", order=list(arms.values()), color="0.6",
                      size=4, jitter=False, ax=ax)
        for j, (arm, colour) in enumerate(zip(arms, (VERDICT_COLOURS["contradicted"], SERIES[0]))):
            m = r["mean"][arm]
            err = [[m["mean"] - m["low"]], [m["high"] - m["mean"]]] if finite(m["low"]) else None
            ax.errorbar([j + 0.15], [m["mean"]], yerr=err, fmt="s", color=colour, capsize=4)
        d = r["diff"]
        ci = f" [{d['low']:+.2f}, {d['high']:+.2f}]" if finite(d["low"]) else " (no CI: 1 seed)"
        ax.set_title(f"{metric}: best − defaults {d['mean']:+.2f}{ci}", fontsize=8)
        ax.set_xlim(-0.5, 1.6)
        ax.set_xlabel("")
        ax.set_ylabel(f"test {metric} (mm)")
    fig.suptitle(f"Best weights vs the paper's defaults on {dataset} ({n_seeds} seeds, {int(level * 100)} % CI)",
                 fontsize=9)
    fig.tight_layout()
    return to_svg(fig, name)


def finite(x) -> bool:
    return x is not None and math.isfinite(x)
