"""Builds the report: one self-contained HTML page per table (plus the figure pages the tables declare, e.g.
Fig. 7, and an index), each beside its CSV and Markdown, from the results store alone (no training); a speed page
from the benchmark files and a page per sweep study from the sweep storage. What a table's page shows (its order,
x axis, extra columns and figures, nox session) is the table's `view` declaration: nothing here names a table.

    written = build_reports(ResultsStore(url), "reports", tables=["table2"], bench_dir=".benchmarks")

Pages open from disk with no network: CSS, JS and figures (inline SVG) and gallery images (data: URIs) are
inside the file. A table, a row or a seed that has not been run shows as "not run" with the command that runs it.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from hmr_bench.config import get_path
from hmr_bench.errors import InputError
from hmr_bench.eval.stats import VERDICT_RULE
from hmr_bench.experiment import table_results as views
from hmr_bench.io import atomic_write
from hmr_bench.report import collect, figures, provenance, speed, sweeps
from hmr_bench.tables import Figure, load_table, table_names

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
REPORT_PAGES = ("speed", "sweeps")  # the report's own pages, after the tables' ("sweeps": one per study)
SYNTH_NOTE = ("Measured on SynthHMR: the paper's numbers come from real data (3DPW / H36M) and are shown for "
              "orientation; the verdicts test the direction of the paper's effects, not their size.")


@dataclass
class Cell:
    kind: str
    value: float | None
    text: str
    paper: bool = False


@dataclass
class Extra:
    """Extra columns of a results table: heads, and row → cells."""

    heads: list[str]
    cells: dict[str, list[Cell]]


@dataclass
class PageSection:
    """Everything one section of a page shows."""

    sec: collect.Section
    prov: dict
    forest: str | None = None
    extra: Extra | None = None
    bd: views.Breakdown | None = None
    bd_plots: dict = field(default_factory=dict)
    curves: str | None = None
    curve_data: pd.DataFrame | None = None
    gallery: object = None
    rois: str | None = None
    fps: str | None = None
    fps_note: str | None = None


def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.globals.update(interval=views.interval, signed=views.signed, num=views.num, full=views.full,
                       row_status=collect.row_status, verdict_rule=VERDICT_RULE, fmt=speed.fmt,
                       css=(HERE / "static" / "report.css").read_text(), js=(HERE / "static" / "sort.js").read_text())
    return env


def declared_figures() -> dict[str, tuple[str, Figure]]:
    """Figure pages the tables declare (`View.figures`): page name → (the table it is drawn from, its Figure)."""
    return {f.name: (n, f) for n in table_names() for f in load_table(n).view.figures}


def page_label(name: str) -> str:
    """The short name of a page in the navigation: 'Table 2', 'Fig. 8', 'Discrepancies'."""
    if name in REPORT_PAGES:
        return name.capitalize()
    figs = declared_figures()
    title = figs[name][1].title if name in figs else load_table(name).title if name in table_names() else name
    m = re.match(r"(Table \d+|Fig\. \d+)", title)
    return m.group(1) if m else name.capitalize()


def _store_args(store) -> str:
    from hmr_bench.store import default_url, redact_url

    return "" if store.url_redacted == redact_url(default_url()) else f" --store {store.url_redacted}"


def _page_order(names) -> list[str]:
    """Pages in the tables' and figures' declared order (`View.order`, `Figure.order`; then by name), then the
    report's own pages (`REPORT_PAGES`)."""
    tables, figs = set(table_names()), declared_figures()

    def key(n):
        if n in REPORT_PAGES:
            return (2, REPORT_PAGES.index(n), n)
        order = figs[n][1].order if n in figs else load_table(n).view.order if n in tables else 1000
        return (1, order, n)

    return sorted(names, key=key)


def _prov(sec: collect.Section) -> dict:
    rows = provenance.run_rows(sec.runs)
    for r in rows:
        r["command"] = collect.run_command(sec.table.name, sec.profile, [r["seed"]], [r["variant"]], sec.set_args)
    return {"summary": provenance.summary(sec.runs, sec.seeds), "runs": rows}


def _config_value(run: dict, dotted: str):
    """A value of a run's stored config by dotted key, or None when the config does not hold it."""
    return get_path(run.get("config"), dotted)


def _profile_value(profile: str, dotted: str, default):
    """A value of the profile's base config (the default for a profile that is not one of PROFILES)."""
    from hmr_bench.profiles import PROFILES, profile_config

    return get_path(profile_config(profile), dotted) if profile in PROFILES else default


def _x_value(row, sec: collect.Section, key: str):
    """The x-axis value (config key `key`) of a table row: from its finished runs' config, else its overrides,
    else the profile's base config."""
    for r in sec.finished:
        if r["variant"] == row.name and _config_value(r, key) is not None:
            return _config_value(r, key)
    if key in row.overrides:
        return row.overrides[key]
    return _profile_value(sec.profile, key, None)


def _x_parts(page: PageSection, fps: pd.DataFrame | None, name: str) -> None:
    """A table with an x axis (`View.x`): accuracy against x; with the "fps" column, FPS columns from Table 4's
    speed records (`speed.table4_fps`, against M; None: none) and an FPS plot."""
    sec, view = page.sec, page.sec.table.view
    rows = {r.name: r for r in sec.table.rows}
    x_of = {rr.name: _x_value(rows[rr.name], sec, view.x) for rr in sec.result.rows}
    # a shared-backbone row (one pass over the union image) is another model at the same M: not on the M line,
    # and neither the paper's FPS nor the separate-crops FPS records are its speed
    shared = {r.name for r in sec.table.rows if r.overrides.get("model.shared_backbone")}
    values = sec.result.values.assign(x=lambda d: d["variant"].map(x_of), shared=lambda d: d["variant"].isin(shared))
    paper = pd.DataFrame([(x_of[rr.name], m, v) for rr in sec.result.rows for m, v in rr.paper.items()
                          if m in sec.table.metrics], columns=["x", "metric", "paper"])
    page.rois = figures.rois_plot(values, paper, sec.table.metrics, view.x_label or view.x, f"{name}-rois")
    if "fps" not in view.columns:
        return
    paper_fps = {x_of[r.name]: r.paper["fps"] for r in sec.table.rows
                 if "fps" in r.paper and r.name in x_of and r.name not in shared}
    backbones = Counter(b for b in (_config_value(r, "model.backbone") for r in sec.finished) if b)
    backbone = backbones.most_common(1)[0][0] if backbones else _profile_value(sec.profile, "model.backbone", "?")
    match = [] if fps is None else list(dict.fromkeys(fps.loc[fps["backbone"] == backbone, "series"]))[:3]
    rate = {} if fps is None else fps.set_index(["series", "num_rois"])["samples_per_s"].to_dict()
    heads = ["FPS paper"] + ([f"FPS {s}" for s in match] or ["FPS measured"])
    cells = {}
    if fps is None:
        page.fps_note = speed.NOT_MEASURED
    elif not match:
        page.fps_note = (f"no benchmark record for this profile's backbone {backbone} (records: "
                         + ", ".join(sorted(set(fps["backbone"]))) + ")")
    for rr in sec.result.rows:
        m = x_of[rr.name]
        if rr.name in shared:
            cells[rr.name] = [Cell("fps-paper", None, "", paper=True)] + [
                Cell("fps", None, "shared mode: see the speed page") for _ in (match or [None])]
            continue
        row_cells = [Cell("fps-paper", paper_fps.get(m), views.num(paper_fps.get(m)), paper=True)]
        if match:
            row_cells += [Cell("fps", rate.get((s, m)), views.num(rate.get((s, m))) or "not measured") for s in match]
        else:
            row_cells.append(Cell("fps", None, "not measured"))
        cells[rr.name] = row_cells
    page.extra = Extra(heads, cells)
    page.fps = figures.fps_plot(fps, paper_fps, f"{name}-fps")


def _forest(sec: collect.Section, name: str) -> str | None:
    """The forest plot of a section: per-seed paired differences with each cell's verdict, the paper's."""
    res = sec.result
    ref = next((rr for rr in res.rows if rr.name == res.table.reference), None)
    paper = pd.DataFrame([(rr.name, m, rr.paper[m] - ref.paper[m]) for rr in res.rows if ref and rr is not ref
                          for m in res.table.metrics if m in rr.paper and m in ref.paper],
                         columns=["variant", "metric", "paper"])
    shown = [rr.name for rr in res.rows if rr is not ref and (rr.diff or rr.name in set(paper["variant"]))]
    rank = {m: i for i, m in enumerate(res.table.metrics)}
    diffs = views.diffs(res)
    diffs = diffs[diffs["metric"].isin(rank)].sort_values("metric", key=lambda c: c.map(rank), kind="stable")
    verdict = [(sec.cells[k].verdict if k in sec.cells else "") for k in zip(diffs["variant"], diffs["metric"])]
    paper = paper[paper["metric"].isin(diffs["metric"])]
    return figures.forest_plot(diffs.assign(verdict=verdict), paper, shown, res.table.reference, name)


def _breakdown_plots(bd: views.Breakdown, name: str) -> dict:
    out = {}
    for kind, key in (("action", "actions"), ("joint", "joints")):
        v = bd.values[bd.values["kind"] == kind]
        if len(v):
            out[key] = figures.bars(v, "name", "value", "row", "MPJPE (mm)", f"{name}-{key}")
    return out


class ReportBuilder:
    """Builds pages into `out` from `store`; see `build_reports`."""

    def __init__(self, store, out: str | Path = "reports", *, profiles: list[str] | None = None,
                 bench_dir: str | Path | None = None, data_root: str | Path | None = None, gallery: bool = True,
                 sweep_storage: str | Path | None = None):
        self.store, self.out = store, Path(out)
        self.profiles, self.data_root, self.gallery = profiles, data_root, gallery
        self.bench_dir, self.sweep_storage = bench_dir, sweep_storage
        self._speed: speed.Speed | None = None
        self._sweeps: sweeps.Sweeps | None = None
        self.env = _env()
        self.builder = provenance.builder()
        self.written: list[Path] = []
        self._sections: dict[str, list[collect.Section]] = {}
        self._breakdowns: dict[tuple[str, str], views.Breakdown] = {}

    # ------------------------------------------------------------------------------------ data
    def sections(self, name: str) -> list[collect.Section]:
        if name not in self._sections:
            self._sections[name] = collect.collect_table(self.store, load_table(name), self.profiles)
        return self._sections[name]

    @functools.cached_property
    def fps(self) -> pd.DataFrame | None:
        """Table 4's FPS records of the speed records (`speed.table4_fps`; None without any), computed once."""
        return speed.table4_fps(self.speed.frame)

    @property
    def speed(self) -> speed.Speed:
        if self._speed is None:
            self._speed = speed.load_speed(self.bench_dir)
        return self._speed

    @property
    def sweeps(self) -> sweeps.Sweeps:
        if self._sweeps is None:
            self._sweeps = sweeps.open_sweeps(self.sweep_storage)
        return self._sweeps

    def breakdown(self, sec: collect.Section) -> views.Breakdown:
        key = (sec.table.name, sec.key)
        if key not in self._breakdowns:
            self._breakdowns[key] = views.breakdown(self.store, sec.result.runs, sec.protocol)
        return self._breakdowns[key]

    def page_section(self, sec: collect.Section) -> PageSection:
        from hmr_bench.report.gallery import build_gallery

        name = f"{sec.table.name}-{sec.key}"
        page = PageSection(sec, _prov(sec), forest=_forest(sec, f"{name}-forest"))
        page.bd = self.breakdown(sec)
        page.bd_plots = _breakdown_plots(page.bd, name)
        if sec.table.curves:
            points, page.curve_data = views.curves(self.store, sec.result.runs)
            page.curves = figures.curve_plot(points, views.CURVE_METRICS, f"{name}-curves")
        if sec.table.view.x:
            _x_parts(page, self.fps if "fps" in sec.table.view.columns else None, name)
        if self.gallery:
            page.gallery = build_gallery(self.store, sec, self.data_root)
        return page

    # ------------------------------------------------------------------------------------ output
    def _write(self, name: str, text: str) -> Path:
        path = self.out / name
        atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))
        self.written.append(path)
        return path

    def _nav(self, extra: list[str], here: str = "") -> list[dict]:
        """The pages being built (`extra`) and those already in the folder, in page order (`_page_order`); then
        "Sweeps" (the index's sweep cards) when sweep pages are built or present."""
        built = {p.stem for p in self.out.glob("*.html") if p.stem != "index"}
        sweep_pages = "sweeps" in extra or any(n.startswith("sweep-") for n in built)
        names = (set(extra) | built) - {"sweeps"} - {n for n in built if n.startswith("sweep-")}
        nav = [{"href": f"{n}.html", "label": page_label(n), "active": f"{n}.html" == here}
               for n in _page_order(names)]
        if sweep_pages:
            nav.append({"href": "index.html#sweeps", "label": "Sweeps", "active": here.startswith("sweep-")})
        return nav

    def _common(self, here: str, pages: list[str]) -> dict:
        from hmr_bench.experiment.table_results import IDENTICAL_NOTE, LEARNED_RATIO, RESOLUTION_MM
        from hmr_bench.profiles import PROFILE_CARDS

        cards = {p: os.path.relpath(card, self.out.resolve()) for p, card in PROFILE_CARDS.items() if card.exists()}
        return {"builder": self.builder, "store": self.store.describe(), "nav": self._nav(pages, here), "here": here,
                "store_args": _store_args(self.store), "profile_cards": cards, "learned_ratio": LEARNED_RATIO,
                "resolution_mm": RESOLUTION_MM, "identical_note": IDENTICAL_NOTE}

    def table_page(self, name: str, pages: list[str]) -> None:
        table = load_table(name)
        parts = [self.page_section(s) for s in self.sections(name)]
        html = self.env.get_template("table.html.j2").render(
            title=table.title, table=table, pages=parts, synth_note=SYNTH_NOTE, **self._common(f"{name}.html", pages))
        self._write(f"{name}.html", html)
        self._write(f"{name}.csv", views.to_csv(pd.concat([p.sec.records() for p in parts], ignore_index=True)))
        md = [f"# {table.title}", "", f"Paper setting: {table.paper_setting}", ""]
        md += [p.sec.markdown() for p in parts]
        self._write(f"{name}.md", "\n".join(md))
        self._extra_csv(name, parts)

    def _extra_csv(self, name: str, parts: list[PageSection]) -> None:
        """`<name>_breakdown.csv`, `_curves.csv` (Fig. 8) and `_fps.csv` (the benchmark records beside the FPS
        columns), each written when it has rows."""
        def framed(p: PageSection, frame: pd.DataFrame) -> pd.DataFrame:
            return frame.assign(table=name, profile=p.sec.profile, protocol=p.sec.protocol)

        bd = [framed(p, p.bd.values.rename(columns={"value": "mpjpe"})) for p in parts if p.bd and not p.bd.empty]
        if bd:
            self._write(f"{name}_breakdown.csv", views.to_csv(pd.concat(bd)[
                ["table", "profile", "protocol", "row", "kind", "name", "mpjpe"]]))
        cv = [framed(p, p.curve_data) for p in parts if p.curve_data is not None and len(p.curve_data)]
        if cv:
            self._write(f"{name}_curves.csv", views.to_csv(pd.concat(cv)[
                ["table", "profile", "protocol", "row", "metric", "epoch", "mean", "low", "high", "n"]]))
        if any(p.extra for p in parts) and self.fps is not None:
            self._write(f"{name}_fps.csv", views.to_csv(self.fps.drop(columns="series")))

    def figure_page(self, name: str, pages: list[str]) -> None:
        """The page of a figure a table declares (`View.figures`), drawn from that table's runs: per section the
        per-action and per-joint breakdown of every row (kind "breakdown")."""
        table_name, fig = declared_figures()[name]
        parts = []
        for sec in self.sections(table_name):
            bd = self.breakdown(sec)
            parts.append({"sec": sec, "bd": bd, "plots": _breakdown_plots(bd, f"{name}-{sec.key}"),
                          "prov": _prov(sec)})
        html = self.env.get_template("fig7.html.j2").render(title=fig.title, table=load_table(table_name),
                                                            parts=parts, **self._common(f"{name}.html", pages))
        self._write(f"{name}.html", html)

    def speed_page(self, pages: list[str]) -> None:
        """speed.html: inference against M, the training step and its breakdown, the data path, params and MACs,
        the targets; every section says "not measured" with its command when its file is missing."""
        sp = self.speed
        html = self.env.get_template("speed.html.j2").render(
            title="Speed", speed=sp, inference_plot=figures.speed_plot(pd.DataFrame(sp.inference), "speed-inference"),
            breakdown_plot=figures.bars(sp.breakdown, "part", "ms", "step", "ms per step", "speed-breakdown"),
            not_measured=speed.NOT_MEASURED, targets_not_measured=speed.TARGETS_NOT_MEASURED, folder=str(sp.folder),
            **self._common("speed.html", pages))
        self._write("speed.html", html)

    def sweep_pages(self, pages: list[str]) -> None:
        """sweep-<study>.html for every study of the sweep storage (none without a study)."""
        sw = self.sweeps
        store_args = _store_args(self.store)
        for name in sw.names:
            log.info("report: sweep %s", name)
            view = sweeps.sweep_view(sw, name, self.store, store_args)
            here = sweeps.page_name(name)
            html = self.env.get_template("sweep.html.j2").render(
                title=f"Sweep {name}", v=view, storage=sw.shown, sweep_report_args=sw.report_args,
                **self._common(here, pages))
            self._write(here, html)

    def index(self, pages: list[str]) -> None:
        """index.html: a card per table, the speed card and the sweep cards. Each section reads its own source; an
        InputError there (a malformed benchmark or targets file, a sweep storage that cannot be opened, ...) is
        shown in that section's card instead of failing the whole report."""
        cards = []
        for name in _page_order(table_names()):
            table = load_table(name)
            lines, error = [], None
            try:
                for s in self.sections(name):
                    expected = len(s.result.rows) * len(s.seeds)
                    done = sum(len(set().union(*(v.keys() for v in rr.seeds.values()))) if rr.seeds else 0
                               for rr in s.result.rows)
                    lines.append({"sec": s, "done": done, "expected": expected, "verdicts": s.verdict_counts()})
            except InputError as e:
                log.warning("report index: %s", e)
                lines, error = [], str(e)
            cards.append({"name": name, "table": table, "lines": lines, "error": error,
                          "href": f"{name}.html" if (self.out / f"{name}.html").exists() else None})
        sp, speed_error = _or_error(lambda: self.speed)
        sw, sweep_error = _or_error(lambda: self.sweeps)
        sweep_cards = []
        for n in sw.names if sw is not None else []:
            card, err = _or_error(lambda n=n: sweeps.study_card(sw, n))
            card = {**card, "error": None} if card is not None else {"name": n, "href": sweeps.page_name(n),
                                                                     "error": err}
            card["href"] = card["href"] if (self.out / card["href"]).exists() else None
            sweep_cards.append(card)
        html = self.env.get_template("index.html.j2").render(
            title="Does the paper hold here?", cards=cards, figure_cards=[
                {"name": n, "title": f.title, "source": page_label(t)} for n, (t, f) in declared_figures().items()
                if (self.out / f"{n}.html").exists()],
            verdict_rule=VERDICT_RULE, speed=sp, speed_error=speed_error,
            speed_href=(self.out / "speed.html").exists(), not_measured=speed.NOT_MEASURED, sweeps=sw,
            sweep_error=sweep_error, sweep_shown=sw.shown if sw is not None else _sweep_shown(self.sweep_storage),
            sweep_cards=sweep_cards, sweep_how_to=sweeps.how_to(sw, _store_args(self.store)) if sw is not None
            else "", **self._common("index.html", pages))
        self._write("index.html", html)


def _or_error(fn):
    """(fn(), None), or (None, the message) when fn raises InputError (logged as a warning)."""
    try:
        return fn(), None
    except InputError as e:
        log.warning("report index: %s", e)
        return None, str(e)


def _sweep_shown(url) -> str:
    """The sweep storage as shown on the page (password hidden), for a card whose storage could not be opened."""
    from hmr_bench.store.redact import redact_url
    from hmr_bench.sweep.study import default_storage_url

    return redact_url(default_storage_url() if url is None else str(url))


def build_reports(store, out: str | Path = "reports", tables: list[str] | None = None, *,
                  profiles: list[str] | None = None, bench_dir: str | Path | None = None,
                  data_root: str | Path | None = None, gallery: bool = True,
                  sweep_storage: str | Path | None = None) -> list[Path]:
    """Writes `<table>.html`, `.csv`, `.md` (plus `_breakdown.csv`, and `_fps.csv` for Table 4 with benchmark
    records) for each of `tables` (default: every table in ablations/, the figure pages the tables declare, e.g.
    `fig7.html` from Table 1, `speed.html` and `sweep-<study>.html` for every sweep study: the names of the
    figures, "speed" and "sweeps"), then `index.html`
    summarising every table, the speed results and the sweeps; returns the written paths.

    profiles: only these profiles (default: every profile with runs); bench_dir: folder of the speed records
    (speed_<run>.jsonl, `bench.results`; default <repo>/.benchmarks); data_root: real-data folder for the gallery;
    gallery: render the qualitative gallery (loads checkpoints; off for a quick build);
    sweep_storage: optuna storage of the sweeps, URL or SQLite path (default <cache>/sweeps.sqlite; a missing
    SQLite file holds no study and is not created; an existing one is read without writing to it). Unknown table
    names raise InputError listing the tables.
    """
    other = list(declared_figures()) + list(REPORT_PAGES)
    names = list(table_names()) + other
    wanted = names if tables is None else list(dict.fromkeys(tables))
    for t in wanted:
        if t not in other:
            load_table(t)  # an unknown name raises InputError listing the tables
    if profiles:
        from hmr_bench.profiles import PROFILES

        known = set(PROFILES) | {r["profile"] for r in store.runs()}
        bad = [p for p in profiles if p not in known]
        if bad:
            raise InputError("hmr-bench report", "--profiles", found=", ".join(bad),
                             expected="profiles of hmr-bench or of the store's runs: " + ", ".join(sorted(known)))
    b = ReportBuilder(store, out, profiles=profiles, bench_dir=bench_dir, data_root=data_root, gallery=gallery,
                      sweep_storage=sweep_storage)
    b.out.mkdir(parents=True, exist_ok=True)
    failed: dict[str, str] = {}
    for name in _page_order(wanted):
        log.info("report: %s", name)
        try:  # a bad benchmark or sweep file spoils its own page only; every other page and the index are built
            if name in declared_figures():
                b.figure_page(name, wanted)
            elif name == "speed":
                b.speed_page(wanted)
            elif name == "sweeps":
                b.sweep_pages(wanted)
            else:
                b.table_page(name, wanted)
        except InputError as e:
            failed[name] = str(e)
            log.error("report: page %s not built: %s", name, e)
    b.index(wanted)
    if failed:
        raise InputError("hmr-bench report", "pages", found="; ".join(f"{k}: {v}" for k, v in failed.items()),
                         expected=f"every page built (the others and the index were written to {b.out})")
    return b.written
