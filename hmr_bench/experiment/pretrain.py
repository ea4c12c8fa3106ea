"""The starting backbone of a profile, made reproducibly from SynthHMR training images (`hmr-bench pretrain`,
`experiment/cli.py`).

The paper starts its backbones from 2D-pose weights trained on COCO; nothing can be downloaded here, so the cpu
profile starts from a backbone trained by hmr-bench: a CLIFF model (single RoI, own box code) trained end to end
on the profile's SynthHMR *training* split (more images than a table run uses; never a validation or test image),
the checkpoint chosen on validation, its `backbone.*` tensors exported as float16.

    hmr-bench pretrain --profile cpu --input proxy --n-train 8000 --epochs 20 --lr 2e-4 \
        --out hmr_bench/models/assets/synth_proxy_cnn_small.pt

A JSON record beside the output (`<out>.json`) keeps the recipe, the validation and test metrics of that CLIFF
model, the wall time and the file's sha256 (the card, `models/assets/PRETRAINED.md`, is written from it).
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from hmr_bench.io import atomic_write


def pretrain_overrides(input: str, n_train: int, epochs: int, lr: float, batch_size: int) -> dict:
    """The table-1 `cliff` row's overrides that make the pretraining run (end to end, augmented, from scratch)."""
    return {"model.pretrained": None, "data.input": input, "data.n_train": n_train, "train.epochs": epochs,
            "train.lr": lr, "train.batch_size": batch_size, "train.backbone": "train", "data.augment": True}


def pretrain(profile: str, out: str | Path, *, input: str = "proxy", n_train: int = 8000, epochs: int = 20,
             lr: float = 2e-4, batch_size: int = 32, seed: int = 0, store_url: str | None = None,
             extra: dict | None = None, progress: bool = True) -> dict:
    """Trains the CLIFF model, exports its backbone to `out` and returns the record written to `<out>.json`."""
    from hmr_bench.experiment.runner import run_table
    from hmr_bench.store import ResultsStore

    out = Path(out)
    overrides = {**pretrain_overrides(input, n_train, epochs, lr, batch_size), **(extra or {})}
    t0 = time.time()
    [outcome] = run_table("table1", profile, seeds=[seed], store_url=store_url, variants=["cliff"],
                          overrides=overrides, progress=progress)
    if outcome.status not in ("finished", "skipped"):
        from hmr_bench.errors import InputError

        raise InputError("pretrain", "run", found=f"status {outcome.status}: {outcome.message}",
                         expected="a finished CLIFF run")
    record = export_pretrained(outcome.config_hash, out, ResultsStore(store_url), wall_s=time.time() - t0)
    record.update(profile=profile, seed=seed, overrides=overrides)
    atomic_write(out.with_suffix(out.suffix + ".json"), lambda fh: fh.write(json.dumps(record, indent=2).encode()))
    return record


def export_pretrained(config_hash: str, out: str | Path, store, wall_s: float | None = None) -> dict:
    """Exports the backbone of the finished run `config_hash` (its best.pt, float16) to `out`; returns the record:
    validation per epoch and test metrics of that run, parameter counts, the file's sha256."""
    from hmr_bench.models.pretrained import export_backbone
    from hmr_bench.train.trainer import run_dir

    out = Path(out)
    counts = export_backbone(run_dir(config_hash) / "best.pt", out, half=True)
    run = store.find_finished(config_hash)
    rows = store.metrics(run_ids=[run["run_id"]], final_only=False, status=None)
    val: dict[int, dict] = {}
    for r in rows:
        if r["split"] == "val" and r["name"] in ("mpjpe", "pa_mpjpe"):
            val.setdefault(int(r["epoch"]), {})[r["name"]] = round(r["value"], 2)
    return {"config_hash": config_hash,
            "test": {r["name"]: round(r["value"], 2) for r in rows if r["split"] == "test" and r["epoch"] is None},
            "val_per_epoch": [val[e] for e in sorted(val)],
            "wall_s": round(wall_s if wall_s is not None else run.get("wall_time") or 0.0, 1), **counts,
            "sha256": hashlib.sha256(out.read_bytes()).hexdigest()}
