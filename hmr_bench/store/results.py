"""Metrics, learning curves and per-sample errors of the runs in the results store: logged, and read back.

Rows are long format (one per run × split × dataset × metric [× epoch | × sample]); queries return plain
structures (lists of dicts, numpy arrays). NaN is stored as NULL and reads back as NaN.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping

import numpy as np
from sqlalchemy import and_, insert, select
from sqlalchemy.exc import IntegrityError

from hmr_bench.errors import InputError
from hmr_bench.store import schema
from hmr_bench.store.database import Database, as_float, check_split, from_db_float, require_int, require_text


class ResultLog(Database):
    """The metrics and per-sample errors of a `ResultsStore` (the store's methods; see `ResultsStore`)."""

    # ---------------------------------------------------------------- metrics and curves

    def log_metrics(self, run_id: str, split: str, dataset: str, values: Mapping[str, float],
                    epoch: int | None = None, step: int | None = None) -> None:
        """One row per ``name: value``; `epoch` None = final values, an int = a learning-curve point."""
        check_split(split)
        require_text(dataset, "dataset")
        epoch = None if epoch is None else require_int(epoch, "epoch")
        step = None if step is None else require_int(step, "step")
        now = time.time()
        rows = [{"run_id": run_id, "split": split, "dataset": dataset, "name": require_text(k, "metric name"),
                 "value": as_float(v, f"values['{k}']"), "epoch": epoch, "step": step, "logged_at": now}
                for k, v in values.items()]
        if not rows:
            return

        def write(conn):
            self._require_run(conn, run_id)
            conn.execute(insert(schema.metrics), rows)

        self._write(write, "log_metrics")

    def metrics(self, run_ids: Iterable[str] | None = None, split: str | None = None, final_only: bool = True, *,
                table: str | None = None, status: str | None = "finished", dataset: str | None = None) -> list[dict]:
        """Metric rows joined with their run: keys run_id, config_hash, table, variant, seed, profile, status,
        split, dataset, name, value (NaN stays NaN), epoch, step, logged_at; in logging order. A value logged
        again for the same (run, split, dataset, name, epoch) replaces the earlier one (all rows stay in the table).

        `final_only`: only rows with epoch None. `status` filters runs (default ``finished``; None = any).
        """
        m, r = schema.metrics, schema.runs
        q = (select(m.c.run_id, r.c.config_hash, r.c["table"], r.c.variant, r.c.seed, r.c.profile, r.c.status,
                    m.c.split, m.c.dataset, m.c.name, m.c.value, m.c.epoch, m.c.step, m.c.logged_at)
             .join(r, r.c.run_id == m.c.run_id).order_by(m.c.id))
        conds = []
        if run_ids is not None:
            conds.append(m.c.run_id.in_(list(run_ids)))
        if split is not None:
            check_split(split)
            conds.append(m.c.split == split)
        if final_only:
            conds.append(m.c.epoch.is_(None))
        if table is not None:
            conds.append(r.c["table"] == table)
        if status is not None:
            conds.append(r.c.status == status)
        if dataset is not None:
            conds.append(m.c.dataset == dataset)
        if conds:
            q = q.where(and_(*conds))
        latest = {}
        for row in self._read(lambda conn: conn.execute(q).all()):
            key = (row.run_id, row.split, row.dataset, row.name, row.epoch)
            latest.pop(key, None)  # a value logged again replaces the earlier one
            latest[key] = {**row._asdict(), "value": from_db_float(row.value)}
        return list(latest.values())

    def curve(self, run_id: str, metric: str, split: str = "val", dataset: str | None = None) -> dict:
        """The learning curve of `metric`: {"epoch": (E,) int64, "step": (E,) float64 (NaN if not logged),
        "value": (E,) float64}, sorted by epoch (a later log of the same epoch wins). `dataset` is needed when
        the run logged the metric for several datasets."""
        check_split(split)
        m = schema.metrics
        q = (select(m.c.dataset, m.c.epoch, m.c.step, m.c.value)
             .where(m.c.run_id == run_id, m.c.split == split, m.c.name == metric, m.c.epoch.is_not(None))
             .order_by(m.c.epoch, m.c.id))
        if dataset is not None:
            q = q.where(m.c.dataset == dataset)
        rows = self._read(lambda conn: conn.execute(q).all())
        _one_dataset(rows, f"curve({run_id!r}, {metric!r}, split={split!r})")
        by_epoch = {row.epoch: row for row in rows}
        eps = sorted(by_epoch)
        return {"epoch": np.array(eps, np.int64),
                "step": np.array([np.nan if by_epoch[e].step is None else by_epoch[e].step for e in eps], np.float64),
                "value": np.array([from_db_float(by_epoch[e].value) for e in eps], np.float64)}

    # ---------------------------------------------------------------- per-sample errors

    def log_samples(self, run_id: str, split: str, dataset: str, indices, actions, values: Mapping[str, object],
                    per_joint=None) -> None:
        """Per-sample errors of one evaluation, one row per (sample, metric).

        indices: (N,) int sample indices in the dataset; actions: (N,) str action labels (or None);
        values: {metric: (N,) float}; per_joint: None, an (N, J) array (stored with the first metric of
        `values`) or {metric: (N, J)} (J = 14 LSP joints; kept as packed float32). Logging the same (split,
        dataset, metric, index) twice for a run raises `InputError`.
        """
        check_split(split)
        require_text(dataset, "dataset")
        src = f"log_samples(run {run_id}, {split}, {dataset})"
        idx = np.asarray(indices)
        if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
            raise InputError(src, "indices", found=f"shape {idx.shape} dtype {idx.dtype}", expected="(N,) integers")
        n = len(idx)
        if len(np.unique(idx)) != n:
            raise InputError(src, "indices", found="repeated sample indices", expected="N distinct indices")
        acts = [None] * n if actions is None else [None if a is None else str(a) for a in actions]
        if len(acts) != n:
            raise InputError(src, "actions", found=f"{len(acts)} labels", expected=f"{n} (one per index)")
        if not values:
            raise InputError(src, "values", found="no metrics", expected="{metric: (N,) array}")
        cols = {}
        for k, v in values.items():
            require_text(k, "metric name")
            a = np.asarray(v, dtype=np.float64)
            if a.shape != (n,):
                raise InputError(src, f"values['{k}']", found=f"shape {a.shape}", expected=f"shape ({n},)")
            cols[k] = a
        joints = self._per_joint(per_joint, cols, n, src)
        py_idx = idx.astype(np.int64).tolist()
        rows = []
        for k, a in cols.items():
            jb = joints.get(k)
            vals = [None if math.isnan(x) else x for x in a.tolist()]
            for i in range(n):
                rows.append({"run_id": run_id, "split": split, "dataset": dataset, "metric": k,
                             "sample_index": py_idx[i], "action": acts[i], "value": vals[i],
                             "joints": None if jb is None else jb[i]})

        lo, hi = (min(py_idx), max(py_idx)) if py_idx else (0, -1)
        s = schema.samples

        def write(conn):
            self._require_run(conn, run_id)
            logged = conn.execute(select(s.c.sample_index).where(
                s.c.run_id == run_id, s.c.split == split, s.c.dataset == dataset, s.c.metric.in_(list(cols)),
                s.c.sample_index.between(lo, hi))).scalars().all()
            if set(logged) & set(py_idx):
                raise InputError(src, "indices", found=f"samples already logged for this run, split, dataset and "
                                 f"metric (e.g. index {min(set(logged) & set(py_idx))})",
                                 expected="each sample logged once per run")
            try:
                with conn.begin_nested():
                    conn.execute(insert(schema.samples), rows)
            except IntegrityError:
                raise InputError(src, "indices", found="samples already logged for this run, split, dataset "
                                 "and metric", expected="each sample logged once per run") from None

        if rows:
            self._write(write, "log_samples")

    @staticmethod
    def _per_joint(per_joint, cols: dict, n: int, src: str) -> dict[str, list[bytes]]:
        if per_joint is None:
            return {}
        pj = per_joint if isinstance(per_joint, Mapping) else {next(iter(cols)): per_joint}
        out = {}
        for k, v in pj.items():
            if k not in cols:
                raise InputError(src, "per_joint", found=f"metric {k!r}", expected="one of " + ", ".join(cols))
            a = np.asarray(v, dtype="<f4")
            if a.ndim != 2 or a.shape[0] != n or a.shape[1] == 0:
                raise InputError(src, f"per_joint['{k}']", found=f"shape {a.shape}", expected=f"shape ({n}, J)")
            a = np.ascontiguousarray(a)
            out[k] = [a[i].tobytes() for i in range(n)]
        return out

    def samples(self, run_id: str, split: str, metric: str, dataset: str | None = None) -> dict:
        """Per-sample values of `metric`, sorted by sample index: {"index": (N,) int64, "action": (N,) str
        ('' where none was logged), "value": (N,) float64, "per_joint": (N, J) float32 or None (NaN rows where a
        sample has none)}. `dataset` is needed when the run logged several."""
        check_split(split)
        s = schema.samples
        q = (select(s.c.dataset, s.c.sample_index, s.c.action, s.c.value, s.c.joints)
             .where(s.c.run_id == run_id, s.c.split == split, s.c.metric == metric).order_by(s.c.sample_index))
        if dataset is not None:
            q = q.where(s.c.dataset == dataset)
        rows = self._read(lambda conn: conn.execute(q).all())
        _one_dataset(rows, f"samples({run_id!r}, {split!r}, {metric!r})")
        n = len(rows)
        out = {"index": np.fromiter((r.sample_index for r in rows), np.int64, n),
               "action": np.array(["" if r.action is None else r.action for r in rows], dtype=str),
               "value": np.fromiter((from_db_float(r.value) for r in rows), np.float64, n),
               "per_joint": None}
        blobs = [r.joints for r in rows]
        sizes = {len(b) for b in blobs if b is not None}
        if sizes:
            if len(sizes) > 1:
                raise InputError(f"results store {self.url_redacted}", "samples.joints",
                                 found=f"per-joint rows of different lengths {sorted(sizes)} bytes",
                                 expected="one joint count per run, split, dataset and metric")
            j = sizes.pop() // 4
            pj = np.full((n, j), np.nan, np.float32)
            for i, b in enumerate(blobs):
                if b is not None:
                    pj[i] = np.frombuffer(b, "<f4")
            out["per_joint"] = pj
        return out



def _one_dataset(rows, what: str) -> None:
    names = sorted({r.dataset for r in rows})
    if len(names) > 1:
        raise InputError(what, "dataset", found=f"rows for several datasets {names}", expected="dataset=<one of them>")
