"""Profiles: the base configuration a table is run with, chosen for the hardware. Each has a card beside this file
(`smoke.md`, `cpu.md`, `paper.md`) with every choice that shapes its numbers and its measured effect.

- smoke: the whole table in a few minutes on 2 cores (tiny SynthHMR, tiny CNN, 1 seed): proves the path.
- cpu: the embedded default, chosen on validation for a learned regime (every row ≤ 0.70 × the trivial baseline's
  PA-MPJPE) and paired intervals ≤ 1.5 mm within 30 min on 2 cores:
  - proxy inputs (2D-keypoint heatmaps per RoI);
  - the `synth-proxy-cnn-small` backbone, frozen, with features cached once per split;
  - exact sparse joints, the vertex loss on every 8th vertex;
  - 310 steps at Adam 3e-4;
  - 8 seeds with common random numbers.

  The SynthHMR cpu preset keeps people in the central half of the image at 2–6 m. With people anywhere at 2–12 m,
  official L_cam drove every RoI's camera scale s from ~1 to ~2.5 within 25 steps (stop 11's finding).
- paper: spec §5 settings (RGB, ResNet-50 at 256×192, batch 48, Adam 1e-4, 25 epochs, the backbone trained) for a
  GPU.
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
