"""Paper tables as data: each file in `ablations/` declares one table as rows of small config overrides.

    TABLE = Table(name="table2", rows=(Row("no-cam", "RAF ✓, L_cam ✗, L_cont ✓", {"loss.weights.cam": 0.0},
                                          paper={"mpjpe": 83.1, "pa_mpjpe": 52.0}), ...), claims=(...))

A row's overrides apply on top of the profile's base config; `reference` names the row every other row is
compared with (paired over the same seeds). A table's `view` declares what its report page shows and how it is
run (page order, x axis, extra columns and figures, nox session): the report and the noxfile read it and name no
table. Tables are loaded from `<repo>/ablations/<name>.py`, or from the folder `$HMR_BENCH_ABLATIONS`.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hmr_bench.errors import InputError
from hmr_bench.eval.stats import Claim
from hmr_bench.paths import REPO_DIR


@dataclass(frozen=True)
class Row:
    name: str
    label: str  # how the paper's table shows the row
    overrides: dict[str, Any] = field(default_factory=dict)
    paper: dict[str, float] = field(default_factory=dict)  # the paper's numbers (mm) for this row, if any
    profiles: tuple[str, ...] | None = None  # None: every profile; else only these (e.g. HRNet: paper only)


COLUMNS = {"fps": "inference speed against the x axis (the benchmark records'), beside the paper's FPS"}
FIGURE_KINDS = {"breakdown": "per action and per joint, every row side by side (the page of the paper's Fig. 7)"}


@dataclass(frozen=True)
class Figure:
    """A page of its own drawn from a table's runs, e.g. Fig. 7 (per action and per joint) from Table 1's.

    name: the page (`<name>.html`); kind: what it draws (one of `FIGURE_KINDS`); order: its place among the pages.
    """

    name: str
    title: str
    order: int
    kind: str = "breakdown"


@dataclass(frozen=True)
class View:
    """What a table's report page shows beside its results, and how the table is run.

    order: the page's place in the report (navigation and index; then by name); session: the nox session that
    runs the table and its report (`nox -s <session>`; the noxfile reads it from here with `ast`, so give it as
    a literal), None for none; x: the config key the rows vary along (Table 4: "data.num_rois"), drawn as
    accuracy against it, x_label its axis's name; columns: extra columns of the results table (`COLUMNS`);
    figures: pages of their own drawn from the table's runs.
    """

    order: int = 100
    session: str | None = None
    x: str | None = None
    x_label: str = ""
    columns: tuple[str, ...] = ()
    figures: tuple[Figure, ...] = ()


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    rows: tuple[Row, ...]
    reference: str
    metrics: tuple[str, ...] = ("mpjpe", "pa_mpjpe")
    paper_setting: str = ""
    claims: tuple[Claim, ...] = ()
    curves: bool = False  # record per-epoch validation curves for the report (Fig. 8)
    view: View = View()

    def __post_init__(self):
        names = [r.name for r in self.rows]
        if len(set(names)) != len(names):
            raise InputError(f"table {self.name}", "rows", found=names, expected="unique row names")
        for c in self.claims:
            if c.table != self.name:
                raise InputError(f"table {self.name}", f"claim {c.id}", found=f"table {c.table!r}",
                                 expected=repr(self.name))
        for ref in [self.reference] + [c.row for c in self.claims] + [c.reference_row for c in self.claims]:
            if ref not in names:
                raise InputError(f"table {self.name}", "reference", found=ref, expected="one of " + ", ".join(names))
        for c in self.view.columns:
            if c not in COLUMNS:
                raise InputError(f"table {self.name}", "view.columns", found=repr(c),
                                 expected="one of " + ", ".join(COLUMNS))
        if self.view.columns and self.view.x != "data.num_rois":  # speed records are indexed by M only
            raise InputError(f"table {self.name}", "view.x", found=repr(self.view.x), expected="'data.num_rois': "
                             f"the columns {', '.join(self.view.columns)} are speed records against the number of "
                             "RoIs M")
        for f in self.view.figures:
            if f.kind not in FIGURE_KINDS:
                raise InputError(f"table {self.name}", f"view.figures[{f.name!r}].kind", found=repr(f.kind),
                                 expected="one of " + ", ".join(FIGURE_KINDS))

    def row(self, name: str) -> Row:
        for r in self.rows:
            if r.name == name:
                return r
        near = difflib.get_close_matches(name, [r.name for r in self.rows], n=1)
        raise InputError(f"table {self.name}", "row", found=repr(name),
                         expected="one of " + ", ".join(r.name for r in self.rows),
                         hint=f"did you mean '{near[0]}'?" if near else None)

    def rows_for(self, profile: str) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.profiles is None or profile in r.profiles)


def tables_dir() -> Path:
    return Path(os.environ.get("HMR_BENCH_ABLATIONS") or REPO_DIR / "ablations")


def table_names() -> list[str]:
    return sorted(p.stem for p in tables_dir().glob("*.py") if not p.stem.startswith("_"))


def load_table(name: str) -> Table:
    path = tables_dir() / f"{name}.py"
    if not path.exists():
        names = table_names()
        near = difflib.get_close_matches(name, names, n=1)
        raise InputError(tables_dir(), "table", found=repr(name), expected="one of " + ", ".join(names),
                         hint=f"did you mean '{near[0]}'?" if near else None)
    stat = path.stat()
    return _load_table_file(path.resolve(), name, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _load_table_file(path: Path, name: str, mtime_ns: int, size: int) -> Table:
    """The TABLE of a declaration file, run once per version of the file (the report asks for every table's
    declared views on every page; a changed file — new mtime or size — is run again)."""
    table = getattr(_exec_file(path, f"hmr_bench_ablations_{name}"), "TABLE", None)
    if not isinstance(table, Table):
        raise InputError(path, "TABLE", found=type(table).__name__, expected="a hmr_bench.tables.Table")
    return table


def load_baseline(name: str) -> dict[str, Any]:
    """Config overrides of a baseline declared in `<repo>/baselines/<name>.py` (its `OVERRIDES`)."""
    path = REPO_DIR / "baselines" / f"{name}.py"
    if not path.exists():
        raise InputError(path.parent, "baseline", found=repr(name), expected="hmr or cliff")
    return dict(_exec_file(path, f"hmr_bench_baselines_{name}").OVERRIDES)


def _exec_file(path: Path, module_name: str):
    """Runs a declaration file (ablations/, baselines/) as a module and returns it."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
