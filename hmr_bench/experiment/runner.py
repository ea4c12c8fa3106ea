"""Run a paper table: every row × seed as an independent run, cached by config hash in the results store.

Re-running a table skips finished runs (``force`` re-runs them); ``shard=(i, n)`` takes every n-th job so n
machines can split a table while writing one store; a run another live worker holds is skipped; a run left
``running`` by a dead process on this host is marked failed ("interrupted") and taken over, and resumes from its
last checkpoint. Under torchrun every rank walks the same jobs; rank 0 decides and the others follow
(`hmr_bench.train.ddp`). Jobs: `jobs`; claims: `claims`; provenance: `provenance`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial

from tqdm import tqdm

from hmr_bench.config import RunConfig, apply_overrides
from hmr_bench.errors import NonFiniteLossError, RunConflictError
from hmr_bench.experiment.claims import claim_or_take_over, live_claim
from hmr_bench.experiment.jobs import Job, parse_shard, table_jobs
from hmr_bench.experiment.provenance import git_sha, run_provenance
from hmr_bench.tables import load_table
from hmr_bench.train.ddp import SINGLE, Dist, main_first, on_main

log = logging.getLogger(__name__)


@dataclass
class JobOutcome:
    job: Job
    status: str  # finished | skipped (cached) | busy (another worker) | failed (NaN/Inf) | stopped (on_epoch)
    config_hash: str
    message: str = ""
    run_id: str | None = None  # the store's run row, when this call ran it


@dataclass
class _Decision:
    status: str  # run | skipped | busy
    run_id: str | None = None
    message: str = ""


def _decide(store, job: Job, config_hash: str, data_key: str, profile: str, device: str, sha: str | None,
            force: bool, world: int) -> _Decision:
    """Rank 0: skip a finished config (unless `force`), else claim it; a claim left by a dead local process is
    marked failed and taken over (the run resumes from its last checkpoint). `force` deletes the checkpoints; it is
    refused ("busy") while a live worker runs the config."""
    from hmr_bench.store.store import runtime_env
    from hmr_bench.train.trainer import run_dir

    done = None if force else store.find_finished(config_hash)
    if done is not None:
        if (done["table"], done["variant"], done["seed"]) != (job.table, job.row.name, job.seed):
            store.add_alias(job.table, job.row.name, job.seed, profile, done["run_id"])  # same config elsewhere
            return _Decision("skipped", message=f"same config as {done['table']}/{done['variant']} seed "
                             f"{done['seed']} (finished before)")
        return _Decision("skipped", message="finished before (cached)")
    claim = dict(config_hash=config_hash, table=job.table, variant=job.row.name, seed=job.seed, profile=profile,
                 config=job.cfg.to_dict(), dataset_key=data_key,
                 env=runtime_env(device) | {"world_size": world} | run_provenance(job.cfg), git_sha=sha)
    run_id = claim_or_take_over(store, claim, force)
    if run_id is None:
        holder = live_claim(store, config_hash) or "another worker"
        if force:
            return _Decision("busy", message=f"--force refused: {holder} is running this config now; run it again "
                             "with --force once that run has ended")
        return _Decision("busy", message=f"another worker is running it: {holder}")
    if force:
        for f in ("last.pt", "best.pt"):
            (run_dir(config_hash) / f).unlink(missing_ok=True)
    return _Decision("run", run_id)


def run_table(name: str, profile: str = "cpu", *, seeds=None, store_url: str | None = None,
              data_root: str | None = None, force: bool = False, shard: str | None = None,
              variants: list[str] | None = None, overrides: dict | None = None, device: str = "cpu",
              progress: bool = True, dist: Dist = SINGLE) -> list[JobOutcome]:
    """Runs every job of table `name` (rows × seeds, or `variants` only, or shard "i/n" of them) not finished
    yet; returns one outcome per job. A run whose loss goes NaN/Inf is marked failed and the others go on; any
    other error marks the current run failed and is raised. Under torchrun (`dist` active) every rank calls
    this; rank 0 alone opens the store, and only its outcomes carry run results."""
    from hmr_bench.store import ResultsStore

    table = load_table(name)
    jobs = table_jobs(table, profile, seeds, overrides, variants, parse_shard(shard))
    store = on_main(dist, lambda: ResultsStore(store_url))  # fail now, not after an hour of training
    runner = JobRunner(store, profile, data_root=data_root, device=device, progress=progress, dist=dist)
    if dist.is_main:
        for cfg in {repr((j.cfg.data, j.cfg.body_model)): j.cfg for j in jobs}.values():
            run_provenance(cfg, warn=True)  # say once, before training, when GT is not the published protocol's
            runner.trivial_baseline(cfg)
    return [runner.run(job, force=force)
            for job in tqdm(jobs, desc=f"{name} ({profile})", unit="run", disable=not (progress and dist.is_main))]


class JobRunner:
    """Runs jobs one at a time against one store, building each dataset once. Used by `run_table` and by sweeps
    (a sweep trial is a normal job: same hashing, caching, claims and resume)."""

    def __init__(self, store, profile: str, *, data_root: str | None = None, device: str = "cpu",
                 progress: bool = True, dist: Dist = SINGLE):
        self.store, self.profile, self.data_root = store, profile, data_root
        self.device, self.progress, self.dist = device, progress, dist
        self.sha = git_sha() if dist.is_main else None
        self._data: dict[str, object] = {}

    def data(self, cfg: RunConfig):
        from hmr_bench.body.source import body_key
        from hmr_bench.train.data import build_data

        data_id = repr((cfg.data, cfg.body_model))
        if data_id not in self._data:
            data = main_first(self.dist, partial(build_data, cfg, self.data_root))
            data.key += body_key(cfg.body_model)  # a user's model files by content: no cache across other files
            self._data[data_id] = data
        return self._data[data_id]

    def config_hash(self, cfg: RunConfig) -> str:
        data = self.data(cfg)
        # a DDP run (per-rank BatchNorm, averaged gradients) is a different experiment from a 1-process run
        return cfg.hash(data.key if self.dist.world == 1 else f"{data.key}|world={self.dist.world}")

    def trivial_baseline(self, cfg: RunConfig) -> str:
        """The trivial baseline (mean pose, shape and camera; `eval.trivial`) on the test sets of `cfg`'s data, as a
        finished run of table `TRIVIAL_TABLE` in the store (cached by data and body model); returns its hash.
        Claimed like any run: nothing is done when it is finished or another live worker computes it."""
        import time

        from hmr_bench.body import load_body_model
        from hmr_bench.eval.trivial import TRIVIAL_TABLE, MeanPredictor
        from hmr_bench.store.store import runtime_env
        from hmr_bench.train.perf import threads
        from hmr_bench.train.trainer import eval_loader, evaluate, summary

        data = self.data(cfg)
        # the mean prediction's scores depend on the body model, the test data and the GT convention only (not on
        # RoIs, crops or the model)
        trivial = apply_overrides(RunConfig(body_model=cfg.body_model), {"data.eval_gt": cfg.data.eval_gt})
        config_hash = trivial.hash(f"trivial|{data.key}|{','.join(sorted(data.test))}")
        t0 = time.time()
        run_id = claim_or_take_over(self.store, dict(
            config_hash=config_hash, table=TRIVIAL_TABLE, variant="mean-params", seed=0, profile=self.profile,
            config=cfg.to_dict(), dataset_key=data.key, env=runtime_env(self.device) | run_provenance(cfg),
            git_sha=self.sha))
        if run_id is None:
            return config_hash
        try:
            body = load_body_model(cfg.body_model).to(self.device)
            model = MeanPredictor(body).to(self.device)
            with threads(cfg.train.threads):  # as a training run of this config would
                for name, dataset in data.test.items():
                    per_sample = evaluate(model, body, eval_loader(dataset, cfg, self.device), cfg, name, "test",
                                          self.device)
                    self.store.log_metrics(run_id, "test", name, summary(per_sample))
        except BaseException as e:
            self.store.fail_run(run_id, f"{type(e).__name__}: {e}")
            raise
        self.store.finish_run(run_id, time.time() - t0)
        return config_hash

    def run(self, job: Job, *, force: bool = False, on_epoch=None) -> JobOutcome:
        """Trains and tests `job` unless finished before (status "skipped") or held by another live worker
        ("busy"); a NaN/Inf loss gives "failed", a `StopRun` from `on_epoch` gives "stopped" (both marked failed
        in the store, with the reason); any other error marks the run failed and is raised."""
        from hmr_bench.train.trainer import StopRun, train_run

        dist, store, main = self.dist, self.store, self.dist.is_main
        data = self.data(job.cfg)
        config_hash = self.config_hash(job.cfg)
        decision = on_main(dist, partial(_decide, store, job, config_hash, data.key, self.profile, self.device,
                                         self.sha, force, dist.world), share=True)
        if decision.status != "run":
            return JobOutcome(job, decision.status, config_hash, decision.message)
        run_id = decision.run_id
        where = f"{job.table}/{job.row.name} seed {job.seed}"
        try:
            result = train_run(job.cfg, data, config_hash, store=store, run_id=run_id, device=self.device,
                               progress=self.progress, dist=dist, label=f"{job.row.name} seed {job.seed}",
                               on_epoch=on_epoch)
        except (NonFiniteLossError, StopRun) as e:
            status, reason = ("failed", "non-finite loss") if isinstance(e, NonFiniteLossError) else ("stopped",
                                                                                                       "stopped")
            on_main(dist, partial(store.fail_run, run_id, f"{reason}: {e}") if main else None)
            if main and status == "failed":
                log.warning("%s failed: %s", where, e)
            return JobOutcome(job, status, config_hash, str(e))
        except RunConflictError as e:  # another worker took the run over: its row is no longer ours to write
            if main:
                log.warning("%s: %s", where, e)
            return JobOutcome(job, "busy", config_hash, str(e))
        except BaseException as e:
            if main:
                try:
                    store.fail_run(run_id, f"{type(e).__name__}: {e}")
                except Exception as store_error:  # noqa: BLE001 (the training error is the one to report)
                    log.error("could not mark run %s failed: %s", run_id, store_error)
            raise
        on_main(dist, partial(store.finish_run, run_id, result.wall_time) if main else None)
        return JobOutcome(job, "finished", config_hash, run_id=run_id)
