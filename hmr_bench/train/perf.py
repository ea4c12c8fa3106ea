"""Speed settings of a run: memory layout, `torch.compile`, mixed precision and threads (`cfg.train`).

    model = prepare_model(model, cfg, device)       # to(device), channels_last, compile (in place), cudnn benchmark
    with autocast(cfg, device):                      # cfg.train.amp: off | bf16 | fp16
        loss = ...
    scaler = grad_scaler(cfg, device)                # enabled for fp16 only

None of these changes the maths beyond rounding: channels_last is a memory layout, compile traces the same
graph, autocast lowers the precision of matmuls and convolutions.

- channels_last: the model's 4-D weights are stored NHWC; a convolution whose weight is channels_last computes
  (and returns) channels_last on CPU (oneDNN) and CUDA (cuDNN), so the inputs need no conversion.
- compile: in place (`nn.Module.compile`, state_dict keys unchanged, checkpoints stay loadable); the backbone's
  `forward_features` is compiled as well, so the shared-backbone path (`forward_shared`) is compiled too.
- bf16 on CPU only with native bf16 instructions (AVX512_BF16, AMX or Arm BF16): without them oneDNN emulates
  bf16 and a training step was measured 6–10× slower than fp32 on the AVX2 development machine.
- fp16 only on CUDA (CPU autocast to fp16 is neither fast nor stable); it needs `grad_scaler`.
"""

from __future__ import annotations

import contextlib
import os
import platform
from pathlib import Path

import torch

from hmr_bench.errors import InputError

AMP_MODES = ("off", "bf16", "fp16")
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # x86 /proc/cpuinfo flags of native bf16 arithmetic
ARM_BF16_FLAGS = ("bf16",)  # aarch64 /proc/cpuinfo "Features"
CPUINFO = Path("/proc/cpuinfo")


def _device(device) -> torch.device:
    return device if isinstance(device, torch.device) else torch.device(device)


def cpu_flags(cpuinfo: str | os.PathLike | None = None) -> set[str]:
    """The CPU feature flags of `cpuinfo` (default `CPUINFO`; Linux `flags` / aarch64 `Features` lines); empty if
    unreadable."""
    try:
        text = Path(cpuinfo if cpuinfo is not None else CPUINFO).read_text(errors="replace")
    except OSError:
        return set()
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            flags.update(value.split())
    return flags


def cpu_bf16_native(cpuinfo: str | os.PathLike | None = None) -> tuple[bool, str]:
    """(native, why): whether this CPU has native bf16 arithmetic, judged from its feature flags, and a phrase
    saying what was found (e.g. "flags amx_bf16", "no avx512_bf16/amx_bf16 flag (torch CPU capability AVX2)")."""
    flags = cpu_flags(cpuinfo)
    arm = platform.machine().lower() in ("aarch64", "arm64")
    wanted = ARM_BF16_FLAGS if arm else CPU_BF16_FLAGS
    have = sorted(f for f in wanted if f in flags)
    if have:
        return True, "flags " + ", ".join(have)
    capability = torch.backends.cpu.get_cpu_capability()
    where = "no /proc/cpuinfo" if not flags else "no " + "/".join(wanted) + " flag"
    return False, f"{where} (torch CPU capability {capability})"


def check_amp(cfg, device) -> str:
    """cfg.train.amp if `device` can run it; raises InputError naming why not (unknown mode, fp16 off CUDA,
    bf16 on a CPU without native bf16 or a GPU without bf16)."""
    amp, dev = cfg.train.amp, _device(device)
    if amp not in AMP_MODES:
        raise InputError("config", "train.amp", found=repr(amp), expected="one of " + ", ".join(map(repr, AMP_MODES)))
    if amp == "fp16" and dev.type != "cuda":
        raise InputError("config", "train.amp", found=f"'fp16' on device {dev}",
                         expected="'off' or 'bf16' off CUDA: fp16 autocast is for CUDA GPUs (with a GradScaler)")
    if amp == "bf16" and dev.type == "cpu":
        native, why = cpu_bf16_native()
        if not native:
            raise InputError("config", "train.amp", found=f"'bf16' on a CPU without native bf16 ({why})",
                             expected="'off' on this CPU: emulated bf16 was measured 6–10× slower than fp32 "
                             "(native bf16 needs AVX512_BF16 or AMX on x86, BF16 on Arm)")
    if amp == "bf16" and dev.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise InputError("config", "train.amp", found=f"'bf16' on {torch.cuda.get_device_name(dev)}",
                         expected="'fp16' or 'off': this GPU has no bf16 support (needs compute capability ≥ 8.0)")
    return amp


def autocast(cfg, device):
    """The autocast context of cfg.train.amp on `device` (a null context for "off"); see `check_amp` for the
    errors."""
    amp = check_amp(cfg, device)
    if amp == "off":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    return torch.autocast(_device(device).type, dtype=dtype)


def grad_scaler(cfg, device) -> torch.amp.GradScaler:
    """A GradScaler, enabled only for fp16 (bf16 and fp32 need none); use it as `scaler.scale(loss).backward();
    scaler.step(opt); scaler.update()` — a disabled scaler passes everything through."""
    amp = check_amp(cfg, device)
    dev = _device(device)
    return torch.amp.GradScaler(dev.type if dev.type in ("cuda", "cpu") else "cuda", enabled=amp == "fp16")


def prepare_model(model: torch.nn.Module, cfg, device, compile_backend: str | None = None) -> torch.nn.Module:
    """`model` on `device`, with cfg.train.channels_last (NHWC weights) and cfg.train.compile (in place; the
    backbone's `forward_features` too) applied, and cudnn.benchmark on for CUDA. Returns the same module.

    compile_backend: torch.compile's backend (None: inductor; "eager"/"aot_eager" for tests). Also checks
    cfg.train.amp against the device (`check_amp`), so a bad precision fails before any work.
    """
    dev = _device(device)
    check_amp(cfg, dev)
    model = model.to(dev)
    if cfg.train.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    if cfg.train.compile:
        if not hasattr(model, "compile"):
            raise InputError("config", "train.compile", found=f"true with torch {torch.__version__}",
                             expected="torch ≥ 2.2 (in-place nn.Module.compile), or false")
        kw = {} if compile_backend is None else {"backend": compile_backend}
        backbone = getattr(model, "backbone", None)
        if backbone is not None and hasattr(backbone, "forward_features"):
            # an instance attribute: Backbone.forward and forward_shared both call self.forward_features
            backbone.forward_features = torch.compile(backbone.forward_features, **kw)
        model.compile(**kw)
    return model


def available_cores() -> int:
    """CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def set_threads(threads: int | None) -> int:
    """Sets torch's intra-op threads to `threads` (None: every available core) and returns the previous count.
    A deliberate choice: torch's own default can exceed the cores a container or `taskset` allows."""
    before = torch.get_num_threads()
    n = available_cores() if threads is None else threads
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise InputError("set_threads", "threads", found=repr(threads), expected="a positive integer or None")
    torch.set_num_threads(n)
    return before


@contextlib.contextmanager
def threads(n: int | None):
    """Context: torch intra-op threads = n (None: every available core), restored on exit."""
    before = set_threads(n)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
