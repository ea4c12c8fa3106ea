"""Checkpoints: written atomically, read with ``torch.load(weights_only=True)`` (a crafted file cannot run code).

A checkpoint holds the model and optimizer state, the epoch just finished, the best validation result so far,
the validation history, and every RNG state (python, numpy, torch), so a killed run resumes exactly.
"""

from __future__ import annotations

import io
import pickle
import random
import re
from pathlib import Path

import numpy as np
import torch

from hmr_bench.errors import InputError
from hmr_bench.io import atomic_write


def rng_state() -> dict:
    """Every global RNG state as tensors and plain values (loadable with weights_only): python, numpy, torch, and
    the current CUDA device's when CUDA is in use."""
    state = {"python": _to_tensor_state(random.getstate()), "numpy": _numpy_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict) -> None:
    """Restores what `rng_state` saved (the CUDA state onto the current device, when both have one)."""
    random.setstate(_from_tensor_state(state["python"]))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), int(pos), int(has_gauss), float(cached)))  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def _numpy_state():
    kind, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002 (libraries use the global RNG)
    return [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached]


def _to_tensor_state(state):
    version, internal, gauss = state
    return [version, torch.tensor(internal, dtype=torch.int64), gauss]


def _from_tensor_state(state):
    version, internal, gauss = state
    return (version, tuple(int(x) for x in internal.tolist()), gauss)


def save_checkpoint(path: str | Path, payload: dict) -> Path:
    """Writes `payload` (tensors, numbers, strings, lists, dicts only) atomically; a full disk leaves the
    previous checkpoint intact and raises an error naming the file."""
    buf = io.BytesIO()
    torch.save(payload, buf)
    try:
        return atomic_write(path, lambda fh: fh.write(buf.getbuffer()))
    except OSError as e:
        raise InputError(path, found=f"a write error ({e.strerror or e})",
                         expected="room to write the checkpoint; the previous one is kept") from e


def load_checkpoint(path: str | Path) -> dict:
    """Reads a checkpoint with weights_only=True. A corrupted file or one crafted to run code is refused."""
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as e:
        raise InputError(path, found="no such file", expected="a checkpoint") from e
    except pickle.UnpicklingError as e:
        raise InputError(path, found=f"data that safe loading refuses ({torch_reason(e)})",
                         expected="a checkpoint of plain tensors and containers written by hmr-bench") from None
    except (RuntimeError, EOFError, ValueError, OSError) as e:
        raise InputError(path, found=f"a corrupted or truncated file ({type(e).__name__}: {torch_reason(e)})",
                         expected="a complete checkpoint written by hmr-bench") from None


def torch_reason(e: BaseException, limit: int = 200) -> str:
    """What `torch.load` found wrong, in one line, without torch's advice: never a hint to load the file unsafely
    (``weights_only=False``) or to allow-list what it refused."""
    text = str(e)
    m = re.search(r"WeightsUnpickler error:\s*(.*?)(?:\s*Check the documentation|$)", text, re.S)
    text = " ".join((m.group(1) if m else text).split())
    kept = [s for s in re.split(r"(?<=[.!?])\s+", text)
            if not re.search(r"weights_only|safe_globals|trust|re-?running|arbitrary code", s, re.I)]
    reason = " ".join(kept) or "not a checkpoint torch can read safely"
    return reason if len(reason) <= limit else reason[:limit - 1] + "…"
