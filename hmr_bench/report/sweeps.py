"""The report's sweep pages: every study of the sweep storage (`hmr-bench sweep`, default
``<cache>/sweeps.sqlite``), one page each, and a card per study on the index.

The numbers come from `sweep.page.sweep_page_data` (trials, best trial, importances, the retrain comparison with
its statistics from `eval.stats`) and the figures from `sweep.plots` (optuna's own plots of the study, as
matplotlib Figures that this module inlines as SVG); this module only arranges them for ``sweep.html.j2`` and
writes the command that runs what is missing. Reading never creates a storage and never
writes to a SQLite one: a SQLite file that does not exist holds no study, an existing one is opened read-only
(SQLite's ``mode=ro``: no table creation, no lock file, no journal-mode change; for a WAL database SQLite may
leave its ``-wal`` / ``-shm`` side files, the database file itself is not changed), and a SQLite file without
optuna's tables holds no study. Another database (PostgreSQL, MySQL) is opened through
`sweep.study.open_storage`, which creates optuna's tables where they are missing; it is opened only when the
report is built (the index's sweep section or the sweep pages), and an error there is shown in the index's
sweep section instead of failing the report.

    sw = open_sweeps(url)                             # url None: the default storage
    cards = [study_card(sw, name) for name in sw.names]
    view = sweep_view(sw, name, store, store_args)    # everything sweep.html.j2 shows
"""

from __future__ import annotations

import logging
import math
import os
import shlex
import sqlite3
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from hmr_bench.errors import InputError
from hmr_bench.eval.stats import Interval

log = logging.getLogger(__name__)

STATES = ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING")
STATE_TEXT = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running",
              "WAITING": "waiting"}
HOW_TO = "nox -s sweep -- --trials 20 --profile cpu"  # the index's hint when the storage holds no study
VERDICT_TEXT = {True: ("reproduced", "best beats the defaults beyond seed noise"),
                False: ("contradicted", "best is worse than the defaults beyond seed noise"),
                None: ("inconclusive", "no difference beyond seed noise")}


def page_name(study: str) -> str:
    """File name of a study's page: 'sweep-<study>.html' (study names are letters, digits, '.', '_', '-')."""
    return f"sweep-{study}.html"


@dataclass
class Sweeps:
    """The studies of one sweep storage. url: as given (None: the default); shown: the URL, password hidden;
    storage: the open optuna storage (None when there is nothing to read); names: hmr-bench studies, sorted;
    missing: the storage is a SQLite file that does not exist."""

    url: str | None
    shown: str
    storage: object
    names: list[str]
    missing: bool = False

    @property
    def args(self) -> str:
        """' --storage URL' for commands, '' for the default storage."""
        return "" if self.url is None else f" --storage {shlex.quote(self.shown)}"

    @property
    def report_args(self) -> str:
        """' --sweep-storage URL' for `hmr-bench report`, '' for the default storage."""
        return "" if self.url is None else f" --sweep-storage {shlex.quote(self.shown)}"


def _sqlite_file(raw: str) -> Path | None:
    """The file of a SQLite storage given as a path or URL; None for other databases (and in-memory SQLite)."""
    if "://" not in raw:
        return Path(raw).expanduser()
    from sqlalchemy.engine import make_url

    try:
        u = make_url(raw)
    except Exception:  # noqa: BLE001 (open_storage raises the InputError that names the URL)
        return None
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:" \
            or u.database.startswith("file:"):
        return None
    return Path(u.database).expanduser()


SQLITE_READ_TIMEOUT_S = 30  # waiting for a sweep that is writing the file


def _read_only_sqlite(file: Path, shown: str):
    """An optuna RDBStorage reading the existing SQLite `file` read-only, or None when it holds no optuna tables
    (an empty or foreign SQLite file: no study). InputError when it is not a readable SQLite database."""
    import optuna

    uri = f"file:{quote(str(file.resolve()))}?mode=ro"

    def connect():
        return sqlite3.connect(uri, uri=True, timeout=SQLITE_READ_TIMEOUT_S, check_same_thread=False)

    where = f"sweep storage {shown}"
    try:
        con = connect()
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            con.close()
    except sqlite3.Error as e:
        raise InputError(where, "url", found=f"not a readable SQLite database ({e})",
                         expected="an optuna sweep storage written by `hmr-bench sweep`") from None
    if not {"studies", "version_info", "alembic_version"} <= tables:
        return None
    try:
        return optuna.storages.RDBStorage("sqlite://", engine_kwargs={"creator": connect},
                                          skip_table_creation=True)
    except Exception as e:  # noqa: BLE001 (optuna / SQLAlchemy errors of an unusable file)
        raise InputError(where, "url", found=f"the database cannot be read ({type(e).__name__}: {str(e)[:300]})",
                         expected="an optuna sweep storage of this optuna version") from None


def open_sweeps(url: str | os.PathLike | None = None) -> Sweeps:
    """The hmr-bench studies of the sweep storage `url` (None: `sweep.study.default_storage_url()`). A SQLite file
    that does not exist gives no study and is not created; an existing one is read without writing to it (see the
    module docstring); a URL that cannot be opened raises InputError."""
    from hmr_bench.store.redact import redact_url
    from hmr_bench.sweep.study import default_storage_url

    raw = default_storage_url() if url is None else str(url)
    given = None if url is None or str(url) == default_storage_url() else str(url)
    shown = redact_url(raw)
    file = _sqlite_file(raw)
    if file is not None and not file.is_file():
        return Sweeps(given, shown, None, [], missing=True)
    import optuna

    from hmr_bench.sweep.study import SPEC_ATTR, open_storage

    storage = _read_only_sqlite(file, shown) if file is not None else open_storage(raw, heartbeat=False)
    if storage is None:
        return Sweeps(given, shown, None, [])
    names = sorted(s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)
                   if SPEC_ATTR in s.user_attrs)
    return Sweeps(given, shown, storage, names)


def how_to(sw: Sweeps, store_args: str = "") -> str:
    """The command that runs a first sweep into this storage and results store."""
    return HOW_TO + sw.args + store_args


def _labels(spec: dict) -> dict[str, str]:
    from hmr_bench.sweep.page import LABELS

    return {p["name"]: LABELS.get(p["name"], p["name"]) for p in spec["params"]}


def study_card(sw: Sweeps, name: str) -> dict:
    """The index's card of study `name`: counts per state, the best trial (values, weights), whether the retrain
    ran. Cheap: no importances, no statistics."""
    from hmr_bench.sweep.search import best_trial
    from hmr_bench.sweep.study import RETRAIN_ATTR, SPEC_ATTR, load_study

    study = load_study(sw.storage, name)
    spec = study.user_attrs[SPEC_ATTR]
    counts = Counter(t.state.name for t in study.get_trials(deepcopy=False))
    best = best_trial(study)
    return {"name": name, "href": page_name(name), "profile": spec["profile"], "metrics": list(spec["metrics"]),
            "labels": _labels(spec), "counts": _ordered(counts), "states": states(counts),
            "best": None if best is None else {"number": best.number, "values": [float(v) for v in best.values],
                                               "params": dict(best.params)},
            "retrained": RETRAIN_ATTR in study.user_attrs}


def states(counts) -> list[dict]:
    """[{"state", "text", "n"}]: complete, pruned and failed always, other states where some trial is in them."""
    return [{"state": s, "text": STATE_TEXT.get(s, s.lower()), "n": n} for s, n in _ordered(counts).items()
            if n or s in STATES[:3]]


def _ordered(counts) -> dict[str, int]:
    """{state: n} in `STATES` order (every state, 0 where none), other states after."""
    out = {s: int(counts.get(s, 0)) for s in STATES}
    out.update({s: int(n) for s, n in counts.items() if s not in out})
    return out


# ------------------------------------------------------------------------------------------- command

def _number(v) -> str:
    return str(v) if isinstance(v, int) else repr(float(v))


def sweep_command(name: str, spec: dict, trials: int, retrain_seeds=None, extra: str = "") -> str:
    """The `hmr-bench sweep` command whose spec is `spec` (a `SweepSpec.to_dict()`): run with the study's own
    number of finished trials it trains nothing new and runs the retrain (best vs defaults on test).

    Built-in weights at the head of the search space with their default ranges are `--search`, every other
    parameter a `--param` in the stored order (a built-in named there keeps its place), fixed overrides `--set`.
    extra: further arguments (``--storage``, ``--store``)."""
    from hmr_bench.report.collect import _set_value
    from hmr_bench.sweep.space import BUILTIN_KEYS, BUILTIN_RANGES

    params = spec["params"]
    head = []
    for p in params:
        if p["name"] not in BUILTIN_KEYS or p["key"] != BUILTIN_KEYS[p["name"]]:
            break
        head.append(p["name"])
    args = ["hmr-bench", "sweep", "--study", name, "--profile", spec["profile"], "--trials", str(max(1, trials))]
    if head != list(BUILTIN_KEYS):
        args += ["--search", ",".join(head)]
    ranges = BUILTIN_RANGES[spec["cam_form"]]
    for p in params:
        if p["name"] in head and p["log"] and not p["integer"] and (p["low"], p["high"]) == ranges[p["name"]]:
            continue
        key = p["name"] if p["name"] in BUILTIN_KEYS else p["key"]
        args += ["--param", f"{key}={_number(p['low'])}:{_number(p['high'])}" + (":log" if p["log"] else "")]
    args += ["--cam-form", spec["cam_form"]]
    if list(spec["metrics"]) != ["mpjpe"]:
        args += ["--metric", ",".join(spec["metrics"])]
    if spec["pruner"] != ("median" if len(spec["metrics"]) == 1 else "none"):
        args += ["--pruner", spec["pruner"]]
    args += ["--seed", str(spec["seed"])]
    if spec["sampler_seed"]:
        args += ["--sampler-seed", str(spec["sampler_seed"])]
    for k, v in spec["overrides"].items():
        args += ["--set", f"{k}={_set_value(v)}"]
    if retrain_seeds:
        args += ["--retrain-seeds", ",".join(str(s) for s in retrain_seeds)]
    return " ".join(shlex.quote(a) for a in args) + extra


# ------------------------------------------------------------------------------------------- page

def _interval(d: dict | None) -> Interval | None:
    if d is None:
        return None
    return Interval(float(d["mean"]), float(d["low"]), float(d["high"]), int(d["n"]), float(d["level"]),
                    str(d["method"]))


def figure_html(fig, name: str) -> str | None:
    """A figure for the page as inline SVG (`to_svg`: no file, no network, element ids prefixed with `name`)."""
    if fig is None:
        return None
    from hmr_bench.report.figures import to_svg

    return to_svg(fig, name)


def _trial_rows(data: dict) -> list[dict]:
    rows = []
    for t in sorted(data["trials"], key=lambda t: t["number"]):
        last = max(t["intermediate"]) if t["intermediate"] else None
        note = []
        if t["defaults"]:
            note.append("paper's defaults")
        if t["retry_of"] is not None:
            note.append(f"retry of trial {t['retry_of']}")
        if t["surplus"]:
            note.append("surplus (another worker filled the study)")
        if t["failure"]:
            note.append(str(t["failure"])[:200])
        if t["state"] == "PRUNED" and last is not None:
            note.append(f"pruned after epoch {last + 1} at {t['intermediate'][last]:.2f}")
        rows.append({**t, "note": "; ".join(note),
                     "last": None if last is None else {"epoch": last, "value": t["intermediate"][last]}})
    return rows


def _defaults_trial(data: dict) -> dict | None:
    """The complete trial run at the paper's defaults (the lowest-numbered), else any defaults trial, else None."""
    cands = sorted((t for t in data["trials"] if t["defaults"]), key=lambda t: (t["state"] != "COMPLETE",
                                                                                 t["number"]))
    return cands[0] if cands else None


def _versus(data: dict) -> dict:
    """Best trial against the defaults trial on validation: per parameter the default and the best value (and
    their ratio), per metric both values and best − defaults."""
    best, dflt = data["best"], _defaults_trial(data)
    params = []
    for name, label in data["labels"].items():
        d = data["defaults"].get(name)
        b = best["params"].get(name) if best else None
        params.append({"name": name, "label": label, "default": d, "best": b,
                       "ratio": b / d if b is not None and d not in (None, 0) else None})
    metrics = []
    for i, m in enumerate(data["metrics"]):
        b = best["values"][i] if best else None
        d = dflt["values"][i] if dflt and dflt["values"] else None
        metrics.append({"metric": m, "best": b, "defaults": d,
                        "diff": b - d if b is not None and d is not None else None})
    return {"defaults_trial": dflt, "params": params, "metrics": metrics,
            "same": bool(best and dflt and best["number"] == dflt["number"])}


def _retrain(cmp: dict | None, best: dict | None = None) -> dict | None:
    """The retrain's rows (one per test set and metric) beside `retrain.compare`'s keys; "stale_best": the current
    best trial's number when it is not the trial the stored retrain trained (None where they agree)."""
    if cmp is None:
        return None
    now = best["number"] if best else None
    stale = now if now != cmp.get("best_trial") else None
    rows = []
    for dataset, per in cmp["datasets"].items():
        for metric, r in per.items():
            diff = _interval(r["diff"])
            kind, text = VERDICT_TEXT[r["beats_defaults"]]
            if r["beats_defaults"] is None and not math.isfinite(diff.low):
                text = "no seed CI (one seed)"
            rows.append({"dataset": dataset, "metric": metric, "defaults": _interval(r["mean"]["defaults"]),
                         "best": _interval(r["mean"]["best"]), "diff": diff,
                         "bootstrap": _interval(r["bootstrap"]), "verdict": kind, "verdict_text": text,
                         "beats": r["beats_defaults"], "values": r["values"]})
    return {**cmp, "rows": rows, "stale_best": stale, "stale": now != cmp.get("best_trial")}


def _plots(study, data: dict) -> list[dict]:
    """[{"key", "html", "caption"}] of every figure `sweep.plots` draws for the optuna `study` and its page
    `data` (absent when None)."""
    from hmr_bench.report.figures import retrain_plot
    from hmr_bench.sweep import plots

    out = []

    def add(key: str, fig, caption: str) -> None:
        html = figure_html(fig, f"{data['study']}-{key}")
        if html is not None:
            out.append({"key": key, "html": html, "caption": caption})

    for i, m in enumerate(data["metrics"]):
        add(f"history-{m}", plots.plot_history(study, data, i), f"Optimisation history (optuna): validation {m} "
            "per complete trial and the best so far"
            + (", pruned trials (×) at their last reported epoch" if i == 0 else "") + ", the paper's defaults (★).")
    for i, m in enumerate(data["metrics"]):
        add(f"importances-{m}", plots.plot_importances(study, data, i), f"Parameter importances for validation {m} "
            "(optuna, PED-ANOVA over the complete trials, normalised).")
    for i, m in enumerate(data["metrics"]):
        add(f"parallel-{m}", plots.plot_parallel(study, data, i), f"Parallel coordinates of the complete trials "
            f"(optuna; log axes where searched on a log scale; each axis spans the trials' values, not the searched "
            f"range), coloured by validation {m}.")
        add(f"slices-{m}", plots.plot_slices(study, data, i), f"Slices (optuna): validation {m} against each weight "
            "over its searched range, colour = trial number; the dashed line is the paper's default.")
    rt = data.get("retrain") or {}
    for dataset, per in sorted((rt.get("datasets") or {}).items()):
        html = retrain_plot(per, rt["best_trial"], len(rt["seeds"]), rt["level"], dataset,
                            f"{data['study']}-retrain-{dataset}")
        if html is not None:  # None: no compared metric stored for this test set
            out.append({"key": f"retrain-{dataset}", "html": html, "caption": f"Best weights vs the paper's "
                        f"defaults on {dataset} (test): each seed (grey) and the mean with its "
                        f"{int(rt['level'] * 100)} % CI over seeds."})
    return out


def sweep_view(sw: Sweeps, name: str, store, store_args: str = "") -> dict:
    """Everything the page of study `name` shows: `sweep_page_data`'s keys plus trial rows, the best vs defaults
    comparison, the retrain rows (None before retraining), the figures, and the command that (re)runs the
    retrain (best vs defaults, several seeds, test split)."""
    from hmr_bench.sweep.page import sweep_page_data
    from hmr_bench.sweep.study import load_study

    data = sweep_page_data(name, sw.storage, store)
    finished = data["counts"].get("COMPLETE", 0) + data["counts"].get("PRUNED", 0)
    plan_seeds = (data["retrain"] or {}).get("seeds", []) + (data["retrain"] or {}).get("missing_seeds", [])
    command = sweep_command(name, data["spec"], finished, sorted(plan_seeds), sw.args + store_args)
    return {**data, "counts": _ordered(data["counts"]), "states": states(data["counts"]), "rows": _trial_rows(data),
            "versus": _versus(data), "retrain_view": _retrain(data["retrain"], data["best"]),
            "figures": _plots(load_study(sw.storage, name), data),
            "command": command, "finished": finished, "href": page_name(name)}


__all__ = ["HOW_TO", "Sweeps", "figure_html", "how_to", "open_sweeps", "page_name", "study_card",
           "sweep_command", "sweep_view"]
