"""Parameters and MACs of a model (torch.utils.flop_counter.FlopCounterMode).

MACs = FLOPs / 2 of the ops FlopCounterMode counts: convolutions, matmuls (mm, bmm, addmm, einsum via them),
attention. Element-wise ops, normalisation, pooling and activations are not counted — the usual convention of
published "GMACs" figures (e.g. ResNet-50 at 224²: 4.09 GMACs, 2.05 M of them in the final fc).

    count_macs(model, crops, bbox_info)               # one forward, no_grad → int
    macs_by_module(model, crops, bbox_info, depth=1)   # {"backbone": ..., "fusion": ..., "head": ...}
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from hmr_bench.errors import InputError


def count_params(module: torch.nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter elements (shared parameters counted once)."""
    seen, n = set(), 0
    for p in module.parameters():
        if id(p) in seen or (trainable_only and not p.requires_grad):
            continue
        seen.add(id(p))
        n += p.numel()
    return n


def _run_counted(fn, args, kwargs) -> FlopCounterMode:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        fn(*args, **kwargs)
    return counter


def count_macs(model, *args, **kwargs) -> int:
    """MACs (FLOPs / 2, see the module docstring) of one call `model(*args, **kwargs)` under no_grad.
    `model` may be any callable (a module, `model.forward_shared`, a lambda)."""
    if not callable(model):
        raise InputError("count_macs", "model", found=type(model).__name__, expected="a module or callable")
    flops = _run_counted(model, args, kwargs).get_total_flops()
    return int(flops) // 2


def macs_by_module(model: torch.nn.Module, *args, depth: int = 1, **kwargs) -> dict[str, int]:
    """MACs of one `model(*args, **kwargs)` per submodule at `depth` below `model` (names relative to it, e.g.
    "backbone", "fusion"; "" = the whole call). Work outside any submodule at that depth is in none of them."""
    if not isinstance(model, torch.nn.Module):
        raise InputError("macs_by_module", "model", found=type(model).__name__, expected="an nn.Module")
    counts = _run_counted(model, args, kwargs).get_flop_counts()
    root = type(model).__name__
    out = {}
    for name, per_op in counts.items():
        if name == "Global":
            continue
        parts = name.split(".")
        if parts[0] != root or len(parts) - 1 > depth:
            continue
        out[".".join(parts[1:])] = int(sum(per_op.values())) // 2
    return out


def conv2d_macs(c_in: int, c_out: int, k: tuple[int, int], out_hw: tuple[int, int], groups: int = 1) -> int:
    """Hand formula of one Conv2d on one image: c_out · out_h · out_w · (c_in / groups) · k_h · k_w."""
    return c_out * out_hw[0] * out_hw[1] * (c_in // groups) * k[0] * k[1]


def linear_macs(in_features: int, out_features: int, rows: int = 1) -> int:
    """Hand formula of one Linear on `rows` rows: rows · in · out."""
    return rows * in_features * out_features


def model_cost(model, body, batch: dict, cfg) -> dict:
    """Parameters and MACs of a Multi-RoI model on `batch` (crops or shared mode per cfg), per part:

        params   {"backbone", "fusion", "head", "projection", "total"}
        macs     {"backbone", "fusion", "head", "projection", "body", "end_to_end"} for the whole batch of the
                 timed end-to-end inference (`inference.inference_fn`: RoI 0 decoded, `OFFICIAL_EVAL_ROI`); each
                 part counted on its own inputs ("backbone": crops → h, with RoIAlign in shared mode; "head": RoI
                 0's rows; "projection": 0, a training-only output inference skips; "body": the body model and
                 H36M joints of RoI 0); end_to_end counted in one call (= the sum of the parts)
        macs_per_sample   end_to_end / B
    """
    from hmr_bench.bench.inference import _backbone_features, _body, _model, _normalised
    from hmr_bench.models.common import OFFICIAL_EVAL_ROI

    with torch.no_grad():
        x = _normalised(batch, cfg)
        h = _backbone_features(model, x, cfg)
        u, _ = model.fusion(h, x["bbox_info"])
        out = model.decode(h, x["bbox_info"], OFFICIAL_EVAL_ROI)
    parts = {"backbone": count_macs(lambda: _backbone_features(model, x, cfg)),
             "fusion": count_macs(model.fusion, h, x["bbox_info"]),
             "head": count_macs(model.head, u, x["bbox_info"], OFFICIAL_EVAL_ROI),
             "projection": 0,
             "body": count_macs(lambda: _body(body, out))}
    parts["end_to_end"] = count_macs(lambda: _body(body, _model(model, x, cfg, roi=OFFICIAL_EVAL_ROI)))
    params = {k: 0 if getattr(model, k) is None else count_params(getattr(model, k))
              for k in ("backbone", "fusion", "head", "projection")}
    params["total"] = count_params(model)
    B = x["bbox_info"].shape[0]
    return {"params": params, "macs": parts, "macs_per_sample": parts["end_to_end"] // B}
