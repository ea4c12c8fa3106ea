"""One run: train with per-epoch validation, keep the checkpoint chosen on validation, evaluate test once.

Checkpoints live in ``<cache>/runs/<config_hash>/`` (``last.pt`` every epoch, ``best.pt`` for the best
validation MPJPE). A killed run resumes from ``last.pt`` — same data order (sample keys depend on (seed, epoch,
index)), same RNG states — and ends with the same metrics as an uninterrupted one on CPU. A NaN/Inf loss stops
the run with a diagnostic (`NonFiniteLossError`); the caller marks it failed and goes on.
"""

from __future__ import annotations

import logging
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from hmr_bench.config import RunConfig
from hmr_bench.data.loader import make_loader
from hmr_bench.errors import NonFiniteLossError
from hmr_bench.eval.protocols import get_protocol
from hmr_bench.paths import cache_root
from hmr_bench.train import step
from hmr_bench.train.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from hmr_bench.train.data import RunData

log = logging.getLogger(__name__)
SELECT_METRIC = "mpjpe"  # checkpoint selection on the validation split


@dataclass
class RunResult:
    test: dict[str, dict[str, float]]  # protocol → metric → mean (mm)
    best_epoch: int
    val_history: list[dict[str, float]]
    wall_time: float


def build_model(cfg: RunConfig, body):
    from hmr_bench.models.head import mean_params_from_body
    from hmr_bench.models.multiroi import MODELS

    m = cfg.model
    crop_hw = (cfg.data.crop_size[1], cfg.data.crop_size[0])
    bb_kw = {"default_input": crop_hw}
    mean = mean_params_from_body(body)
    if m.kind in ("hmr", "cliff"):
        return MODELS.build(m.kind, backbone=m.backbone, mean_params=mean, fc1_dim=m.fc1_dim, backbone_kwargs=bb_kw)
    model = MODELS.build("multiroi", backbone=m.backbone, fusion=m.fusion, head=m.head, projection=m.projection,
                         num_rois=cfg.data.num_rois, pe_freqs=m.pe_freqs, pe_precision=m.pe_precision,
                         pe_flavour=m.pe_flavour, box_input=m.box_input, fc1_dim=m.fc1_dim, mean_params=mean,
                         shared_backbone=m.shared_backbone, backbone_kwargs=bb_kw, crop_size=crop_hw)
    if m.pretrained:
        from hmr_bench.models.checkpoints import load_backbone_weights

        model.load_report = load_backbone_weights(model.backbone, m.pretrained)
    return model


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (the global RNG that libraries use)
    torch.manual_seed(seed)


def run_dir(config_hash: str) -> Path:
    return cache_root() / "runs" / config_hash


@torch.no_grad()
def evaluate(model, body, dataset, cfg: RunConfig, protocol_name: str, split: str, device) -> dict:
    """Per-sample metrics over a dataset: {"mpjpe": (N,), ..., "index": (N,), "action": [N]}."""
    overrides = {"split": split} if protocol_name == "synth-test" else {}
    protocol = get_protocol(protocol_name, **overrides)
    model.eval()
    loader = make_loader(dataset, cfg.train.eval_batch_size, shuffle=False, seed=0, workers=cfg.data.workers,
                         device=device)
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
              device: str | torch.device = "cpu", progress: bool = True, heartbeat_s: float = 30.0) -> RunResult:
    """Trains `cfg` on `data`; logs per-epoch validation and final test metrics to `store` under `run_id`."""
    from hmr_bench.body import load_body_model

    t0 = time.time()
    device = torch.device(device)
    threads = cfg.train.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    seed_everything(cfg.train.seed)
    body = load_body_model(cfg.body_model).to(device)
    model = build_model(cfg, body).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
    folder = run_dir(config_hash)
    last, best = folder / "last.pt", folder / "best.pt"
    start_epoch, history, best_val, best_epoch = 0, [], float("inf"), -1
    if last.exists():
        ck = load_checkpoint(last)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        set_rng_state(ck["rng"])
        start_epoch, history = ck["epoch"] + 1, ck["history"]
        best_val, best_epoch = ck["best_val"], ck["best_epoch"]
        log.info("resuming %s at epoch %d", config_hash, start_epoch)

    loader = make_loader(data.train, cfg.train.batch_size, shuffle=True, seed=cfg.train.seed,
                         workers=cfg.data.workers, drop_last=True, device=device)
    loader.sampler.set_epoch(start_epoch)
    last_beat = time.time()
    for epoch in tqdm(range(start_epoch, cfg.train.epochs), desc="epochs", initial=start_epoch,
                      total=cfg.train.epochs, leave=False, disable=not progress):
        model.train()
        loader.sampler.set_epoch(epoch)
        steps = len(loader)
        if cfg.train.max_steps_per_epoch is not None:
            steps = min(steps, cfg.train.max_steps_per_epoch)
        bar = tqdm(total=steps, desc=f"epoch {epoch + 1}", leave=False, disable=not progress)
        for i, batch in enumerate(loader):
            if i >= steps:
                break
            batch = step.to_device(batch, device)
            try:
                loss, terms = step.losses(model, body, batch, cfg)
            except NonFiniteLossError as e:
                e.args = (f"epoch {epoch + 1}, step {i + 1}: {e}",)
                raise
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.3f}")
            if store is not None and run_id is not None and time.time() - last_beat > heartbeat_s:
                store.heartbeat(run_id)
                last_beat = time.time()
        bar.close()
        val = summary(evaluate(model, body, data.val, cfg, data.val_protocol, "val", device))
        history.append({"epoch": epoch, **val})
        if store is not None and run_id is not None:
            store.log_metrics(run_id, "val", data.val_protocol, val, epoch=epoch)
        if val[SELECT_METRIC] < best_val:
            best_val, best_epoch = val[SELECT_METRIC], epoch
            save_checkpoint(best, {"model": model.state_dict(), "epoch": epoch})
        save_checkpoint(last, {"model": model.state_dict(), "optimizer": opt.state_dict(), "rng": rng_state(),
                               "epoch": epoch, "history": history, "best_val": best_val, "best_epoch": best_epoch})

    model.load_state_dict(load_checkpoint(best)["model"])
    test = {}
    for name, dataset in data.test.items():
        per_sample = evaluate(model, body, dataset, cfg, name, "test", device)
        test[name] = summary(per_sample)
        if store is not None and run_id is not None:
            store.log_metrics(run_id, "test", name, test[name])
            joints = {k.replace("_per_joint", ""): per_sample[k] for k in ("mpjpe_per_joint", "pa_mpjpe_per_joint")}
            store.log_samples(run_id, "test", name, per_sample["index"], per_sample["action"],
                              {k: per_sample[k] for k in test[name]}, per_joint=joints)
    return RunResult(test, best_epoch, history, time.time() - t0)
