"""Data-path speed: SynthHMR generation (per process, per stage, and `generate()` with 2 workers end to end) and
multi-RoI sample assembly. Run: ``pytest benchmarks --benchmark-only`` (each benchmark takes well under 30 s).

Targets (issue "SynthHMR and the data path"): generation >= 300 images/s at 256² on 2 cores, i.e. >= 150
images/s per process; sample assembly fast enough that CPU training (70–150 samples/s) never waits, i.e.
well above that per loader process. Figures (image_per_s, ms_per_image, cpu_ms_per_image, sample_per_s, ...,
steady_image_per_s) are stored as speed records with their provenance (`conftest.provenance`, scope "data").
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from benchmarks.conftest import provenance

SIZE = 256  # image side, pixels
CHUNK = 64  # images per render_chunk call (SynthConfig.chunk)
N_GENERATE = 256  # images of the end-to-end generate() benchmark


def _mean_s(benchmark) -> float | None:
    stats = getattr(benchmark, "stats", None)
    return stats.stats.mean if stats is not None else None


def _cpu_timed(fn, cpu: list[float]):
    """fn, appending the CPU seconds of this process that each call takes to `cpu`."""
    def timed(*args, **kwargs):
        start = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            cpu.append(time.process_time() - start)
    return timed


def _record(benchmark, per: int, unit: str, cpu: list[float], what: str, **sizes) -> None:
    """Throughput (per / mean round time) and CPU ms per item (timed rounds only, the warm-up round dropped) as speed
    records, with provenance."""
    from hmr_bench.bench.results import records

    mean = _mean_s(benchmark)
    timed = cpu[1:] or cpu
    figures = {f"{unit}_per_s": per / mean, f"ms_per_{unit}": 1e3 * mean / per} if mean else {}
    figures[f"cpu_ms_per_{unit}"] = 1e3 * sum(timed) / (len(timed) * per)
    benchmark.extra_info["records"] = records(provenance(what=what, **sizes), figures)


# ------------------------------------------------------------------------------------------- generation
@pytest.fixture()
def chunk_target(tmp_path, body):
    """render_chunk on fresh rows each round (a new chunk of CHUNK images, new files)."""
    from hmr_bench.data.synth.render_person import render_chunk
    from hmr_bench.data.synth.scene import SynthConfig

    rounds = 8
    cfg = SynthConfig(image_size=(SIZE, SIZE), n_train=CHUNK * rounds, n_val=0, n_test=0, chunk=CHUNK)
    (tmp_path / "images" / "train").mkdir(parents=True)
    np.lib.format.open_memmap(tmp_path / "train_images.npy.partial", mode="w+", dtype=np.uint8,
                              shape=(CHUNK * rounds, SIZE, SIZE, 3)).flush()
    chunks = itertools.count()

    def setup():
        i0 = CHUNK * (next(chunks) % rounds)
        return (cfg, body, tmp_path, "train", i0, i0 + CHUNK), {}

    return render_chunk, setup


def test_generation_per_process(benchmark, chunk_target, one_torch_thread):
    """render_chunk: everything one worker does per image (body model, scene, pixels, labels, PNG + pack)."""
    render_chunk, setup = chunk_target
    cpu: list[float] = []
    benchmark.pedantic(_cpu_timed(render_chunk, cpu), setup=setup, rounds=4, warmup_rounds=1)
    _record(benchmark, CHUNK, "image", cpu, f"generation, one process (chunks of {CHUNK} images)", image_size=SIZE,
            chunk=CHUNK)


@pytest.fixture(scope="module")
def stage_inputs(body):
    """Inputs of every rendering stage for 32 SynthHMR images (built once)."""
    import torch

    from hmr_bench.data.rois import box_corners, box_from_keypoints
    from hmr_bench.data.synth.render import face_parts, make_background, render, sample_appearance, sample_occluders
    from hmr_bench.data.synth.render_person import _keypoints, is_closed
    from hmr_bench.data.synth.scene import SynthConfig, place, sample_scene

    cfg = SynthConfig(image_size=(SIZE, SIZE))
    scenes = [sample_scene(cfg, "train", i) for i in range(32)]
    pose = torch.tensor(np.stack([np.concatenate([s.global_orient, s.body_pose]) for s in scenes]),
                        dtype=torch.float32)
    betas = torch.tensor(np.stack([s.betas for s in scenes]), dtype=torch.float32)
    with torch.no_grad():
        out = body(betas, axis_angle=pose)
    faces = body.faces.astype(np.int32)
    parts = face_parts(body.smpl.lbs_weights.numpy(), faces)
    closed = is_closed(faces)
    items = []
    for k, s in enumerate(scenes):
        joints = out.joints("spin49")[k, 25:].double().numpy()
        cam_t, _ = place(s, cfg, out.joints("smpl24")[k, 0].double().numpy(), joints)
        center, b = box_from_keypoints(_keypoints(joints + cam_t, s.focal, SIZE, SIZE))
        rng = np.random.default_rng(k)
        background = make_background(rng, SIZE, SIZE, cfg.difficulty)
        look = sample_appearance(rng, cfg.difficulty, background)
        box = box_corners(center, b)
        occluders = sample_occluders(rng, SIZE, SIZE, box, cfg.difficulty)
        verts = out.vertices[k].double().numpy() + cam_t
        K = (s.focal, s.focal, SIZE / 2, SIZE / 2)
        rgb = render(verts, faces, parts, K, look, background, occluders, cull_backfaces=closed).rgb
        items.append(dict(verts=verts, K=K, look=look, background=background, occluders=occluders, box=box, rgb=rgb))
    return dict(cfg=cfg, items=items, faces=faces, parts=parts, closed=closed, pose=pose, betas=betas)


def _stage(name: str, inputs: dict, body):
    """A function doing stage `name` for every image of `inputs`."""
    import torch

    from hmr_bench.data.synth.render import make_background, render, sample_appearance, sample_occluders

    items, d = inputs["items"], inputs["cfg"].difficulty
    faces, parts, closed = inputs["faces"], inputs["parts"], inputs["closed"]
    rng = np.random.default_rng(0)

    def body_model():
        with torch.no_grad():
            return body(inputs["betas"], axis_angle=inputs["pose"])

    def png():
        from hmr_bench.data.synth.png import encode_png

        return [encode_png(it["rgb"]) for it in items]

    stages = {
        "body_model": body_model,
        "background": lambda: [make_background(rng, SIZE, SIZE, d) for _ in items],
        "appearance": lambda: [sample_appearance(rng, d, it["background"]) for it in items],
        "occluders": lambda: [sample_occluders(rng, SIZE, SIZE, it["box"], d) for it in items],
        "render": lambda: [render(it["verts"], faces, parts, it["K"], it["look"], it["background"], it["occluders"],
                                  cull_backfaces=closed) for it in items],
        "png": png,
    }
    return stages[name]


@pytest.mark.parametrize("stage", ["body_model", "background", "appearance", "occluders", "render", "png"])
def test_generation_stage(benchmark, stage, stage_inputs, body, one_torch_thread):
    """Per-image time of one stage ("render": rasterise, shade, composite, occlusion ratio)."""
    benchmark.group = "synth-stages"
    cpu: list[float] = []
    benchmark.pedantic(_cpu_timed(_stage(stage, stage_inputs, body), cpu), rounds=5, warmup_rounds=1)
    _record(benchmark, len(stage_inputs["items"]), "image", cpu, f"generation stage: {stage}", image_size=SIZE,
            stage=stage)


@pytest.mark.parametrize("images, card", [(N_GENERATE, True), (N_GENERATE, False), (4 * N_GENERATE, False)],
                         ids=lambda v: ("card" if v else "no-card") if isinstance(v, bool) else str(v))
def test_generate_two_workers_end_to_end(benchmark, tmp_path, images, card, monkeypatch):
    """`generate()` with 2 workers: train images at 256², from nothing to a COMPLETE dataset (a spawned worker's
    start-up, rendering, annotations and, with-card, the dataset card). steady_image_per_s: the rate between
    the first quarter of the chunks and the last."""
    from hmr_bench.data.synth import card as card_module
    from hmr_bench.data.synth.generate import generate
    from hmr_bench.data.synth.scene import SynthConfig

    if not card:
        monkeypatch.setattr(card_module, "write_card", lambda ds, cfg: None)
    cfg = SynthConfig(image_size=(SIZE, SIZE), n_train=images, n_val=0, n_test=0)
    roots = (tmp_path / f"round{i}" for i in itertools.count())
    marks: list[float] = []

    def run():
        marks.clear()
        t0 = time.perf_counter()
        generate(cfg, root=next(roots), workers=2, progress=lambda n: marks.append(time.perf_counter() - t0))

    benchmark.pedantic(run, rounds=2, warmup_rounds=1)
    from hmr_bench.bench.results import records

    mean = _mean_s(benchmark)
    figures = {"image_per_s": images / mean} if mean else {}
    q = len(marks) // 4
    if len(marks) - q >= 2 and marks[-1] > marks[q]:
        figures.update(steady_image_per_s=(len(marks) - 1 - q) * cfg.chunk / (marks[-1] - marks[q]),
                       first_chunk_s=marks[0])
    what = f"generate() end to end, 2 workers, {images} images" + (", with dataset card" if card else "")
    benchmark.extra_info["records"] = records(provenance(what=what, image_size=SIZE, images=images, workers=2,
                                                         card=card), figures)


# -------------------------------------------------------------------------------------------- samples
@pytest.mark.parametrize("crop", [(48, 64), (36, 48)], ids=["48x64", "36x48"])
def test_sample_assembly(benchmark, synth_split, crop, one_torch_thread):
    """SpinDataset train=True, 5 RoIs, one process with one cv2 thread (as in a loader worker): samples/s."""
    import cv2

    from hmr_bench.data.dataset import SampleKey, SpinDataset

    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        ds = SpinDataset(synth_split.npz("train"), synth_split.image_root, num_rois=5, crop_size=crop, train=True)
        n = 256
        epochs = itertools.count()

        def assemble():
            epoch = next(epochs)
            for i in range(n):
                ds[SampleKey(i % len(ds), epoch)]

        cpu: list[float] = []
        benchmark.pedantic(_cpu_timed(assemble, cpu), rounds=5, warmup_rounds=1)
    finally:
        cv2.setNumThreads(threads)
    _record(benchmark, n, "sample", cpu, f"sample assembly, 5 RoIs, crop {crop[0]}×{crop[1]}", image_size=SIZE,
            crop_size=list(crop), num_rois=5, cv2_threads=1)

