"""Loading pretrained backbone weights from local files (spec §5). Nothing is ever downloaded.

    report = load_backbone_weights(backbone, "logs/pretrained_resnet/pose_resnet.pth")   # mmpose, `backbone.`
    report = load_backbone_weights(hrnet, "pose_hrnet_w48_256x192.pth")                  # official HRNet
    report.missing      # new layers left at their init, e.g. HRNet's downsample_stage_* head

`.pth`/`.pt` files are read with `torch.load(weights_only=True)`, so a pickle that would run code is refused;
`.safetensors` files need the `safetensors` package. A checkpoint of another architecture (no key in common,
or a key of a different shape) raises `InputError` naming the file and the first mismatched keys.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import torch
from torch import nn

from hmr_bench.errors import InputError

DEFAULT_PREFIX_MAP: Mapping[str, str] = {"backbone.": ""}
_SHOW = 5  # keys listed in an error message


@dataclass(frozen=True)
class LoadReport:
    """What a load did. missing: model keys the file lacks (left at their init); unexpected: file keys (after
    the prefix map) the model lacks (ignored); shape_mismatch: (key, shape found, shape expected), skipped —
    non-empty only with skip_mismatched=True; loaded: keys copied into the model."""

    missing: list[str]
    unexpected: list[str]
    shape_mismatch: list[tuple[str, tuple[int, ...], tuple[int, ...]]]
    loaded: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{len(self.loaded)} loaded, {len(self.missing)} missing, {len(self.unexpected)} unexpected, "
                f"{len(self.shape_mismatch)} shape mismatches")


def _first(keys, n: int = _SHOW) -> str:
    keys = list(keys)
    return ", ".join(keys[:n]) + (f", … ({len(keys)} in all)" if len(keys) > n else "")


def read_state_dict(path: str | PathLike) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file: a raw state dict, or the `state_dict` / `model` entry of a wrapper
    (mmpose / mmcv style: {"meta", "state_dict", "optimizer"}). Returns {key: tensor} on the CPU."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, found="no such file", expected="a local .pth/.pt/.safetensors checkpoint "
                         "(hmr-bench never downloads weights)")
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise InputError(path, found="a .safetensors file, but the `safetensors` package is not installed",
                             expected="`pip install safetensors`, or a .pth checkpoint") from None
        try:
            obj = load_file(str(path), device="cpu")
        except Exception as e:  # safetensors raises its own SafetensorError
            raise InputError(path, found=f"an unreadable safetensors file ({e})") from None
    else:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as e:
            why = re.search(r"Unsupported (?:global: GLOBAL [\w.]+|operand \S+)", str(e))
            raise InputError(path, found="a pickle holding objects other than tensors, refused"
                             + (f" ({why.group(0).strip()})" if why else ""),
                             expected="a checkpoint of tensors and plain containers (loaded with "
                                      "weights_only=True; convert untrusted files yourself)") from None
        except (RuntimeError, EOFError, OSError, ValueError) as e:
            raise InputError(path, found=f"not a readable torch checkpoint ({type(e).__name__}: {e})") from None
    for _ in range(2):  # unwrap {"state_dict": {...}} / {"model": {...}}, possibly nested once
        inner = next((obj[k] for k in ("state_dict", "model") if isinstance(obj, Mapping)
                      and isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            break
        obj = inner
    tensors = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)} if isinstance(obj, Mapping) else {}
    if not tensors:
        raise InputError(path, found=f"no tensors (top level: {type(obj).__name__})",
                         expected="a state dict, or a dict with a 'state_dict' or 'model' entry")
    return tensors


def apply_prefix_map(state: Mapping[str, torch.Tensor], prefix_map: Mapping[str, str]) -> dict[str, torch.Tensor]:
    """Renames keys: the first prefix of `prefix_map` that a key starts with is replaced by its value."""
    out = {}
    for key, value in state.items():
        for old, new in prefix_map.items():
            if key.startswith(old):
                key = new + key[len(old):]
                break
        out[key] = value
    return out


def load_backbone_weights(module: nn.Module, path: str | PathLike, prefix_map: Mapping[str, str] | None = None,
                          strict: bool = False, skip_mismatched: bool = False) -> LoadReport:
    """Copies the weights of checkpoint `path` into `module`, in place.

    prefix_map: key renames applied first (default {"backbone.": ""}, the mmpose layout; {} for none).
    strict: also raise when keys are missing or unexpected. skip_mismatched: skip keys whose shape differs
    (listed in the report) instead of raising. Raises InputError when no key matches or shapes differ.
    """
    name = getattr(module, "name", type(module).__name__)
    prefix_map = DEFAULT_PREFIX_MAP if prefix_map is None else prefix_map
    state = apply_prefix_map(read_state_dict(path), prefix_map)
    own = module.state_dict()
    matched = {k: v for k, v in state.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    mismatch = [(k, tuple(v.shape), tuple(own[k].shape)) for k, v in state.items()
                if k in own and tuple(v.shape) != tuple(own[k].shape)]
    unexpected = [k for k in state if k not in own]
    missing = [k for k in own if k not in matched and not k.endswith("num_batches_tracked")]
    if not matched and not mismatch:
        raise InputError(path, found=f"no key in common with backbone '{name}': file keys {_first(state)}",
                         expected=f"keys such as {_first(own)}", hint=f"prefix map applied: {dict(prefix_map)}")
    if mismatch and not skip_mismatched:
        shown = "; ".join(f"{k}: {tuple(f)} in the file vs {tuple(e)} in the model" for k, f, e in mismatch[:_SHOW])
        raise InputError(path, found=f"{len(mismatch)} of {len(mismatch) + len(matched)} common keys with "
                         f"other shapes ({shown})", expected=f"a checkpoint for backbone '{name}'",
                         hint="Is this a checkpoint of another architecture?")
    if strict and (missing or unexpected):
        raise InputError(path, found=f"missing keys [{_first(missing)}], unexpected keys [{_first(unexpected)}]",
                         expected=f"exactly the keys of backbone '{name}' (strict=True)")
    module.load_state_dict(matched, strict=False)
    return LoadReport(missing=missing, unexpected=unexpected, shape_mismatch=mismatch if skip_mismatched else [],
                      loaded=list(matched))
