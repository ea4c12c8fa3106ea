"""`hmr-bench data synth`: render SynthHMR splits, cached by config hash, resumable, byte-identical per config.

Layout of one dataset (``<cache>/synthhmr/<key>/``)::

    config.json            the SynthConfig, body model and generator version the key was made from
    train.npz val.npz test.npz            SPIN-format annotations (hmr_bench.data.spin_format)
    train_images.npy ...   uint8 (N, H, W, 3) image packs, row order (what the loader reads fastest)
    images/train/000000.png ...           the same pixels as PNG files (what SPIN-format tools expect; `png.encode_png`)
    card.json card.md distributions.png preview.png       the dataset card
    COMPLETE               written last; a dataset without it is unfinished

Processes sharing a cache render a dataset once: one renders it under a lock file (``<key>.lock`` beside its
folder) while the others wait, then find it complete. A complete dataset is checked (each split's annotations
and image pack whole) every time it is used; a damaged one is an error naming the folder to delete.

Work is split into chunks of ``cfg.chunk`` images. A finished chunk's annotations are saved under
``progress/`` atomically, so an interrupted run resumes at the first unfinished chunk; packs are written as
``*.partial`` and renamed only when the split is complete. Every image's randomness depends only on
(seed, split, index) and every chunk does the same float operations whatever the number of workers, so the
same config gives the same bytes. With more than one worker, this process renders chunks too, beside
``workers − 1`` worker processes (`_render_in_pool`).
"""

from __future__ import annotations

import collections
import hashlib
import json
import logging
import multiprocessing as mp
import os
import queue
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hmr_bench.data.spin_format import write_annotations
from hmr_bench.data.synth.scene import SPLITS, SynthConfig
from hmr_bench.errors import InputError
from hmr_bench.io import atomic_write, file_lock
from hmr_bench.paths import cache_root

log = logging.getLogger(__name__)

GENERATOR_VERSION = "2"  # bump when the same config must give different bytes (2: numba renderer, own PNG writer)


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
    finish, `total(n)` once with the number of images still to render. A missing or malformed body model fails
    before anything is written; another process rendering the same dataset is waited for."""
    from hmr_bench.body.model import load_body_model, resolve_model_path

    load_body_model(body_source)  # raises InputError naming the file
    body_file = resolve_model_path(body_source)
    ds = SynthDataset(synth_root(root) / dataset_key(cfg, body_file))
    if not ds.complete:
        ds.root.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(ds.root.parent / f"{ds.root.name}.lock",
                       on_wait=lambda: log.info("waiting for another process rendering %s", ds.root)):
            if not ds.complete:  # else another process rendered it while this one waited
                _render(ds, cfg, workers, body_source, body_file, progress, total)
    check_complete(ds, cfg)
    return ds


def check_complete(ds: SynthDataset, cfg: SynthConfig) -> None:
    """Raises InputError naming the file and the folder to delete when a split's annotations (``.npz``) or image
    pack (``.npy``) of a complete dataset is missing, truncated or unreadable."""
    import zipfile

    for split in SPLITS:
        n = getattr(cfg, f"n_{split}")
        if not n:
            continue
        npz, pack = ds.npz(split), ds.pack(split)
        found = None
        try:
            zipfile.ZipFile(npz).close()
        except (OSError, zipfile.BadZipFile) as e:
            found = (npz, f"an unreadable or truncated archive ({type(e).__name__}: {e})")
        if found is None:
            found = _pack_damage(pack, n)
        if found is not None:
            raise InputError(found[0], found=found[1], expected="a complete file of the cached SynthHMR dataset",
                             hint=f"The cached dataset is damaged: delete the folder {ds.root} and run again to "
                             "render it anew")


def _pack_damage(pack: Path, n: int) -> tuple[Path, str] | None:
    """(pack, what is wrong) when the image pack is missing, unreadable, not n rows or shorter than its header
    says; None when it is whole."""
    try:
        with open(pack, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if read_header is None:
                return pack, f"an image pack in .npy format version {version}, not 1.0 or 2.0"
            shape, _, dtype = read_header(fh)
            offset = fh.tell()
    except (OSError, ValueError) as e:
        return pack, f"an unreadable image pack ({type(e).__name__}: {e})"
    size, need = pack.stat().st_size, offset + int(np.prod(shape)) * dtype.itemsize
    if size < need:
        return pack, f"a truncated file ({size} bytes; its header {shape} {dtype} needs {need})"
    if len(shape) != 4 or shape[0] != n:
        return pack, f"an image pack of shape {shape}; expected {n} rows"
    return None


def _render(ds: SynthDataset, cfg: SynthConfig, workers, body_source: str, body_file: Path, progress, total) -> None:
    """Renders what is missing of `ds` (resuming at the first unfinished chunk) and marks it COMPLETE."""
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
        for job, ann in _render_in_pool(jobs, workers):
            _finish_chunk(ds, job, ann, progress)
    for split in SPLITS:
        if getattr(cfg, f"n_{split}"):
            _assemble_split(ds, cfg, split)
    from hmr_bench.data.synth.card import write_card

    write_card(ds, cfg)
    shutil.rmtree(ds.root / "progress", ignore_errors=True)
    atomic_write(ds.root / "COMPLETE", lambda fh: fh.write(GENERATOR_VERSION.encode()))


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


def _render_in_pool(jobs: list[tuple], workers: int):
    """Yields (job, annotations) as chunks finish, in any order, rendered by this process and workers − 1 spawned
    ones. This process renders from the start (a spawned worker takes seconds to import torch and load its
    kernels); a spawned worker gets its first job once it has reported ready and its next one as soon as it
    returns one (from the pool's result thread), so jobs never queue up behind a worker that is still starting
    and no worker holds the last jobs while this process idles. Spawned, not forked: libgomp is not fork-safe
    once torch has run (and a forkserver would block here until it had imported torch)."""
    todo = collections.deque(jobs)
    lock = threading.Lock()
    results: queue.Queue = queue.Queue()
    outstanding = len(jobs)

    with mp.get_context("spawn").Pool(workers - 1, initializer=_init_worker) as pool:

        def hand_out(_=None) -> None:  # runs in the pool's result thread: give a ready worker its next job
            with lock:
                job = todo.popleft() if todo else None
            if job is not None:
                pool.apply_async(_render_chunk, (job,), callback=lambda ann, job=job: done(job, ann),
                                 error_callback=results.put)

        def done(job, ann) -> None:
            results.put((job, ann))
            hand_out()

        for _ in range(workers - 1):
            pool.apply_async(_worker_ready, callback=hand_out, error_callback=results.put)
        while outstanding:
            while not results.empty() or outstanding and not todo:
                item = results.get()
                if isinstance(item, BaseException):
                    raise item
                outstanding -= 1
                yield item
            with lock:
                job = todo.popleft() if todo else None
            if job is not None:
                ann = _render_chunk(job)
                outstanding -= 1
                yield job, ann


def _worker_ready() -> int:
    """Loads what a worker needs before its first job (imports, kernels from the numba cache)."""
    from hmr_bench.data.synth import render_person  # noqa: F401

    return os.getpid()


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
