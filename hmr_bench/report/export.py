"""Numbers as text, and the tables as CSV and Markdown beside the HTML.

The HTML templates use the same formatters (registered as Jinja2 filters), so a number reads the same in the
page, the Markdown and the CLI's `format_text`. CSV cells hold full precision (``repr``), empty where there is
no value.
"""

from __future__ import annotations

import csv
import io
import math

from hmr_bench.eval.stats import Interval
from hmr_bench.experiment.table_results import _fmt

CSV_COLUMNS = ("table", "profile", "protocol", "row", "label", "metric", "paper", "mean", "ci_low", "ci_high",
               "n_seeds", "seeds", "diff_mean", "diff_low", "diff_high", "paper_diff", "verdict", "status",
               "failed_runs", "command")


def _bracket(iv: Interval) -> bool:
    """An interval shown as '[low, high]': a bootstrap one (not symmetric about its mean) with finite bounds."""
    return iv.method != "t" and math.isfinite(iv.low) and math.isfinite(iv.high)


def interval(iv: Interval | None, digits: int = 1) -> str:
    """'80.8 ± 1.2' (mean ± 95 % CI half-width), '80.8' with one seed, 'not run' for None (as `format_text`);
    a bootstrap interval '80.8 [79.9, 81.8]'. digits: decimals (the sweep pages use 2)."""
    if iv is not None and _bracket(iv):
        return f"{iv.mean:.{digits}f} [{iv.low:.{digits}f}, {iv.high:.{digits}f}]"
    return _fmt(iv, digits)


def signed(iv: Interval | None, digits: int = 1) -> str:
    """A difference: '+2.3 ± 1.1' / '-0.4' ('' for None); a bootstrap interval '+2.3 [+1.0, +3.9]'."""
    if iv is None:
        return ""
    if _bracket(iv):
        return f"{iv.mean:+.{digits}f} [{iv.low:+.{digits}f}, {iv.high:+.{digits}f}]"
    return ("+" if iv.mean >= 0 else "") + _fmt(iv, digits)


def num(x, digits: int = 1) -> str:
    """A number with `digits` decimals ('' for None / NaN)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return f"{x:.{digits}f}"


def full(x) -> str:
    """A CSV / data-value cell: repr of the float ('' for None / NaN)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return repr(float(x))


def row_status(sec, name: str) -> str:
    """'ok' | 'missing seeds 1, 2' | 'not run'."""
    miss = sec.missing.get(name)
    if not miss:
        return "ok"
    if len(miss) == len(sec.seeds):
        return "not run"
    return "missing seeds " + ", ".join(str(s) for s in miss)


def paper_diff(sec, rr, metric: str) -> float | None:
    ref = next((r for r in sec.result.rows if r.name == sec.table.reference), None)
    a, b = rr.paper.get(metric), (ref.paper.get(metric) if ref else None)
    return None if a is None or b is None or rr is ref else a - b


def section_records(sec) -> list[dict]:
    """One dict per (row, metric) of a `collect.Section`, keys `CSV_COLUMNS`."""
    out = []
    for rr in sec.result.rows:
        for m in sec.table.metrics:
            iv, d, a = rr.mean.get(m), rr.diff.get(m), sec.cells.get((rr.name, m))
            seeds = sorted(rr.seeds.get(m, {}))
            out.append({
                "table": sec.table.name, "profile": sec.profile, "protocol": sec.protocol, "row": rr.name,
                "label": rr.label, "metric": m, "paper": full(rr.paper.get(m)),
                "mean": full(iv.mean if iv else None), "ci_low": full(iv.low if iv else None),
                "ci_high": full(iv.high if iv else None), "n_seeds": len(seeds),
                "seeds": ";".join(str(s) for s in seeds), "diff_mean": full(d.mean if d else None),
                "diff_low": full(d.low if d else None), "diff_high": full(d.high if d else None),
                "paper_diff": full(paper_diff(sec, rr, m)), "verdict": a.verdict if a else "",
                "status": row_status(sec, rr.name), "failed_runs": rr.failed,
                "command": sec.commands.get(rr.name, ""),
            })
    return out


def to_csv(records: list[dict], columns=CSV_COLUMNS) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    w.writeheader()
    for r in records:
        w.writerow({k: r.get(k, "") for k in columns})
    return buf.getvalue()


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def section_markdown(sec) -> str:
    """A section as a Markdown table (paper, measured mean ± CI, Δ vs reference per metric) and its claims."""
    t, res = sec.table, sec.result
    lines = [f"### {t.title} — profile `{sec.profile}`, `{sec.protocol}`", "",
             f"mm; mean ± 95 % CI over seeds {', '.join(map(str, sec.seeds))}; Δ paired with `{t.reference}`.", ""]
    head = ["row", "label"]
    for m in t.metrics:
        head += [f"{m} paper", m, f"Δ {m}"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for rr in res.rows:
        cells = [rr.name, rr.label]
        for m in t.metrics:
            d, a = rr.diff.get(m), sec.cells.get((rr.name, m))
            cells += [num(rr.paper.get(m)), interval(rr.mean.get(m)) if rr.mean.get(m) else row_status(sec, rr.name),
                      signed(d) + (f" ({a.verdict})" if a else "")]
        lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    if res.claims:
        lines += ["", "Claims:", ""]
        for c, a in res.claims:
            lines.append(f"- **{a.verdict if a else 'not run'}**: {c.text}"
                         + (f" Measured {signed(a.ci)} mm." if a else ""))
    if sec.commands:
        lines += ["", "Not run yet:", ""] + [f"- `{cmd}`" for cmd in sec.commands.values()]
    lines += ["", f"Re-run the table: `{sec.table_command()}`", ""]
    return "\n".join(lines)
