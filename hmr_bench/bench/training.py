"""The training step as the trainer runs it, the backbone alone (forward + backward) at the same batch, and where
a step's time goes.

    opt = make_optimizer(model, cfg)                          # train.trainer's (fused Adam)
    step = train_step_fn(model, body, batch, cfg, opt, device)
    t_step = time_fn(step, rounds=10, warmup=2, device=device)
    t_bb = time_fn(backbone_fb_fn(model, batch, cfg, device), rounds=10, warmup=2, device=device)
    t_bb.median_s / t_step.median_s                           # step rate / backbone-alone rate (target ≥ 0.85)
    parts = training_step_breakdown(model, body, batch, cfg, opt, rounds=5, device=device)

One step = zero_grad, `train.step.losses` under `train.perf.autocast`, backward (through a GradScaler for fp16),
optimizer step — the trainer's loop body. The backbone alone = forward of the B·M crops (shared mode: of the B
union images), backward of the sum of its features; no optimizer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import torch

from hmr_bench.bench.timing import check_rounds, synchronize

STEP_PARTS = ("data", "backbone_fwd", "fusion_fwd", "head_fwd", "projection_fwd", "body_model", "losses_other",
              "backward", "optimizer")


def train_step_fn(model, body, batch: dict, cfg, optimizer, device="cpu") -> Callable[[], torch.Tensor]:
    """A zero-argument callable doing one training step on `batch` (returns the loss, not synchronised)."""
    from hmr_bench.train import step
    from hmr_bench.train.perf import autocast, grad_scaler

    scaler = grad_scaler(cfg, device)

    def call():
        optimizer.zero_grad(set_to_none=True)
        with autocast(cfg, device):
            loss = step.losses(model, body, batch, cfg)[0]
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        return loss.detach()

    return call


def backbone_fb_fn(model, batch: dict, cfg, device="cpu") -> Callable[[], None]:
    """A zero-argument callable: the backbone's forward on the batch's normalised crops (shared mode: union
    images) and the backward of the features' sum, gradients zeroed first."""
    from hmr_bench.data.images import normalize_crops
    from hmr_bench.train.perf import autocast

    if cfg.model.shared_backbone:
        x = normalize_crops(batch["union"])
        forward = model.backbone.forward_features
    else:
        c = batch["crops"]
        x = normalize_crops(c.reshape(-1, *c.shape[2:]))
        forward = model.backbone

    def call():
        model.backbone.zero_grad(set_to_none=True)
        with autocast(cfg, device):
            feats = forward(x)
        feats.float().sum().backward()

    return call


class _PartClock:
    """Accumulates seconds per part between device synchronisations."""

    def __init__(self, device):
        self.device, self.seconds, self._start = device, {}, {}

    def start(self, part: str) -> None:
        synchronize(self.device)
        self._start[part] = time.perf_counter()

    def stop(self, part: str) -> None:
        synchronize(self.device)
        self.seconds[part] = self.seconds.get(part, 0.0) + time.perf_counter() - self._start.pop(part)

    def wrap(self, part: str, fn: Callable) -> Callable:
        def timed(*args, **kwargs):
            self.start(part)
            try:
                return fn(*args, **kwargs)
            finally:
                self.stop(part)

        return timed


def _instrument(model, body, clock: _PartClock, vertex_stride: int = 1) -> Callable[[], None]:
    """Times the backbone (its `forward_features`, patched on the instance: both modes call it), fusion, head,
    projection and body model (forward hooks on `body` and on the `SparseBody` the training step uses) into
    `clock`; returns the undo function."""
    from hmr_bench.train.step import sparse_body

    handles = []
    for part, module in (("fusion_fwd", model.fusion), ("head_fwd", model.head),
                         ("projection_fwd", model.projection), ("body_model", body),
                         ("body_model", sparse_body(body, vertex_stride))):
        if module is None:
            continue
        handles.append(module.register_forward_pre_hook(lambda m, a, p=part: clock.start(p)))
        handles.append(module.register_forward_hook(lambda m, a, o, p=part: clock.stop(p)))
    bb = model.backbone
    had_own = "forward_features" in vars(bb)
    original = bb.forward_features
    bb.forward_features = clock.wrap("backbone_fwd", original)

    def undo():
        for h in handles:
            h.remove()
        if had_own:
            bb.forward_features = original
        else:
            del bb.forward_features

    return undo


def training_step_breakdown(model, body, batch: dict, cfg, optimizer, rounds: int = 5, warmup: int = 1,
                            device="cpu", batches: Iterator[dict] | None = None) -> dict[str, float]:
    """Mean seconds per step of each part in `STEP_PARTS`, plus "total" (their sum) and "forward" (the whole
    `losses` call), measured with a synchronisation around each part (an eager model; the synchronisations make
    the instrumented step slightly slower than `train_step_fn`'s):

        data            next(batches) + to_device (0 without `batches`: `batch` is already on the device)
        backbone_fwd    the backbone's feature maps (pooling, RoIAlign and normalisation are in losses_other)
        fusion_fwd, head_fwd, projection_fwd, body_model (predicted and, with a vertex loss, GT meshes)
        losses_other    the rest of `losses`: input normalisation, pooling / RoIAlign, loss maths, checks
        backward        loss.backward() (all modules; compare `backbone_fb_fn` for the backbone's share)
        optimizer       zero_grad + optimizer.step()
    """
    from hmr_bench.train import step
    from hmr_bench.train.perf import autocast

    check_rounds(rounds, warmup, "training_step_breakdown")
    clock = _PartClock(device)
    undo = _instrument(model, body, clock, cfg.loss.vertex_stride)
    dev = torch.device(device)
    try:
        for r in range(warmup + rounds):
            if r == warmup:
                clock.seconds.clear()
            if batches is not None:
                clock.start("data")
                batch = step.to_device(next(batches), dev)
                clock.stop("data")
            clock.start("optimizer")
            optimizer.zero_grad(set_to_none=True)
            clock.stop("optimizer")
            clock.start("forward")
            with autocast(cfg, device):
                loss = step.losses(model, body, batch, cfg)[0]
            clock.stop("forward")
            clock.start("backward")
            loss.backward()
            clock.stop("backward")
            clock.start("optimizer")
            optimizer.step()
            clock.stop("optimizer")
    finally:
        undo()
    s = {k: v / rounds for k, v in clock.seconds.items()}
    inner = sum(s.get(k, 0.0) for k in ("backbone_fwd", "fusion_fwd", "head_fwd", "projection_fwd", "body_model"))
    out = {k: s.get(k, 0.0) for k in STEP_PARTS}
    out["losses_other"] = max(0.0, s["forward"] - inner)
    out["forward"] = s["forward"]
    out["total"] = sum(out[k] for k in STEP_PARTS)
    return out
