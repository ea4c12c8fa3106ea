"""Pretrained backbones shipped with hmr-bench, and the export of a backbone from a run's checkpoint.

The paper starts from a backbone pretrained for 2D pose on COCO. No such weights can be downloaded here, so the
`cpu` profile starts from `synth-cnn-small`: the cnn-small backbone of a CLIFF model trained on the `cpu`
SynthHMR training split (its card: `assets/PRETRAINED.md`, with the command that rebuilds it). A name in
`PRETRAINED` or a path to a checkpoint file are both accepted by ``model.pretrained``.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from hmr_bench.io import atomic_write

ASSETS = Path(__file__).resolve().parent / "assets"
PRETRAINED: dict[str, str] = {  # name → file in assets/ (cards: assets/PRETRAINED.md)
    "synth-cnn-small": "synth_cnn_small.pt",  # RGB input (the cpu profile's start until the proxy input)
    "synth-proxy-cnn-small": "synth_proxy_cnn_small.pt",  # proxy input (keypoint heatmaps): the cpu profile's
}


def resolve_pretrained(name_or_path: str | os.PathLike) -> Path:
    """The checkpoint file of a shipped name (`PRETRAINED`) or the path itself (checked when it is read)."""
    text = str(name_or_path)
    return ASSETS / PRETRAINED[text] if text in PRETRAINED else Path(name_or_path)


def export_backbone(checkpoint: str | os.PathLike, out: str | os.PathLike, half: bool = False) -> dict[str, int]:
    """Writes the `backbone.*` tensors of a run checkpoint (``best.pt`` / ``last.pt``: {"model": state_dict}) to
    `out` (a plain state dict, loadable with weights_only=True), optionally as float16 to halve the file.
    Returns {"tensors": n, "parameters": p}. Raises InputError for a file without backbone tensors."""
    from hmr_bench.errors import InputError
    from hmr_bench.models.checkpoints import read_state_dict

    state = {k: v for k, v in read_state_dict(checkpoint).items() if k.startswith("backbone.")}
    if not state:
        raise InputError(checkpoint, "model", found="no 'backbone.*' tensors",
                         expected="a checkpoint of an hmr-bench run (best.pt / last.pt)")
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    atomic_write(out, lambda fh: torch.save(state, fh))
    return {"tensors": len(state), "parameters": sum(v.numel() for k, v in state.items()
                                                     if not k.endswith(("running_mean", "running_var",
                                                                        "num_batches_tracked")))}
