"""The results store as long-format pandas DataFrames: every table, statistic, breakdown, curve and export of the
report is a pivot / groupby of these frames (`experiment.table_results`). Read through the store's public methods
only (`runs`, `metrics`, `samples`), so any `ResultsStore` serves.

    runs(store, table="table2")              one row per run: run_id, table, variant, seed, profile, status, ...
    metrics(store, run_ids, split="test")    one row per run × split × dataset × metric: value
    samples(store, run_ids, "test", "mpjpe") per run × sample: action, value; and per run × sample × joint
    curves(store, run_ids, ("mpjpe",))       one row per run × dataset × metric × epoch: step, value

Rows keep the store's order (runs oldest first; each run's rows in the order the store gives them), so a
reduction over a group sees its values in the same order as a loop over the store would.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RUN_COLUMNS = ("run_id", "table", "variant", "seed", "profile", "status", "config_hash", "dataset_key", "alias_of",
               "message", "created_at", "finished_at", "wall_time", "config")
METRIC_COLUMNS = ("run_id", "table", "variant", "seed", "profile", "status", "config_hash", "split", "dataset",
                  "metric", "value", "epoch", "step")
SAMPLE_COLUMNS = ("run_id", "split", "dataset", "metric", "sample_index", "action", "value")
JOINT_COLUMNS = ("run_id", "split", "dataset", "metric", "sample_index", "joint", "value")
CURVE_COLUMNS = ("run_id", "split", "dataset", "metric", "epoch", "step", "value")


def runs(store, table: str | None = None, status: str | None = None) -> pd.DataFrame:
    """One row per run, oldest first, columns `RUN_COLUMNS` (config: the stored config dict; alias_of: "" unless
    the row is a run recorded for `table` by an alias, see `ResultsStore.runs`)."""
    rows = [{**r, "alias_of": r.get("alias_of", "")} for r in store.runs(table=table, status=status)]
    return pd.DataFrame(rows, columns=list(RUN_COLUMNS))


def metrics(store, run_ids=None, split: str | None = None, *, final_only: bool = True, table: str | None = None,
            status: str | None = "finished", dataset: str | None = None) -> pd.DataFrame:
    """One row per run × split × dataset × metric (× epoch with final_only=False), columns `METRIC_COLUMNS`; a
    value logged again replaces the earlier one (`ResultsStore.metrics`, whose filters these are). value: float
    (NaN stays NaN); epoch: float, NaN for a final value."""
    ids = None if run_ids is None else list(dict.fromkeys(run_ids))
    rows = store.metrics(ids, split=split, final_only=final_only, table=table, status=status, dataset=dataset)
    df = pd.DataFrame(rows, columns=[*METRIC_COLUMNS[:9], "name", "value", "epoch", "step"])
    df = df.rename(columns={"name": "metric"})
    return df.astype({"value": np.float64, "epoch": np.float64})


def samples(store, run_ids, split: str, metric: str, dataset: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-sample errors of `metric`, read once per run (runs in the given order, samples by index; `dataset` is
    needed for a run that logged several): (per_sample, per_joint).

    per_sample: one row per run × sample, columns `SAMPLE_COLUMNS` (action "" where none was logged);
    per_joint: the per-joint errors in long form, one row per run × sample × joint, columns `JOINT_COLUMNS`
    (joint: 0-based index; value: float64 of the stored float32, NaN where a sample has none; runs without
    per-joint values have no rows)."""
    per_sample, per_joint = [], []
    for run_id in dict.fromkeys(run_ids):
        s = store.samples(run_id, split, metric, dataset=dataset)
        if not len(s["index"]):
            continue
        per_sample.append(pd.DataFrame({"run_id": run_id, "split": split, "dataset": dataset, "metric": metric,
                                        "sample_index": s["index"], "action": s["action"].astype(object),
                                        "value": s["value"]}))
        if s["per_joint"] is not None:
            n, j = s["per_joint"].shape
            per_joint.append(pd.DataFrame({"run_id": run_id, "split": split, "dataset": dataset, "metric": metric,
                                           "sample_index": np.repeat(s["index"], j), "joint": np.tile(np.arange(j), n),
                                           "value": s["per_joint"].astype(np.float64).ravel()}))
    return (pd.concat(per_sample, ignore_index=True) if per_sample else pd.DataFrame(columns=list(SAMPLE_COLUMNS)),
            pd.concat(per_joint, ignore_index=True) if per_joint else pd.DataFrame(columns=list(JOINT_COLUMNS)))


def curves(store, run_ids, metrics_: tuple[str, ...] | None = None, split: str = "val") -> pd.DataFrame:
    """Learning curves: one row per run × dataset × metric × epoch (a later log of the same epoch wins), runs in
    the given order, each run's points by metric then epoch; columns `CURVE_COLUMNS` (epoch int, 0-based; step
    NaN where not logged). metrics_: only these metrics (default: all)."""
    ids = list(dict.fromkeys(run_ids))
    df = metrics(store, ids, split=split, final_only=False, status=None)
    df = df[df["epoch"].notna() & (df["metric"].isin(metrics_) if metrics_ is not None else True)]
    df = df.assign(order=df["run_id"].map({r: i for i, r in enumerate(ids)}), epoch=df["epoch"].astype(np.int64))
    df = df.sort_values(["order", "metric", "dataset", "epoch"], kind="stable")
    return df[list(CURVE_COLUMNS)].reset_index(drop=True)
