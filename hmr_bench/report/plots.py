"""The report's figures (matplotlib, Agg), returned as inline SVG text: text stays text (the page's fonts), and
every figure's element ids are prefixed with its own name, so several figures can live in one HTML page.

Inputs are plain data (`collect.Section`, `collect.Breakdown`, `collect.Curve`, `bench.FpsSeries`,
`speed.Series`); nothing here reads the store.
"""

from __future__ import annotations

import io
import math
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import ticker  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

VERDICT_COLOURS = {"reproduced": "#2e7d32", "contradicted": "#c62828", "inconclusive": "#b7791f",
                   None: "#555555"}
PAPER_COLOUR = "#1f3a93"
SERIES = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
          "#17becf", "#393b79", "#637939", "#8c6d31")
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
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, ncols, figsize=(w, h), squeeze=False)
    for ax in axes[0]:
        ax.set_axisbelow(True)
        ax.grid(True, alpha=0.3)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    return fig, list(axes[0])


def forest_plot(sec, name: str) -> str | None:
    """Measured difference row − reference (mean, 95 % CI whisker; colour = verdict) beside the paper's (◇), one
    panel per metric; None when no row has a measured difference."""
    res = sec.result
    ref = next((rr for rr in res.rows if rr.name == res.table.reference), None)

    def paper_diff(rr, m):
        p, pr = rr.paper.get(m), (ref.paper.get(m) if ref else None)
        return None if p is None or pr is None else p - pr

    rows = [rr for rr in res.rows if rr is not ref and (rr.diff or any(paper_diff(rr, m) is not None
                                                                         for m in res.table.metrics))]
    metrics = [m for m in res.table.metrics if any(m in rr.diff for rr in rows)]
    if not metrics:
        return None
    fig, axes = _figure(3.4 * len(metrics) + 1.2, 0.42 * len(rows) + 1.1, len(metrics))
    ys = np.arange(len(rows))[::-1]
    for ax, m in zip(axes, metrics):
        ax.axvline(0, color="#333", lw=0.8)
        for y, rr in zip(ys, rows):
            d = rr.diff.get(m)
            if d is not None:
                a = sec.cells.get((rr.name, m))
                col = VERDICT_COLOURS[a.verdict if a else None]
                if d.defined:
                    ax.errorbar(d.mean, y, xerr=[[d.mean - d.low], [d.high - d.mean]], fmt="o", color=col, ms=5,
                                capsize=3, lw=1.4)
                else:
                    ax.plot(d.mean, y, "o", color=col, ms=5, mfc="white")
            if paper_diff(rr, m) is not None:
                ax.plot(paper_diff(rr, m), y, "D", color=PAPER_COLOUR, ms=5, mfc="none")
        ax.set_yticks(ys, [rr.name for rr in rows])
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.set_xlabel(f"Δ {m} vs {res.table.reference} (mm)")
        ax.grid(axis="y", alpha=0)
    axes[-1].plot([], [], "o", color="#555", label="measured (95 % CI)")
    axes[-1].plot([], [], "D", color=PAPER_COLOUR, mfc="none", label="paper")
    axes[-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    return to_svg(fig, name)


def rois_plot(points: list[dict], metrics, name: str) -> str | None:
    """Accuracy against the number of RoIs M: per metric the measured mean with its 95 % CI band, and the paper's
    numbers (◇). points: [{"m": M, "mean": {metric: Interval}, "paper": {metric: mm}, "shared": bool}] sorted by
    M; shared-backbone points (another model at the same M) are drawn as their own markers, off the line."""
    if not any(p["mean"] for p in points):
        return None
    fig, axes = _figure(3.6 * len(metrics) + 0.6, 2.8, len(metrics))
    for ax, metric in zip(axes, metrics):
        pts = [(p["m"], p["mean"][metric]) for p in points if metric in p["mean"] and not p.get("shared")]
        other = [(p["m"], p["mean"][metric]) for p in points if metric in p["mean"] and p.get("shared")]
        if other:
            ax.errorbar([m for m, _ in other], [iv.mean for _, iv in other],
                        yerr=[[iv.mean - iv.low if np.isfinite(iv.low) else 0 for _, iv in other],
                              [iv.high - iv.mean if np.isfinite(iv.high) else 0 for _, iv in other]],
                        fmt="s", color=SERIES[1], capsize=3, label="shared backbone")
        if pts:
            x = np.array([m for m, _ in pts])
            mean = np.array([iv.mean for _, iv in pts])
            ax.plot(x, mean, "o-", color=SERIES[0], label="measured")
            lo = np.array([iv.low for _, iv in pts])
            hi = np.array([iv.high for _, iv in pts])
            ok = np.isfinite(lo) & np.isfinite(hi)
            if ok.any():
                ax.fill_between(x[ok], lo[ok], hi[ok], color=SERIES[0], alpha=0.18, lw=0, label="95 % CI")
        paper = [(p["m"], p["paper"][metric]) for p in points if metric in p["paper"]]
        if paper:
            ax.plot(*zip(*paper), "D", color=PAPER_COLOUR, mfc="none", ms=7, label="paper")
        ax.set_xlabel("number of RoIs M")
        ax.set_ylabel(f"{metric} (mm)")
        ax.set_xticks(sorted({p["m"] for p in points}))
    axes[0].legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return to_svg(fig, name)


def fps_plot(series, paper: dict[int, float], name: str) -> str | None:
    """Inference FPS against M, one line per (backbone, device, batch), the paper's FPS as ◇."""
    if not series:
        return None
    fig, (ax,) = _figure(5.2, 2.8)
    for i, s in enumerate(series):
        ax.plot(list(s.fps), list(s.fps.values()), "o-", color=SERIES[i % len(SERIES)], label=s.label)
    if paper:
        ax.plot(list(paper), list(paper.values()), "D", color=PAPER_COLOUR, mfc="none", ms=7, label="paper")
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


def _speed_line(s) -> tuple[str, object, str]:
    """(key, matplotlib linestyle, legend text) of a `bench.Series`: end-to-end by mode, else by scope."""
    key = f"end-to-end {s.mode}" if s.scope == "end-to-end" and s.mode in ("crops", "shared") else s.scope
    style, text = SPEED_LINES.get(key, ((0, (3, 1, 1, 1, 1, 1)), f"{s.scope} scope"))
    return key, style, text


def _nice_125(x: float, up: bool) -> float:
    """The nearest value of the 1-2-5 series (…, 0.5, 1, 2, 5, 10, …) at or below (at or above with `up`) x > 0."""
    base = 10.0 ** math.floor(math.log10(x))
    steps = [base * k for k in (1, 2, 5, 10)]
    return min(v for v in steps if v >= x * (1 - 1e-9)) if up else max(v for v in steps if v <= x * (1 + 1e-9))


def speed_plot(series, name: str) -> str | None:
    """Inference samples/s against M as small multiples: one panel per backbone (`speed.backbone_panels`: the
    benchmark plan's order, only backbones with data), SPEED_COLUMNS panels a row, log y per panel; line style =
    scope and mode (`SPEED_LINES`: end-to-end crops solid, shared dash-dot, backbone scope dashed, model scope
    dotted; open markers for a shared mode outside end-to-end), colour = batch, marker = device (where several);
    one legend for the figure. Each panel title's SVG id is "<name>-panel-<backbone>", each line's
    "<name>-series-<backbone>-<scope>-<mode>-b<batch>-d<device index>". series: `bench.Series` list."""
    from hmr_bench.report.speed import backbone_panels

    series = [s for s in series if any(finite(v) and v > 0 for v in s.rate.values())]
    if not series:
        return None
    panels = backbone_panels(series)
    batches = sorted({s.batch for s in series})
    devices = list(dict.fromkeys(s.device for s in series))
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
    for ax, (backbone, group) in zip(flat, panels.items()):
        values = []
        for s in group:
            key, style, text = _speed_line(s)
            lines.setdefault(key, (style, text))
            hollow = s.mode == "shared" and s.scope != "end-to-end"
            open_markers |= hollow
            pts = [(m, v) for m, v in s.rate.items() if finite(v) and v > 0]
            values += [v for _, v in pts]
            (line,) = ax.plot([m for m, _ in pts], [v for _, v in pts], linestyle=style, marker=marker[s.device],
                              color=colour[s.batch], ms=3.5, lw=1.3, mfc="white" if hollow else colour[s.batch])
            line.set_gid(f"series-{s.backbone}-{s.scope}-{s.mode}-b{s.batch}-d{devices.index(s.device)}")
        ax.set_yscale("log")
        ax.set_ylim(_nice_125(min(values), up=False), _nice_125(max(values), up=True))
        ax.yaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_xticks(sorted({m for s in group for m in s.rate}))
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


def grouped_bars(categories: list[str], series: dict[str, list[float]], ylabel: str, name: str,
                 width: float | None = None) -> str | None:
    """Bars per category, one bar per series side by side (Fig. 7). series: label → values (NaN = no bar)."""
    if not categories or not series:
        return None
    n = len(series)
    fig, (ax,) = _figure(width or min(11.0, max(4.5, 0.16 * len(categories) * (n + 1) + 1.5)), 3.0)
    x = np.arange(len(categories))
    w = 0.8 / n
    for i, (label, vals) in enumerate(series.items()):
        ax.bar(x - 0.4 + w * (i + 0.5), vals, w, label=label, color=SERIES[i % len(SERIES)])
    ax.set_xticks(x, categories, rotation=35 if max(len(c) for c in categories) > 6 else 0, ha="right")
    ax.set_ylabel(ylabel)
    ax.grid(axis="x", alpha=0)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    fig.tight_layout()
    return to_svg(fig, name)


def curve_plot(curves: dict, metrics, name: str) -> str | None:
    """Validation curves per epoch: per row the mean over seeds and the min–max band over seeds, one panel per
    metric. curves: row → metric → `collect.Curve`."""
    if not curves:
        return None
    fig, axes = _figure(3.8 * len(metrics) + 0.6, 3.0, len(metrics))
    for ax, m in zip(axes, metrics):
        for i, (row, per_metric) in enumerate(curves.items()):
            c = per_metric.get(m)
            if c is None:
                continue
            col = SERIES[i % len(SERIES)]
            ep = c.epoch + 1  # epochs are 0-based in the store
            ax.plot(ep, c.mean, "o-", color=col, ms=3, label=f"{row} (n={int(c.n.max())})")
            if (c.n > 1).any():
                ax.fill_between(ep, c.low, c.high, color=col, alpha=0.18, lw=0)
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"validation {m} (mm)")
        ax.xaxis.get_major_locator().set_params(integer=True)
    axes[0].legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return to_svg(fig, name)


def finite(x) -> bool:
    return x is not None and math.isfinite(x)
