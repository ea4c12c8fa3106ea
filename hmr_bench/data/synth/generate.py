"""`hmr-bench data synth`: render SynthHMR splits, cached by config hash, resumable, byte-identical per config.

Layout of one dataset (``<cache>/synthhmr/<key>/``)::

    config.json            the SynthConfig, body model and generator version the key was made from
    train.npz val.npz test.npz            SPIN-format annotations (hmr_bench.data.spin_format)
    train_images.npy ...   uint8 (N, H, W, 3) image packs, row order (what the loader reads fastest)
    images/train/000000.png ...           the same pixels as image files (what SPIN-format tools expect)
    card.json card.md distributions.png preview.png       the dataset card
    COMPLETE               written last; a dataset without it is unfinished

Work is split into chunks of ``cfg.chunk`` images. A finished chunk's annotations are saved under
``progress/`` atomically, so an interrupted run resumes at the first unfinished chunk; packs are written as
``*.partial`` and renamed only when the split is complete. Every image's randomness depends only on
(seed, split, index) and every chunk does the same float operations whatever the number of workers, so the
same config gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hmr_bench.data.spin_format import write_annotations
from hmr_bench.data.synth.scene import SPLITS, SynthConfig
from hmr_bench.io import atomic_write
from hmr_bench.paths import cache_root

GENERATOR_VERSION = "1"  # bump when the same config must give different bytes


def dataset_key(cfg: SynthConfig, body_file: Path) -> str:
    """The cache key: a hash of the config, the body model file's bytes and the generator version."""
    h = hashlib.sha256()
    h.update(json.dumps(cfg.to_dict(), sort_keys=True).encode())
    h.update(hashlib.sha256(Path(body_file).read_bytes()).digest())
    h.update(GENERATOR_VERSION.encode())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class SynthDataset:
    root: Path

    def npz(self, split: str) -> Path:
        return self.root / f"{split}.npz"

    def pack(self, split: str) -> Path:
        return self.root / f"{split}_images.npy"

    @property
    def image_root(self) -> Path:
        return self.root

    @property
    def complete(self) -> bool:
        return (self.root / "COMPLETE").exists()


def synth_root(root: str | os.PathLike | None = None) -> Path:
    return Path(root) if root is not None else cache_root() / "synthhmr"


def generate(cfg: SynthConfig, *, root: str | os.PathLike | None = None, workers: int | None = None,
             body_source: str = "free", progress: Callable[[int], None] | None = None,
             total: Callable[[int], None] | None = None) -> SynthDataset:
    """Builds (or finds in the cache) the dataset of `cfg`; returns it. `progress(n)` is called as images
    finish, `total(n)` once with the number of images still to render."""
    from hmr_bench.body.model import resolve_model_path

    body_file = resolve_model_path(body_source)
    ds = SynthDataset(synth_root(root) / dataset_key(cfg, body_file))
    if ds.complete:
        return ds
    ds.root.mkdir(parents=True, exist_ok=True)
    meta = {"config": cfg.to_dict(), "body_model": body_source, "body_file_sha256":
            hashlib.sha256(body_file.read_bytes()).hexdigest(), "generator_version": GENERATOR_VERSION}
    atomic_write(ds.root / "config.json", lambda fh: fh.write(json.dumps(meta, indent=2).encode()))

    jobs = []
    for split in SPLITS:
        n = getattr(cfg, f"n_{split}")
        (ds.root / "images" / split).mkdir(parents=True, exist_ok=True)
        partial = ds.root / f"{split}_images.npy.partial"
        if n and not ds.pack(split).exists() and not partial.exists():
            w, h = cfg.image_size
            np.lib.format.open_memmap(partial, mode="w+", dtype=np.uint8, shape=(n, h, w, 3)).flush()
        for i0 in range(0, n, cfg.chunk):
            if not _chunk_file(ds, split, i0).exists():
                jobs.append((cfg.to_dict(), body_source, str(ds.root), split, i0, min(i0 + cfg.chunk, n)))
    if total:
        total(sum(j[5] - j[4] for j in jobs))
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs) or 1))
    if workers == 1:
        for job in jobs:
            _finish_chunk(ds, job, _render_chunk(job), progress)
    else:
        with mp.get_context("spawn").Pool(workers, initializer=_init_worker) as pool:
            for job, ann in zip(jobs, pool.imap(_render_chunk, jobs)):
                _finish_chunk(ds, job, ann, progress)
    for split in SPLITS:
        if getattr(cfg, f"n_{split}"):
            _assemble_split(ds, cfg, split)
    from hmr_bench.data.synth.card import write_card

    write_card(ds, cfg)
    shutil.rmtree(ds.root / "progress", ignore_errors=True)
    atomic_write(ds.root / "COMPLETE", lambda fh: fh.write(GENERATOR_VERSION.encode()))
    return ds


def _chunk_file(ds: SynthDataset, split: str, i0: int) -> Path:
    return ds.root / "progress" / split / f"{i0:08d}.npz"


def _finish_chunk(ds: SynthDataset, job: tuple, ann: dict[str, np.ndarray], progress) -> None:
    split, i0, i1 = job[3], job[4], job[5]
    atomic_write(_chunk_file(ds, split, i0), lambda fh: np.savez(fh, **ann))
    if progress:
        progress(i1 - i0)


def _assemble_split(ds: SynthDataset, cfg: SynthConfig, split: str) -> None:
    n = getattr(cfg, f"n_{split}")
    parts = []
    for i0 in range(0, n, cfg.chunk):
        with np.load(_chunk_file(ds, split, i0), allow_pickle=False) as z:
            parts.append({k: z[k] for k in z.files})
    arrays = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    write_annotations(ds.npz(split), arrays)
    partial = ds.root / f"{split}_images.npy.partial"
    if partial.exists():
        os.replace(partial, ds.pack(split))


# ---------------------------------------------------------------------------------------------------------
# Worker side: one chunk of images.

_BODY = {}


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def _body(source: str):
    if source not in _BODY:
        from hmr_bench.body.model import load_body_model

        _BODY[source] = load_body_model(source)
    return _BODY[source]


def _render_chunk(job: tuple) -> dict[str, np.ndarray]:
    import torch

    from hmr_bench.data.synth.render_person import render_chunk

    cfg_dict, body_source, root, split, i0, i1 = job
    cfg = SynthConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg_dict.items()})
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # same float operations in the parent as in a worker
    try:
        return render_chunk(cfg, _body(body_source), Path(root), split, i0, i1)
    finally:
        torch.set_num_threads(threads)
