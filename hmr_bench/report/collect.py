"""What a report page shows, read from the results store: one `Section` per (table, profile, test protocol).

A section wraps `experiment.table_results.table_result` (per-row mean ± 95 % CI over seeds, paired differences to
the reference row, claim verdicts; the breakdowns, curves and exports are views there too: every pivot of the
results frames lives in that one module) and adds what a page needs beside it: the verdict of every cell whose
effect the paper's numbers imply, the seeds each row is missing and the command that runs them.
"""

from __future__ import annotations

import json
import logging
import shlex
from collections import Counter
from dataclasses import dataclass, field

from hmr_bench.errors import HmrBenchError
from hmr_bench.eval.stats import Assessment, Claim, assess
from hmr_bench.experiment import table_results as views
from hmr_bench.experiment.table_results import TableResult, table_result
from hmr_bench.tables import Table

log = logging.getLogger(__name__)

PROFILE_ORDER = ("paper", "cpu", "smoke")  # pages show the most faithful profile first
DEFAULT_PROFILE = "cpu"  # the section shown for a table nothing has been run for
_SKIP_IN_SET = {"train.seed", "profile"}  # given by --seeds / --profile, not by --set


@dataclass
class Section:
    """One (table, profile, protocol) of a report page.

    result: `table_result` of it; runs: every run row of the table in this profile (any status, oldest first);
    seeds: the seeds every row should have (those any row of the profile ran, else the profile's defaults);
    cells: (row, metric) → `Assessment` of the effect on that cell (a declared claim, else the one the paper's
    numbers imply); missing: row → seeds without a finished run; commands: row → command running those seeds;
    set_args: the `--set` / `--store` arguments the runs were made with (part of every command).
    """

    table: Table
    profile: str
    protocol: str
    result: TableResult
    runs: list[dict]
    seeds: tuple[int, ...]
    cells: dict[tuple[str, str], Assessment] = field(default_factory=dict)
    missing: dict[str, tuple[int, ...]] = field(default_factory=dict)
    commands: dict[str, str] = field(default_factory=dict)
    set_args: str = ""

    @property
    def key(self) -> str:
        """A short id for anchors and file names: 'cpu-synth-test'."""
        return f"{self.profile}-{self.protocol}"

    @property
    def finished(self) -> list[dict]:
        return [r for r in self.runs if r["status"] == "finished"]

    @property
    def has_results(self) -> bool:
        return any(rr.mean for rr in self.result.rows)

    @property
    def paper_metrics(self) -> tuple[str, ...]:
        """The table's metrics for which the paper gives a number on some row (others get no paper column)."""
        return tuple(m for m in self.table.metrics if any(m in r.paper for r in self.table.rows))

    def table_command(self) -> str:
        """The command that runs every row × seed of the table in this profile."""
        return run_command(self.table.name, self.profile, self.seeds, None, self.set_args)

    def nox_command(self) -> str | None:
        """`nox -s <the table's declared session> -- --profile P [--set ...]`, or None without a session."""
        session = self.table.view.session
        if session is None:
            return None
        return f"nox -s {session} -- --profile {self.profile}" + (f" {self.set_args}" if self.set_args else "")

    def verdict_counts(self) -> Counter:
        return Counter(a.verdict if a else "not run" for _, a in self.result.claims)

    @property
    def status(self) -> dict[str, str]:
        """row → `row_status`."""
        return {rr.name: row_status(self, rr.name) for rr in self.result.rows}

    def records(self):
        """The section as one frame row per (row, metric) (`table_results.records`): the CSV's rows."""
        return views.records(self.result, self.cells, self.status, self.commands)

    def markdown(self) -> str:
        return views.markdown(self.result, self.cells, self.status, self.commands, self.seeds, self.table_command())


def row_status(sec: Section, name: str) -> str:
    """'ok' | 'missing seeds 1, 2' | 'not run'."""
    miss = sec.missing.get(name)
    if not miss:
        return "ok"
    if len(miss) == len(sec.seeds):
        return "not run"
    return "missing seeds " + ", ".join(str(s) for s in miss)


def run_command(table: str, profile: str, seeds, variants: list[str] | None, set_args: str = "") -> str:
    """`hmr-bench run TABLE --profile P [--variants a,b] [--seeds 0,1] [--set ...]`."""
    cmd = f"hmr-bench run {table} --profile {profile}"
    if variants:
        cmd += " --variants " + ",".join(variants)
    if seeds:
        cmd += " --seeds " + ",".join(str(s) for s in seeds)
    return cmd + (f" {set_args}" if set_args else "")


def profiles_of(store, table: str) -> list[str]:
    """Profiles with at least one run of `table`, most faithful first."""
    names = {r["profile"] for r in store.runs(table=table)}
    return sorted(names, key=lambda p: (PROFILE_ORDER.index(p) if p in PROFILE_ORDER else len(PROFILE_ORDER), p))


def collect_table(store, table: Table, profiles: list[str] | None = None) -> list[Section]:
    """Every section of `table`: one per profile (given, or every profile with runs) and test protocol. A table
    with no runs gets one empty section (profile `profiles[0]` or `DEFAULT_PROFILE`, protocol 'synth-test')."""
    runs = store.runs(table=table.name)
    present = profiles_of(store, table.name)
    wanted = [p for p in present if profiles is None or p in profiles]
    if not wanted:
        wanted = [profiles[0] if profiles else DEFAULT_PROFILE]
    test_rows = store.metrics(split="test", table=table.name)
    sections = []
    for profile in wanted:
        prof_runs = [r for r in runs if r["profile"] == profile]
        protocols = sorted({m["dataset"] for m in test_rows if m["profile"] == profile}) or [None]
        for protocol in protocols:
            sections.append(collect_section(store, table, profile, protocol, prof_runs))
    return sections


def collect_section(store, table: Table, profile: str, protocol: str | None, runs: list[dict]) -> Section:
    res = table_result(store, table, profile, protocol)
    ran = sorted({r["seed"] for r in runs if r["status"] == "finished"})
    seeds = tuple(ran) if ran else _default_seeds(profile)
    sec = Section(table, profile, res.protocol, res, runs, seeds, set_args=_set_args(store, table, profile, runs))
    sec.cells = cell_assessments(res)
    for rr in res.rows:
        have = set().union(*(s.keys() for s in rr.seeds.values())) if rr.seeds else set()
        miss = tuple(s for s in seeds if s not in have)
        if miss:
            sec.missing[rr.name] = miss
            sec.commands[rr.name] = run_command(table.name, profile, miss, [rr.name], sec.set_args)
    return sec


def _default_seeds(profile: str) -> tuple[int, ...]:
    from hmr_bench.profiles import DEFAULT_SEEDS

    return tuple(DEFAULT_SEEDS.get(profile, (0,)))


def implied_claims(table: Table) -> list[Claim]:
    """The effect each row's paper numbers show against the reference row's, as claims: one per (row, metric)
    where both numbers exist and differ (direction = the sign of the difference, paper_effect = the difference).
    """
    ref = next(r for r in table.rows if r.name == table.reference)
    out = []
    for row in table.rows:
        if row.name == table.reference:
            continue
        for m in table.metrics:
            a, b = row.paper.get(m), ref.paper.get(m)
            if a is None or b is None or a == b:
                continue
            eff = round(a - b, 6)
            out.append(Claim(f"{row.name}-{m}", f"{row.label}: {m} {eff:+.1f} mm vs {ref.label} (paper table)",
                             table.name, m, row.name, table.reference, 1 if eff > 0 else -1, eff))
    return out


def cell_assessments(res: TableResult) -> dict[tuple[str, str], Assessment]:
    """(row, metric) → Assessment of the difference cell: the paper's numbers' implied effect, replaced by a
    declared claim on the same cell. Cells without a measured difference are left out."""
    rows = {rr.name: rr for rr in res.rows}
    out = {}
    declared = [(c, a) for c, a in res.claims]
    for c in implied_claims(res.table):
        ci = rows[c.row].diff.get(c.metric) if c.row in rows else None
        if ci is not None:
            out[(c.row, c.metric)] = assess(c, ci)
    for c, a in declared:
        if a is not None and c.reference_row == res.table.reference:
            out[(c.row, c.metric)] = a
    return out


# ------------------------------------------------------------------------------------------- commands

def _set_value(v) -> str:
    from hmr_bench.config import parse_value

    if isinstance(v, str) and parse_value(v) == v:
        return v
    return json.dumps(v)


def run_overrides(table: Table, profile: str, run: dict) -> dict:
    """The `--set` overrides that turn the table's job config of `run`'s row and seed into the run's config:
    {dotted key: value}. Raises HmrBenchError when the job cannot be rebuilt (an unknown profile or row)."""
    from hmr_bench.config import flatten
    from hmr_bench.experiment.jobs import table_jobs

    job = table_jobs(table, profile, seeds=[run["seed"]], variants=[run["variant"]])[0]
    want, have = flatten(job.cfg.to_dict()), flatten(run["config"])
    return {k: v for k, v in have.items() if k not in _SKIP_IN_SET and want.get(k, object()) != v}


def _set_args(store, table: Table, profile: str, runs: list[dict]) -> str:
    """The `--set k=v` (and `--store URL` when not the default store) arguments common to most runs."""
    from hmr_bench.store import default_url, redact_url

    counts: Counter = Counter()
    for r in runs:
        try:
            counts[tuple(sorted((k, json.dumps(v)) for k, v in run_overrides(table, profile, r).items()))] += 1
        except HmrBenchError as e:
            log.debug("cannot rebuild the job of run %s: %s", r["run_id"], e)
    args = []
    if counts:
        for k, v in counts.most_common(1)[0][0]:
            args.append(shlex.quote(f"{k}={_set_value(json.loads(v))}"))
        args = [a for pair in zip(["--set"] * len(args), args) for a in pair]
    if store.url_redacted != redact_url(default_url()):
        args += ["--store", shlex.quote(store.url_redacted)]
    return " ".join(args)
