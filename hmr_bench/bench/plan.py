"""Which cases the benchmark suite runs, by scale (``pytest benchmarks --bench-scale ...``):

    tiny    cnn-tiny only, M ≤ 2, batch ≤ 2, one round: the regular test suite checks that the suite runs
    quick   the CPU default (2 cores: minutes, not hours): every backbone at batch 1 over M = 1..8 (Table 4's
            rows); the small CNNs also at batch 32; training at the profiles' batches (ResNet-50 at batch 4)
    full    the GPU default: every backbone at batch 1 and 32 over M = 1..8 (ResNet-50 M = 5 also at batch 64,
            the throughput target), training at batch 32

Scopes (see `inference`): end-to-end at every (M, batch); backbone and model scopes at M = 1 and 5. The
shared-backbone mode runs end-to-end at M = 1, 3, 5 and 8. Rounds: 1 (tiny), 3 + 1 warm-up (quick), 20 + 5 (full).
"""

from __future__ import annotations

from dataclasses import dataclass

from hmr_bench.errors import InputError
from hmr_bench.models.backbones import size_multiple

SCALES = ("tiny", "quick", "full")
BACKBONES = ("cnn-tiny", "cnn-small", "resnet18", "resnet50", "hrnet_w32", "hrnet_w48")
SMALL = ("cnn-tiny", "cnn-small")
M_VALUES = {"tiny": (1, 2), "quick": tuple(range(1, 9)), "full": tuple(range(1, 9))}  # Table 4: M = 1..8
ROUNDS = {"tiny": (1, 0), "quick": (3, 1), "full": (20, 5)}  # (timed rounds, warm-up rounds)


@dataclass(frozen=True)
class Case:
    """One benchmark: backbone, M, batch, scope (inference) or "train", mode "crops" | "shared", crop (W, H)."""

    backbone: str
    num_rois: int
    batch: int
    scope: str = "end-to-end"
    mode: str = "crops"
    crop_size: tuple[int, int] | None = None

    @property
    def id(self) -> str:
        crop = f"-{self.crop_size[0]}x{self.crop_size[1]}" if self.crop_size else ""
        return f"{self.backbone}{crop}-M{self.num_rois}-b{self.batch}-{self.scope}-{self.mode}"


def default_scale(device_type: str) -> str:
    return "full" if device_type == "cuda" else "quick"


def _check(scale: str, backbones) -> tuple[str, ...]:
    if scale not in SCALES:
        raise InputError("bench plan", "scale", found=repr(scale), expected="one of " + ", ".join(SCALES))
    chosen = tuple(backbones) if backbones else (("cnn-tiny",) if scale == "tiny" else BACKBONES)
    unknown = [b for b in chosen if b not in BACKBONES]
    if unknown:
        raise InputError("bench plan", "backbones", found=", ".join(unknown), expected="among " + ", ".join(BACKBONES))
    return chosen


def _batches(scale: str, backbone: str) -> tuple[int, ...]:
    if scale == "tiny":
        return (1, 2)
    if scale == "quick" and backbone not in SMALL:
        return (1,)
    return (1, 32)


def inference_cases(scale: str, backbones=None) -> list[Case]:
    """Inference cases (crops and shared mode) of `scale`, for `backbones` (default: every one; tiny: cnn-tiny)."""
    cases = []
    for bb in _check(scale, backbones):
        for batch in _batches(scale, bb):
            for M in M_VALUES[scale]:
                scopes = ("backbone", "model", "end-to-end") if M in (1, 5) or scale == "tiny" else ("end-to-end",)
                cases += [Case(bb, M, batch, scope) for scope in scopes]
            shared_m = (1, 2) if scale == "tiny" else (1, 3, 5, 8)
            cases += [Case(bb, M, batch, "end-to-end", "shared") for M in shared_m]
        if scale == "full" and bb == "resnet50":
            cases.append(Case(bb, 5, 64, "end-to-end"))
    return cases


def training_cases(scale: str, backbones=None) -> list[Case]:
    """Training-step cases: (tiny) batch 2; (quick) the profiles' batches: cnn-tiny 16, cnn-small 32, ResNet-50 4,
    the other large backbones left out; (full) batch 32 for every backbone. M = 5 (tiny: 2), crops mode, plus the
    shared mode for the first backbone."""
    chosen = _check(scale, backbones)
    if scale == "tiny":
        return [Case(b, 2, 2, "train") for b in chosen] + [Case(chosen[0], 2, 2, "train", "shared")]
    if scale == "quick":
        batch = {"cnn-tiny": 16, "cnn-small": 32, "resnet50": 4}
        cases = [Case(b, 5, batch[b], "train") for b in chosen if b in batch]
    else:
        cases = [Case(b, 5, 32, "train") for b in chosen]
    return cases + ([Case(cases[0].backbone, 5, cases[0].batch, "train", "shared")] if cases else [])


def cost_cases(scale: str, backbones=None) -> list[Case]:
    """Params/MACs cases: every backbone at each resolution (W, H) in {48×64, 96×128, 192×256} that it accepts
    (HRNet: multiples of 32; tiny: cnn-tiny's own crop only), at M = 1 and 5, crops mode, plus the shared mode
    at M = 5 (union image of `default_union`)."""
    chosen = _check(scale, backbones)
    crops = ((36, 48),) if scale == "tiny" else ((48, 64), (96, 128), (192, 256))
    cases = []
    for bb in chosen:
        multiple = size_multiple(bb)
        for crop in (c for c in crops if c[0] % multiple == 0 and c[1] % multiple == 0):
            cases += [Case(bb, M, 1, "cost", "crops", crop) for M in (1, 5)]
            cases.append(Case(bb, 5, 1, "cost", "shared", crop))
    return cases


def rounds(scale: str) -> tuple[int, int]:
    """(timed rounds, warm-up rounds) of `scale`."""
    _check(scale, None)
    return ROUNDS[scale]
