"""One run: train with per-epoch validation, keep the checkpoint chosen on validation, evaluate test once.

Checkpoints live in ``<cache>/runs/<config_hash>/`` (``last.pt`` every epoch, ``best.pt`` for the best
validation MPJPE). A killed run resumes from ``last.pt`` — same data order (sample keys depend on (seed, epoch,
index)), same optimizer and RNG states — and ends with the same metrics as an uninterrupted one on CPU; the
validation history of the epochs before the kill is logged again under the new run. A NaN/Inf loss stops the run
with a diagnostic naming the term, epoch and step (`NonFiniteLossError`); the caller marks it failed and goes on.

Under torchrun (`ddp.Dist` active) every rank trains on its share of each batch; rank 0 alone evaluates, writes
checkpoints and the store (see `hmr_bench.train.ddp`). The model is `models.build.build_model(cfg, body)`; the store
is any object with the results store's `heartbeat`, `log_metrics` and `log_samples` (the caller, `experiment`,
opens it).
"""

from __future__ import annotations

import logging
import os
import random
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from hmr_bench.config import RunConfig
from hmr_bench.data.loader import make_loader
from hmr_bench.errors import InputError, NonFiniteLossError, RunConflictError
from hmr_bench.eval.protocols import get_protocol
from hmr_bench.models.build import build_model
from hmr_bench.paths import cache_root
from hmr_bench.train import ddp, perf, step
from hmr_bench.train.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from hmr_bench.train.data import RunData
from hmr_bench.train.features import FeatureLoader, cached_features, freeze_backbone

LOSS_CHECK_EVERY = 25  # training steps between two finiteness checks of the loss (each waits for the device)

log = logging.getLogger(__name__)
SELECT_METRIC = "mpjpe"  # checkpoint selection on the validation split


class StopRun(Exception):
    """Raised by an `on_epoch` callback to end a run after an epoch (e.g. a sweep trial pruned); the run keeps its
    checkpoints and is not tested."""


def _call_on_epoch(on_epoch, epoch: int, state) -> str | None:
    """Rank 0: the callback's StopRun message, or None to go on (shared with every rank)."""
    try:
        on_epoch(epoch, {k: v for k, v in state.history[-1].items() if k != "epoch"})
    except StopRun as e:
        return str(e) or "stopped by the epoch callback"
    return None


@dataclass
class RunResult:
    test: dict[str, dict[str, float]]  # protocol → metric → mean (mm)
    best_epoch: int
    val_history: list[dict[str, float]]  # one {"epoch": e, metric: mean, ...} per epoch
    wall_time: float  # seconds, over every process that worked on the run (a resumed run adds its earlier part)
    resumed_from: int = 0  # first epoch this process trained (0: not resumed)


def make_optimizer(model: torch.nn.Module, cfg: RunConfig) -> torch.optim.Optimizer:
    """Adam (spec §5), fused: one kernel for all parameters. On 2 CPU cores the per-tensor loop took ~8× longer
    for the same 3 M parameters (24 vs 3 ms a step, 1 thread) and the same maths."""
    params = [p for p in model.parameters() if p.requires_grad]  # a frozen backbone's are left out
    if cfg.train.backbone == "frozen" and cfg.train.tail_blocks and cfg.train.tail_lr_scale != 1.0:
        tail = {id(p) for p in model.backbone.parameters() if p.requires_grad}  # the trained tail's
        groups = [{"params": [p for p in params if id(p) not in tail]},
                  {"params": [p for p in params if id(p) in tail], "lr": cfg.train.lr * cfg.train.tail_lr_scale}]
        return torch.optim.Adam(groups, lr=cfg.train.lr, weight_decay=cfg.train.weight_decay, fused=True)
    return torch.optim.Adam(params, lr=cfg.train.lr, weight_decay=cfg.train.weight_decay, fused=True)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (the global RNG that libraries use)
    torch.manual_seed(seed)


def run_dir(config_hash: str) -> Path:
    return cache_root() / "runs" / config_hash


def eval_loader(dataset, cfg: RunConfig, device, backbone=None):
    """The evaluation DataLoader of a dataset: built once per run (its workers persist across epochs). With
    `train.backbone = "frozen"` and that `backbone` given, batches of the split's cached features
    (`features.FeatureLoader`) instead (a model without one, e.g. the mean predictor, reads the image batches)."""
    if cfg.train.backbone == "frozen" and backbone is not None:
        return FeatureLoader(split_features(backbone, dataset, cfg, device), cfg.train.eval_batch_size, shuffle=False)
    return make_loader(dataset, cfg.train.eval_batch_size, shuffle=False, seed=0, workers=cfg.data.workers,
                       device=device)


def train_loader(dataset, cfg: RunConfig, device, d: ddp.Dist, backbone=None):
    """The training loader: shuffled by (seed, epoch), drop_last; frozen backbone: cached features."""
    if cfg.train.backbone == "frozen":
        return FeatureLoader(split_features(backbone, dataset, cfg, device), cfg.train.batch_size, shuffle=True,
                             seed=cfg.train.seed, drop_last=True)
    return ddp.shard_loader(make_loader(dataset, cfg.train.batch_size, shuffle=True, seed=cfg.train.seed,
                                        workers=cfg.data.workers, drop_last=True, device=device), d)


def split_features(backbone, dataset, cfg: RunConfig, device):
    """The cached backbone features of a split (un-augmented crops), on `device`."""
    return cached_features(backbone, dataset, device, cfg.train.eval_batch_size, cfg.data.workers,
                           tail_blocks=cfg.train.tail_blocks).to(device)


@torch.no_grad()
def evaluate(model, body, loader, cfg: RunConfig, protocol_name: str, split: str, device) -> dict:
    """Per-sample metrics over an `eval_loader`: {"mpjpe": (N,), ..., "index": (N,), "action": [N]}."""
    overrides = {"split": split} if protocol_name == "synth-test" else {}
    protocol = get_protocol(protocol_name, **overrides)
    model.eval()
    parts: dict[str, list] = {}
    for batch in loader:
        batch = step.to_device(batch, device)
        res = step.evaluate_predictions(model, body, batch, cfg, protocol)
        for k, v in res.items():
            parts.setdefault(k, []).append(v.detach().cpu().numpy())
        parts.setdefault("index", []).append(batch["index"].cpu().numpy())
        parts.setdefault("action", []).append(np.asarray(batch.get("action", [""] * len(batch["index"]))))
    return {k: np.concatenate(v) for k, v in parts.items()}


def summary(per_sample: dict) -> dict[str, float]:
    return {k: float(np.mean(v)) for k, v in per_sample.items()
            if k in ("mpjpe", "pa_mpjpe", "pve", "pa_pve")}


def train_run(cfg: RunConfig, data: RunData, config_hash: str, *, store=None, run_id: str | None = None,
              device: str | torch.device = "cpu", progress: bool = True, heartbeat_s: float = 30.0,
              dist: ddp.Dist = ddp.SINGLE, label: str = "run", on_epoch=None) -> RunResult | None:
    """Trains `cfg` on `data`; logs per-epoch validation and final test metrics to `store` under `run_id`.

    `on_epoch(epoch, val)` is called on rank 0 after each epoch's validation (and checkpoint), with `val` the
    validation means {"mpjpe": ..., ...}; it may raise `StopRun` to end the run there (a pruned sweep trial).

    Returns the RunResult on rank 0 (None on the other ranks). Raises `NonFiniteLossError` (every rank) when a
    loss is NaN/Inf, `RunConflictError` when the store says another worker took the run over, `InputError` for
    an unreadable checkpoint or one that cannot be written. torch's thread count is restored on return.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.train.threads or max(1, len(os.sched_getaffinity(0)) // dist.local_world))
    try:
        return _train(cfg, data, config_hash, store, run_id, torch.device(device), progress, heartbeat_s, dist, label,
                      on_epoch)
    finally:
        torch.set_num_threads(threads)


class _Beat:
    """Heartbeats to the store at most every `every_s` seconds; `lost` once the store says the run is no longer
    ours (taken over as stale)."""

    def __init__(self, store, run_id: str | None, every_s: float):
        self.store, self.run_id, self.every_s = store, run_id, every_s
        self.last, self.lost = time.time(), False

    def __call__(self, force: bool = False) -> None:
        if self.store is None or self.run_id is None or not (force or time.time() - self.last > self.every_s):
            return
        if not self.store.heartbeat(self.run_id):
            self.lost = True
        self.last = time.time()


def read_resume_checkpoint(path: Path) -> dict | None:
    """The `last.pt` to resume from, or None; an unreadable one raises InputError saying how to go on."""
    if not path.exists():
        return None
    try:
        return load_checkpoint(path)
    except InputError as e:
        raise InputError(e.source, e.field, found=e.found, expected=e.expected,
                         hint="Delete it to start this run over, or re-run with --force; finished runs in the "
                         "store are not affected") from e


def _train(cfg, data, config_hash, store, run_id, device, progress, heartbeat_s, d: ddp.Dist, label, on_epoch):
    from hmr_bench.body import load_body_model

    t0 = time.time()
    main = d.is_main
    seed_everything(cfg.train.seed)
    body = load_body_model(cfg.body_model).to(device)
    model = perf.prepare_model(build_model(cfg, body), cfg, device)  # to(device), channels_last, compile
    if cfg.train.backbone != "train":
        freeze_backbone(model, cfg)
    opt = make_optimizer(model, cfg)
    scaler = perf.grad_scaler(cfg, device)  # fp16 only
    folder = run_dir(config_hash)
    last, best = folder / "last.pt", folder / "best.pt"
    log_to = store if main and run_id is not None else None
    beat = _Beat(log_to, run_id, heartbeat_s)

    state, start_epoch = _State(started=t0), 0
    ck = ddp.on_main(d, lambda: read_resume_checkpoint(last), share=True)
    if ck is not None:
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        ranks = ck.get("rng_ranks")
        set_rng_state(ranks[d.rank] if ranks is not None and len(ranks) == d.world else ck["rng"])
        start_epoch = ck["epoch"] + 1
        state = _State(ck["history"], ck["best_val"], ck["best_epoch"], ck.get("wall_time", 0.0), t0)
        if log_to is not None:
            for h in state.history:
                log_to.log_metrics(run_id, "val", data.val_protocol,
                                   {k: v for k, v in h.items() if k != "epoch"}, epoch=h["epoch"])
        log.info("resuming %s (config %s) from epoch %d of %d (%s holds epochs 1-%d)", label, config_hash,
                 start_epoch + 1, cfg.train.epochs, last, start_epoch)
        del ck

    fwd = ddp.wrap_model(step.BatchForward(model, cfg), d) if d.active else model
    watch = step.FiniteWatch(LOSS_CHECK_EVERY)
    loader = train_loader(data.train, cfg, device, d, model.backbone)
    show = progress and main
    val_loader = eval_loader(data.val, cfg, device, model.backbone)  # workers start lazily, at the first validation
    for epoch in tqdm(range(start_epoch, cfg.train.epochs), desc=label, unit="epoch", initial=start_epoch,
                      total=cfg.train.epochs, leave=False, disable=not show):
        fwd.train()
        loader.sampler.set_epoch(epoch)
        steps = len(loader)
        if cfg.train.max_steps_per_epoch is not None:
            steps = min(steps, cfg.train.max_steps_per_epoch)
        bar = tqdm(total=steps, desc=f"epoch {epoch + 1}", unit="step", leave=False, disable=not show)
        for i, batch in enumerate(loader):
            if i >= steps:
                break
            with perf.autocast(cfg, device):
                loss, weighted = step.losses(fwd, body, step.to_device(batch, device), cfg)
            watch.add(f"epoch {epoch + 1}, step {i + 1}", loss, weighted)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            if watch.due():  # the loop's only host synchronisation, every `watch.every` steps and after the epoch
                _check_losses(watch, d, bar if show else None)
            if show:
                bar.update()
            if main:
                beat()
        _check_losses(watch, d, bar if show else None)  # before validation and the epoch's checkpoint
        bar.close()

        ddp.on_main(d, partial(_validate, state, model, body, data, val_loader, cfg, device, epoch, best, log_to,
                                run_id))
        rngs = ddp.all_gather(rng_state(), d)  # after validation: the state the next epoch starts from
        if ddp.on_main(d, partial(_save_last, state, model, opt, rngs, epoch, last, d, beat), share=True):
            raise RunConflictError(f"run {run_id} ({config_hash}) was taken over by another worker (no heartbeat "
                                   "reached the store in time); this worker stops it")
        if on_epoch is not None:
            stop = ddp.on_main(d, partial(_call_on_epoch, on_epoch, epoch, state), share=True)
            if stop is not None:
                raise StopRun(stop)

    if not ddp.on_main(d, lambda: state.best_epoch >= 0, share=True):
        raise NonFiniteLossError({f"val {SELECT_METRIC}": float("nan")},
                                 detail="no epoch had a finite validation value; there is no checkpoint to test")

    def test() -> RunResult:
        model.load_state_dict(load_checkpoint(best)["model"])
        results = {}
        for name, dataset in data.test.items():
            per_sample = evaluate(model, body, eval_loader(dataset, cfg, device, model.backbone), cfg, name, "test",
                                  device)
            results[name] = summary(per_sample)
            if log_to is not None:
                log_to.log_metrics(run_id, "test", name, results[name])
                joints = {k.replace("_per_joint", ""): per_sample[k] for k in ("mpjpe_per_joint", "pa_mpjpe_per_joint")}
                log_to.log_samples(run_id, "test", name, per_sample["index"], per_sample["action"],
                                   {k: per_sample[k] for k in results[name]}, per_joint=joints)
        return RunResult(results, state.best_epoch, state.history, state.wall_time(), start_epoch)

    return ddp.on_main(d, test)


@dataclass
class _State:
    """What rank 0 knows about the run so far (saved in last.pt)."""

    history: list = field(default_factory=list)  # [{"epoch": e, metric: mean}]
    best_val: float = float("inf")
    best_epoch: int = -1
    wall_before: float = 0.0  # seconds spent by earlier processes of this run (killed, then resumed)
    started: float = field(default_factory=time.time)  # when this process began the run

    def wall_time(self) -> float:
        return self.wall_before + time.time() - self.started


def _validate(state: _State, model, body, data: RunData, val_loader, cfg: RunConfig, device, epoch: int, best: Path,
              log_to, run_id) -> None:
    """Rank 0 after each epoch: validation metrics → history and store; best.pt when the epoch is the best."""
    val = summary(evaluate(model, body, val_loader, cfg, data.val_protocol, "val", device))
    state.history.append({"epoch": epoch, **val})
    if log_to is not None:
        log_to.log_metrics(run_id, "val", data.val_protocol, val, epoch=epoch)
    if val[SELECT_METRIC] < state.best_val:  # NaN never wins
        state.best_val, state.best_epoch = val[SELECT_METRIC], epoch
        save_checkpoint(best, {"model": model.state_dict(), "epoch": epoch})


def _save_last(state: _State, model, opt, rngs: list, epoch: int, last: Path, d: ddp.Dist, beat: _Beat) -> bool:
    """Rank 0 after validation: last.pt (model, optimizer, RNG of every rank, history); True if the run was lost."""
    payload = {"model": model.state_dict(), "optimizer": opt.state_dict(), "rng": rngs[0], "epoch": epoch,
               "history": state.history, "best_val": state.best_val, "best_epoch": state.best_epoch,
               "wall_time": state.wall_time()}
    if d.active:
        payload["rng_ranks"] = rngs
    save_checkpoint(last, payload)
    beat(force=True)
    return beat.lost


def _check_losses(watch: step.FiniteWatch, d: ddp.Dist, bar=None) -> None:
    """The steps' losses since the last check (`FiniteWatch.check`); a NaN/Inf on any rank raises
    NonFiniteLossError on every rank, naming the epoch and step, the term(s) and, under DDP, the rank(s):
    "epoch 1, step 2: rank 0: <terms>; rank 1: <terms>". The last step's loss goes to the progress `bar`."""
    bad, last = watch.check()
    if ddp.any_rank(bad is not None, d):
        found = ddp.all_gather(None if bad is None else (bad[0], str(bad[1])), d)
        first = next(b[0] for b in found if b)
        parts = [(f"rank {r}" + ("" if b[0] == first else f" ({b[0]})") + ": " if d.active else "") + b[1]
                 for r, b in enumerate(found) if b]
        error = bad[1] if bad is not None else NonFiniteLossError({})
        error.args = (f"{first}: " + "; ".join(parts),)
        raise error
    if bar is not None and last is not None:
        bar.set_postfix(loss=f"{last:.3f}")
