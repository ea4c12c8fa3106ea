"""The jobs of a paper table: every row × seed as one run config over the profile's base config.

    jobs = table_jobs(load_table("table2"), "cpu", seeds=[0, 1], overrides={"train.epochs": 3}, shard=(0, 2))

``shard=(i, n)`` takes every n-th job so n machines (or `--jobs` workers) can split a table while writing one
store.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from hmr_bench.config import RunConfig, apply_overrides
from hmr_bench.errors import InputError
from hmr_bench.profiles import DEFAULT_SEEDS, profile_config
from hmr_bench.tables import Row, Table


@dataclass
class Job:
    """One run of a table: row `row` of table `table` with training seed `seed`; `cfg` is its whole config."""

    table: str
    row: Row
    seed: int
    cfg: RunConfig


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """`--shard i/n` → (i, n); None when not given; InputError unless 0 ≤ i < n."""
    if not text:
        return None
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        i, n = -1, 0
    if not (n >= 1 and 0 <= i < n):
        raise InputError("--shard", found=repr(text), expected="i/n with 0 <= i < n, e.g. 0/2")
    return i, n


def table_jobs(table: Table, profile: str, seeds=None, overrides: dict | None = None,
               variants: list[str] | None = None, shard: tuple[int, int] | None = None) -> list[Job]:
    """The jobs of a table. The body model is ``--set body_model=...``, else ``$HMR_BENCH_BODY_MODEL``, else the
    free one, validated now (`body.source.resolve_body_source`) and named by its absolute path."""
    from hmr_bench.body.source import resolve_body_source

    base = apply_overrides(profile_config(profile), overrides or {}, source="--set")
    base = dataclasses.replace(base, body_model=resolve_body_source((overrides or {}).get("body_model")))
    rows = table.rows_for(profile)
    if variants:
        rows = tuple(table.row(v) for v in variants)
    seeds = DEFAULT_SEEDS[profile] if seeds is None else tuple(seeds)
    jobs = []
    for row in rows:
        cfg = apply_overrides(base, row.overrides, source=f"{table.name}/{row.name}")
        for seed in seeds:
            jobs.append(Job(table.name, row, seed, apply_overrides(cfg, {"train.seed": seed})))
    if shard:
        i, n = shard
        jobs = jobs[i::n]
    return jobs
