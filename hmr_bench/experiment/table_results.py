"""A paper table's measured results from the store: per row mean ± 95 % CI over seeds, the paired difference to
the reference row (same seeds), and a verdict per claim. The reports and the CLI both read this.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from hmr_bench.config import get_path
from hmr_bench.eval.stats import Assessment, Interval, assess, mean_ci, paired_difference
from hmr_bench.tables import Table


@dataclass
class RowResult:
    name: str
    label: str
    paper: dict[str, float]
    seeds: dict[str, dict[int, float]] = field(default_factory=dict)  # metric → seed → value
    mean: dict[str, Interval] = field(default_factory=dict)
    diff: dict[str, Interval] = field(default_factory=dict)  # row − reference, paired over shared seeds
    failed: int = 0
    run_ids: list[str] = field(default_factory=list)


@dataclass
class TableResult:
    table: Table
    profile: str
    protocol: str
    rows: list[RowResult]
    claims: list[tuple[object, Assessment | None]]
    trivial: dict[str, float] = field(default_factory=dict)  # the trivial baseline's test metrics on the same data
    regime: str = ""  # what the numbers come from (`regime_text`)

    def ratio(self, row: RowResult, metric: str) -> float | None:
        """The row's mean `metric` over the trivial baseline's (a learned model is well below 1), or None."""
        iv, base = row.mean.get(metric), self.trivial.get(metric)
        return None if iv is None or not base else iv.mean / base


# The learned regime (issue 13): a row counts as having learned articulated pose when it is at most this fraction
# of the trivial baseline (mean pose, shape and camera); a claim is resolved when its paired CI is this narrow.
LEARNED_RATIO = {"mpjpe": 0.60, "pa_mpjpe": 0.70}
RESOLUTION_MM = 1.5


def table_result(store, table: Table, profile: str, protocol: str | None = None) -> TableResult:
    runs = [r for r in store.runs(table=table.name) if r["profile"] == profile]
    finished = [r for r in runs if r["status"] == "finished"]
    metrics = store.metrics([r["run_id"] for r in finished], split="test") if finished else []
    if protocol is None:
        protocols = sorted({m["dataset"] for m in metrics})
        protocol = protocols[0] if protocols else "synth-test"
    by_run = {}
    for m in metrics:
        if m["dataset"] == protocol:
            by_run.setdefault(m["run_id"], {})[m["name"]] = m["value"]
    rows = []
    for row in table.rows_for(profile):
        rr = RowResult(row.name, row.label, dict(row.paper))
        for r in runs:
            if r["variant"] != row.name:
                continue
            if r["status"] == "failed":
                rr.failed += 1
            if r["status"] == "finished" and r["run_id"] in by_run:
                rr.run_ids.append(r["run_id"])
                for metric, value in by_run[r["run_id"]].items():
                    rr.seeds.setdefault(metric, {})[r["seed"]] = value
        for metric, per_seed in rr.seeds.items():
            rr.mean[metric] = mean_ci(list(per_seed.values()))
        rows.append(rr)
    ref = next((r for r in rows if r.name == table.reference), None)
    for rr in rows:
        if ref is None or rr is ref:
            continue
        for metric in rr.seeds:
            d = _paired(rr, ref, metric)
            if d is not None:
                rr.diff[metric] = d
    claims = []
    by_name = {r.name: r for r in rows}
    for c in table.claims:
        row, other = by_name.get(c.row), by_name.get(c.reference_row)
        if row is None:
            ci = None
        elif c.reference_row == table.reference:
            ci = row.diff.get(c.metric)
        else:  # a claim between two other rows (e.g. "removing all three hurts more than removing RAF alone")
            ci = _paired(row, other, c.metric) if other is not None else None
        claims.append((c, assess(c, ci) if ci is not None else None))
    return TableResult(table, profile, protocol, rows, claims, trivial_metrics(store, finished, protocol),
                       regime_text(finished))


def _paired(row: RowResult, other: RowResult, metric: str) -> Interval | None:
    """row − other over their shared seeds (paired t-interval), or None without a shared seed."""
    a, b = row.seeds.get(metric, {}), other.seeds.get(metric, {})
    shared = sorted(set(a) & set(b))
    if not shared:
        return None
    return paired_difference({s: a[s] for s in shared}, {s: b[s] for s in shared})


IDENTICAL_NOTE = ("the row's runs equal the reference's exactly, so the switched-off part has no path to the "
                  "predictions in this regime (e.g. L_cont with a frozen backbone: its embedding is computed from the "
                  "frozen features and feeds nothing else); the claim cannot be tested here")


def identical(a) -> bool:
    """True when a claim's paired difference is exactly 0 in every seed (the two rows are the same runs)."""
    return a.measured == 0 and a.ci.low == 0 and a.ci.high == 0


def regime_text(runs: list[dict]) -> str:
    """One sentence on what the finished `runs` were trained on and from (their stored configs), or ""."""
    cfgs = [r["config"] for r in runs if isinstance(r.get("config"), dict)]
    if not cfgs:
        return ""

    def one(path: str):
        values = {repr(v) if isinstance(v, (list, dict)) else v for v in (get_path(c, path) for c in cfgs)}
        return values.pop() if len(values) == 1 else "varies"

    n_train, batch, epochs = one("data.n_train"), one("train.batch_size"), one("train.epochs")
    max_steps = one("train.max_steps_per_epoch")
    parts = []
    if isinstance(n_train, int) and isinstance(batch, int) and isinstance(epochs, int):
        per_epoch = n_train // batch if max_steps in (None, "varies") else min(n_train // batch, max_steps)
        parts.append(f"{n_train} training images, {epochs} epochs × {per_epoch} steps of {batch} samples "
                     f"({epochs * per_epoch} steps)")
    inp = one("data.input")
    parts.append("proxy input (2D-keypoint heatmaps per RoI)" if inp == "proxy" else f"{inp or 'rgb'} input")
    pre = one("model.pretrained")
    parts.append(f"backbone {one('model.backbone')} " + (f"from {pre}" if pre else "from scratch"))
    if one("train.backbone") == "frozen":
        parts.append("backbone frozen (features of the un-augmented RoI crops cached; fusion, head and projection "
                     "train)")
    stride = one("loss.vertex_stride")
    if isinstance(stride, int) and stride > 1:
        parts.append(f"vertex loss on every {stride}th vertex")
    seeds = sorted({r["seed"] for r in runs})
    parts.append(f"seeds {', '.join(map(str, seeds))}")
    return "; ".join(parts) + "."


def trivial_metrics(store, runs: list[dict], protocol: str) -> dict[str, float]:
    """Test metrics of the trivial baseline (mean pose, shape, camera) on the data of `runs`, or {} if not stored
    (or if the runs used several datasets)."""
    from hmr_bench.eval.trivial import TRIVIAL_TABLE

    keys = {r["dataset_key"] for r in runs}
    if len(keys) != 1:
        return {}
    trivial = [r for r in store.runs(table=TRIVIAL_TABLE, status="finished") if r["dataset_key"] in keys]
    if not trivial:
        return {}
    rows = store.metrics([trivial[-1]["run_id"]], split="test")
    return {m["name"]: m["value"] for m in rows if m["dataset"] == protocol}


def _fmt(iv: Interval | None, digits: int = 1) -> str:
    """'80.8 ± 1.2' (mean ± CI half-width, `digits` decimals), '80.8' without bounds, 'not run' for None."""
    if iv is None:
        return "not run"
    if math.isnan(iv.low):
        return f"{iv.mean:.{digits}f}"
    return f"{iv.mean:.{digits}f} ± {iv.high - iv.mean:.{digits}f}"


def format_text(res: TableResult) -> str:
    """A plain-text table: paper number, measured mean ± CI half-width, paired difference to the reference."""
    t = res.table
    lines = [f"{t.title}  [profile {res.profile}, {res.protocol}; mm; mean ± 95% CI over seeds]", ""]
    head = f"{'row':<16}{'label':<28}"
    for m in t.metrics:
        head += f"{m + ' paper':>16}{m:>16}{'Δ vs ' + t.reference:>18}"
    lines.append(head)
    for r in res.rows:
        line = f"{r.name:<16}{r.label[:27]:<28}"
        for m in t.metrics:
            paper = r.paper.get(m)
            line += f"{'' if paper is None else f'{paper:.1f}':>16}{_fmt(r.mean.get(m)):>16}"
            d = r.diff.get(m)
            line += f"{'' if d is None else ('+' if d.mean >= 0 else '') + _fmt(d):>18}"
        if r.failed:
            line += f"   ({r.failed} failed)"
        lines.append(line)
    if res.trivial:
        lines += ["", "Trivial baseline (mean pose, shape and camera; no image): "
                  + ", ".join(f"{m} {res.trivial[m]:.1f}" for m in ("mpjpe", "pa_mpjpe", "pve") if m in res.trivial)]
        ratios = []
        for r in res.rows:
            rs = {m: res.ratio(r, m) for m in LEARNED_RATIO}
            if all(v is not None for v in rs.values()):
                ok = all(rs[m] <= LEARNED_RATIO[m] for m in rs)
                ratios.append(f"  {r.name:<16}" + "  ".join(f"{m}/trivial {rs[m]:.2f}" for m in rs)
                              + ("  learned" if ok else "  NOT in the learned regime"))
        if ratios:
            lines += ["Learned regime (≤ " + ", ".join(f"{v:.2f} × trivial {m}" for m, v in LEARNED_RATIO.items())
                      + "):", *ratios]
    if res.regime:
        lines += ["", "Regime: " + res.regime]
    if res.claims:
        lines += ["", "Claims:"]
        for c, a in res.claims:
            verdict = a.verdict if a else "not run"
            detail = ""
            half = (a.ci.high - a.ci.low) / 2 if a else math.nan
            if a and math.isnan(half):
                detail = f"  measured {a.measured:+.2f} mm (one seed: no interval)"
            elif a and identical(a):
                detail = f"  measured +0.00 mm in every seed: {IDENTICAL_NOTE}"
            elif a:
                detail = f"  measured {a.measured:+.2f} mm, 95% CI ±{half:.2f} mm" + (
                    "" if half <= RESOLUTION_MM else f" (wider than {RESOLUTION_MM} mm: cannot resolve it)")
            lines.append(f"  [{verdict}] {c.text}" + detail)
    return "\n".join(lines)
