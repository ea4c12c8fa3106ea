"""Profiles: the base configuration a table is run with, chosen for the hardware.

- smoke: the whole table in about 2 min on 2 cores (tiny SynthHMR, tiny CNN, 1 seed): proves the path.
- cpu: Table 2 (5 rows × 3 seeds) in ≤ 40 min on 2 cores. cnn-small on 48×64 crops, started from the shipped
  `synth-cnn-small` backbone (`models/pretrained.py`: the paper starts from a 2D-pose-pretrained backbone too),
  2 epochs of 2000 SynthHMR images (~125 steps of 32 samples × 5 RoIs, ~1 step/s on 2 cores). Measured while
  choosing it: from scratch, ~100–200 steps left every row near or above the trivial baseline (a small CNN needs
  thousands of steps); Adam 5e-4 and 1e-3 diverged (the crop camera scale s crossed zero, where L_cam's 1/(b·s)
  terms explode). With people anywhere in the image at 2–12 m, |c − W/2|/b reached ~2 and official L_cam pushed
  every RoI's s from ~1 to ~2.5 within 25 steps (the full model then ended barely below the trivial baseline),
  so the SynthHMR cpu preset puts the pelvis in the central half of the image at 2–6 m, as in H36M-like captures
  (s then stayed near the GT median, ~1.5, and the gradient norm fell from ~2,000–40,000 to ~500).
- paper: spec §5 settings (ResNet-50 at 256×192, batch 48, Adam 1e-4, 25 epochs) for a GPU.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from hmr_bench.config import RunConfig, apply_overrides
from hmr_bench.errors import InputError

# The embedded world's choices (input, starting backbone, frozen features, vertex subset, steps, seeds) are on
# each profile's card, with their measured effect: `smoke.md`, `cpu.md` beside this file.
_EMBEDDED = {"data.input": "proxy", "train.backbone": "frozen", "data.augment": False, "loss.vertex_stride": 8}
PROFILES: dict[str, dict] = {
    "smoke": {"data.synth_profile": "smoke", "data.crop_size": (36, 48), "model.backbone": "cnn-tiny",
              "model.fc1_dim": 512, "train.epochs": 2, "train.batch_size": 16, "train.lr": 1e-3, **_EMBEDDED},
    "cpu": {"data.synth_profile": "cpu", "data.n_train": 2000, "data.crop_size": (48, 64),
            "model.backbone": "cnn-small", "model.pretrained": "synth-proxy-cnn-small", "model.fc1_dim": 1024,
            "train.epochs": 5, "train.batch_size": 32, "train.lr": 3e-4, **_EMBEDDED},
    "paper": {"data.synth_profile": "paper", "data.crop_size": (192, 256), "model.backbone": "resnet50",
              "train.epochs": 25, "train.batch_size": 48, "train.lr": 1e-4, "train.eval_batch_size": 100},
}
# Each profile's card: every choice that shapes its numbers, with the measured effect and the command (the report
# links it above each table).
PROFILE_CARDS = {name: Path(__file__).resolve().parent / f"{name}.md" for name in ("smoke", "cpu", "paper")}
DEFAULT_SEEDS = {"smoke": (0,), "cpu": tuple(range(8)), "paper": (0, 1, 2)}


def profile_config(name: str) -> RunConfig:
    if name not in PROFILES:
        near = difflib.get_close_matches(name, PROFILES, n=1)
        raise InputError("profile", "name", found=repr(name), expected="one of " + ", ".join(PROFILES),
                         hint=f"did you mean '{near[0]}'?" if near else None)
    return apply_overrides(RunConfig(profile=name), PROFILES[name], source=f"profile {name}")
