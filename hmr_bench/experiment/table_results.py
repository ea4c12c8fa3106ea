"""A paper table's results as views of the results frames (`store.frames`): per row mean ± 95 % CI over seeds, the
paired difference to the reference row, a verdict per claim, the per-action / per-joint breakdown (Fig. 7), the
learning curves (Fig. 8), and the CSV / Markdown exports. Each is a pivot or groupby of a frame; the statistics are
`eval.stats`'s, applied per group. The CLI's summary after a run (`format_text`) and the report both read this.

    res = table_result(store, load_table("table2"), "cpu")       # TableResult: rows, claims, trivial, regime
    bd = breakdown(store, res.runs, res.protocol)                # per action and per joint, mean over seeds
    points, summary = curves(store, res.runs)                    # validation curves: per row, metric, epoch
    records(res, cells, status, commands).to_csv(...)            # one row per (row, metric)
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hmr_bench.config import get_path
from hmr_bench.eval.stats import Assessment, Interval, assess, mean_ci, paired_difference
from hmr_bench.store import frames
from hmr_bench.tables import Table

log = logging.getLogger(__name__)


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
    values: pd.DataFrame | None = None  # one row per (row, metric, seed): variant, metric, seed, value, run_id
    runs: pd.DataFrame | None = None  # the finished runs with a test value: variant, run_id, seed (table order)

    def ratio(self, row: RowResult, metric: str) -> float | None:
        """The row's mean `metric` over the trivial baseline's (a learned model is well below 1), or None."""
        iv, base = row.mean.get(metric), self.trivial.get(metric)
        return None if iv is None or not base else iv.mean / base


# The learned regime (issue 13): a row counts as having learned articulated pose when it is at most this fraction
# of the trivial baseline (mean pose, shape and camera); a claim is resolved when its paired CI is this narrow.
LEARNED_RATIO = {"mpjpe": 0.60, "pa_mpjpe": 0.70}
RESOLUTION_MM = 1.5
CURVE_METRICS = ("mpjpe", "pa_mpjpe")


def _mean(v: pd.Series) -> float:
    """The mean of a group's values in their row order (numpy's summation, as a loop over the store gives)."""
    return float(np.mean(v.to_numpy(np.float64)))


def seed_values(runs: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    """One row per (variant, metric, seed) of the finished `runs` (a `frames.runs` frame) with a value in `test`
    (a `frames.metrics` frame): variant, metric, seed, value, run_id. A later run of the same seed gives the value;
    rows keep the order of the first run of each seed."""
    vals = runs[["run_id", "variant", "seed"]].merge(test[["run_id", "metric", "value"]], on="run_id")
    key = ["variant", "metric", "seed"]
    return vals.drop_duplicates(key)[key].merge(vals.drop_duplicates(key, keep="last"), on=key)


def table_result(store, table: Table, profile: str, protocol: str | None = None) -> TableResult:
    runs = frames.runs(store, table=table.name)
    runs = runs[runs["profile"] == profile]
    finished = runs[runs["status"] == "finished"]
    test = frames.metrics(store, finished["run_id"], split="test")
    if protocol is None:
        protocol = min(test["dataset"], default="synth-test")
    test = test[test["dataset"] == protocol]
    values = seed_values(finished, test)
    failed = runs[runs["status"] == "failed"].groupby("variant").size()
    ran = finished[finished["run_id"].isin(test["run_id"])]
    rows = []
    for row in table.rows_for(profile):
        rr = RowResult(row.name, row.label, dict(row.paper), failed=int(failed.get(row.name, 0)),
                       run_ids=ran.loc[ran["variant"] == row.name, "run_id"].tolist())
        for metric, g in values[values["variant"] == row.name].groupby("metric", sort=False):
            rr.seeds[metric] = {int(s): float(v) for s, v in zip(g["seed"], g["value"])}
            rr.mean[metric] = mean_ci(g["value"].to_numpy(np.float64))
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
    fin = finished.to_dict("records")
    order = {r.name: i for i, r in enumerate(rows)}
    ran = ran[ran["variant"].isin(order)].sort_values("variant", key=lambda v: v.map(order), kind="stable")
    return TableResult(table, profile, protocol, rows, claims, trivial_metrics(store, fin, protocol),
                       regime_text(fin), values, ran[["variant", "run_id", "seed"]].reset_index(drop=True))


def _paired(row: RowResult, other: RowResult, metric: str) -> Interval | None:
    """row − other over their shared seeds (paired t-interval), or None without a shared seed."""
    a, b = row.seeds.get(metric, {}), other.seeds.get(metric, {})
    shared = sorted(set(a) & set(b))
    if not shared:
        return None
    return paired_difference({s: a[s] for s in shared}, {s: b[s] for s in shared})


def diffs(res: TableResult) -> pd.DataFrame:
    """Per-seed paired differences to the reference row: variant, metric, seed, diff (row − reference) for every
    row with a measured difference (`RowResult.diff`), rows in table order, seeds ascending."""
    ref = res.values[res.values["variant"] == res.table.reference][["metric", "seed", "value"]]
    pairs = res.values.merge(ref, on=["metric", "seed"], suffixes=("", "_ref"))
    pairs = pairs[pairs["variant"] != res.table.reference].sort_values("seed", kind="stable")
    return pairs.assign(diff=pairs["value"] - pairs["value_ref"])[["variant", "metric", "seed", "diff"]]


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


# ------------------------------------------------------------------------------------------- numbers as text
# The report's templates use these too (as Jinja2 globals): a number reads the same in the CLI's text, the HTML
# pages and the Markdown; CSV cells hold full precision (repr), empty where there is no value.

def _fmt(iv: Interval | None, digits: int = 1) -> str:
    """'80.8 ± 1.2' (mean ± CI half-width, `digits` decimals), '80.8' without bounds, 'not run' for None."""
    if iv is None:
        return "not run"
    if math.isnan(iv.low):
        return f"{iv.mean:.{digits}f}"
    return f"{iv.mean:.{digits}f} ± {iv.high - iv.mean:.{digits}f}"


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


# ------------------------------------------------------------------------------------ Fig. 7 breakdown

@dataclass
class Breakdown:
    """Per-action and per-joint test error of each row (Fig. 7), each the mean over the row's seeds of one run's
    mean over test samples. values: one row per (row, kind 'action' | 'joint', name): value (mm), rows in table
    order, actions sorted, joints in protocol order; joints: the J joint names."""

    values: pd.DataFrame
    joints: tuple[str, ...]

    def _pivot(self, kind: str) -> dict:
        v = self.values[self.values["kind"] == kind]
        return {row: dict(zip(g["name"], g["value"])) for row, g in v.groupby("row", sort=False)}

    @property
    def actions(self) -> list[str]:
        return sorted(set(self.values.loc[self.values["kind"] == "action", "name"]))

    @property
    def per_action(self) -> dict[str, dict[str, float]]:
        """row → {action: mm} (only the actions the row's runs have)."""
        return self._pivot("action")

    @property
    def per_joint(self) -> dict[str, np.ndarray]:
        """row → (J,) mm."""
        return {row: np.array(list(d.values())) for row, d in self._pivot("joint").items()}

    @property
    def empty(self) -> bool:
        return self.values.empty


def breakdown(store, runs: pd.DataFrame, protocol: str, metric: str = "mpjpe") -> Breakdown:
    """The Fig. 7 breakdown of the finished `runs` (`TableResult.runs`) on the test split of `protocol`."""
    from hmr_bench.eval.protocols import JOINT_NAMES, PROTOCOLS, get_protocol

    runs = runs[["variant", "run_id"]]
    samples, joints = frames.samples(store, runs["run_id"], "test", metric, dataset=protocol)
    # per run: the mean over its samples of each action; then per row: the mean over its runs (seeds)
    acts = samples[samples["action"] != ""]
    per_run = acts.groupby(["run_id", "action"], sort=True)["value"].agg(_mean).rename("value").reset_index()
    per_action = (runs.merge(per_run, on="run_id").groupby(["variant", "action"], sort=False)["value"].agg(_mean)
                  .reset_index().sort_values("action", kind="stable"))
    per_action = per_action.sort_values("variant", key=lambda v: v.map(_order(runs)), kind="stable")
    # per run: the mean over samples of each joint (NaN-aware); per row: the mean over runs (numpy's axis-0 means)
    per_joint = {}
    for row, g in runs.merge(joints, on="run_id").groupby("variant", sort=False):
        per_run_j = [np.nanmean(np.ascontiguousarray(r.pivot(index="sample_index", columns="joint", values="value")
                                                     .to_numpy(np.float64)), axis=0)
                     for _, r in g.groupby("run_id", sort=False)]
        per_joint[row] = np.mean(np.stack(per_run_j), axis=0)
    known = get_protocol(protocol).joint_names if protocol in PROTOCOLS else JOINT_NAMES  # 14 or 17
    n_j = next((len(v) for v in per_joint.values()), len(known))
    labels = tuple(known) if n_j == len(known) else tuple(f"joint {j}" for j in range(n_j))
    values = pd.concat([
        pd.DataFrame({"row": per_action["variant"], "kind": "action", "name": per_action["action"],
                      "value": per_action["value"]}),
        pd.DataFrame([(row, "joint", j, float(x)) for row, v in per_joint.items() for j, x in zip(labels, v)],
                     columns=["row", "kind", "name", "value"])], ignore_index=True)
    return Breakdown(values, labels)


def _order(runs: pd.DataFrame) -> dict[str, int]:
    return {v: i for i, v in enumerate(dict.fromkeys(runs["variant"]))}


# ------------------------------------------------------------------------------------ Fig. 8 curves

def curves(store, runs: pd.DataFrame, metrics=CURVE_METRICS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validation curves of the finished `runs` (`TableResult.runs`): (points, summary). points: one row per (variant,
    run, metric, epoch): value; summary: one row per (row, metric, epoch): mean over the seeds that reached the
    epoch, low / high (their min and max), n (how many); rows in table order, metrics in `metrics` order. A run
    whose metric was logged for several validation datasets is left out of that metric (with a warning)."""
    pts = frames.curves(store, runs["run_id"], metrics)
    several = pts.groupby(["run_id", "metric"])["dataset"].nunique()
    for run_id, metric in several[several > 1].index:
        log.warning("no curve for run %s: %s logged for several validation datasets", run_id, metric)
    pts = pts.set_index(["run_id", "metric"]).drop(several[several > 1].index).reset_index()
    pts = runs[["variant", "run_id"]].merge(pts, on="run_id")
    summary = (pts.groupby(["variant", "metric", "epoch"], sort=False)["value"]
               .agg(mean=_mean, low="min", high="max", n="count").reset_index()
               .rename(columns={"variant": "row"}))
    rank = {m: i for i, m in enumerate(metrics)}
    summary = summary.sort_values(["row", "metric", "epoch"], kind="stable", key=lambda c: c.map(_order(runs))
                                  if c.name == "row" else c.map(rank) if c.name == "metric" else c)
    return pts, summary.reset_index(drop=True)


# ------------------------------------------------------------------------------------ CSV and Markdown

CSV_COLUMNS = ("table", "profile", "protocol", "row", "label", "metric", "paper", "mean", "ci_low", "ci_high",
               "n_seeds", "seeds", "diff_mean", "diff_low", "diff_high", "paper_diff", "verdict", "status",
               "failed_runs", "command")


def records(res: TableResult, cells: dict, status: dict[str, str], commands: dict[str, str]) -> pd.DataFrame:
    """One row per (row, metric) of `res`, columns `CSV_COLUMNS`. cells: (row, metric) → Assessment of the
    difference cell; status: row → 'ok' | 'missing seeds …' | 'not run'; commands: row → command running it."""
    t = res.table
    ref = next((r for r in res.rows if r.name == t.reference), None)
    out = []
    for rr in res.rows:
        for m in t.metrics:
            iv, d, a = rr.mean.get(m), rr.diff.get(m), cells.get((rr.name, m))
            seeds = sorted(rr.seeds.get(m, {}))
            p, pr = rr.paper.get(m), (ref.paper.get(m) if ref else None)
            out.append((t.name, res.profile, res.protocol, rr.name, rr.label, m, p, iv and iv.mean, iv and iv.low,
                        iv and iv.high, len(seeds), ";".join(str(s) for s in seeds), d and d.mean, d and d.low,
                        d and d.high, None if p is None or pr is None or rr is ref else p - pr,
                        a.verdict if a else "", status[rr.name], rr.failed, commands.get(rr.name, "")))
    floats = ("paper", "mean", "ci_low", "ci_high", "diff_mean", "diff_low", "diff_high", "paper_diff")
    return pd.DataFrame(out, columns=list(CSV_COLUMNS)).astype(dict.fromkeys(floats, np.float64))


def to_csv(frame: pd.DataFrame) -> str:
    """A frame as CSV text: full-precision numbers (repr), empty cells for missing values."""
    return frame.to_csv(index=False, lineterminator="\n", na_rep="")


def markdown(res: TableResult, cells: dict, status: dict[str, str], commands: dict[str, str], seeds,
             rerun: str) -> str:
    """A section as Markdown: its heading, the results table (per metric the paper's number, measured mean ± CI,
    Δ vs the reference with the cell's verdict; a row without a result shows its status), the claims, the
    commands of what is not run yet and `rerun`, the command that runs the whole table."""
    t, rows = res.table, res.rows
    cols = {"row": [rr.name for rr in rows], "label": [rr.label for rr in rows]}
    for m in t.metrics:
        cols[f"{m} paper"] = [num(rr.paper.get(m)) for rr in rows]
        cols[m] = [interval(rr.mean[m]) if rr.mean.get(m) else status[rr.name] for rr in rows]
        cols[f"Δ {m}"] = [signed(rr.diff.get(m)) + (f" ({cells[rr.name, m].verdict})" if (rr.name, m) in cells
                                                    else "") for rr in rows]
    frame = pd.DataFrame(cols).map(lambda c: str(c).replace("|", "\\|").replace("\n", " "))
    lines = [f"### {t.title} — profile `{res.profile}`, `{res.protocol}`", "",
             f"mm; mean ± 95 % CI over seeds {', '.join(map(str, seeds))}; Δ paired with `{t.reference}`.", "",
             frame.to_markdown(index=False, tablefmt="github", disable_numparse=True)]
    if res.claims:
        lines += ["", "Claims:", ""]
        lines += [f"- **{a.verdict if a else 'not run'}**: {c.text}" + (f" Measured {signed(a.ci)} mm." if a else "")
                  for c, a in res.claims]
    if commands:
        lines += ["", "Not run yet:", ""] + [f"- `{cmd}`" for cmd in commands.values()]
    lines += ["", f"Re-run the table: `{rerun}`", ""]
    return "\n".join(lines)
