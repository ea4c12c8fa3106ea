"""Qualitative gallery: test images with each row's predicted mesh rendered over them, the ground truth beside.

The images are the reference row's worst test samples (by per-sample MPJPE in the store) plus its median and
best one. Each row's model is rebuilt (`models.build.build_model`) from its run's config, loaded from the run's
best checkpoint (``<cache>/runs/<config_hash>/best.pt``) and run on the same samples (`train.data.build_data`,
no augmentation); the evaluated RoI's mesh is placed in the full image with `geometry.cameras.crop_to_full` and
drawn with SynthHMR's rasteriser (`data.synth.render.render`). A run without a checkpoint, with a checkpoint
that is refused (damaged, or not plain tensors), or with data that is not on this machine, gets no tile, and the
page says which and why. SynthHMR data is never rendered here: a dataset missing
from the cache is reported, not regenerated.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hmr_bench.errors import HmrBenchError, InputError

log = logging.getLogger(__name__)

DISPLAY_H = 150  # tile height in pixels (images are scaled, the mesh is drawn at this resolution)
PRED_RGB = (0.55, 0.72, 0.98)
GT_RGB = (0.55, 0.9, 0.55)
MESH_OPACITY = 0.7
JPEG_QUALITY = 88


class CheckpointRefused(HmrBenchError):
    """A run's best.pt exists but cannot be loaded safely (the message says which file and why)."""


@dataclass
class Tile:
    """One picture of the gallery: png (a data: URI) or None, with a caption; note says why there is no picture."""

    png: str | None
    caption: str
    note: str = ""


@dataclass
class GalleryRow:
    label: str  # "worst 1", "median", "best"
    index: int  # the sample's row in the test split
    action: str
    tiles: list[Tile]


@dataclass
class Gallery:
    """columns: the tile headings (image, ground truth, then one per table row); reason: why there is no gallery
    at all (None when there is one); notes: rows left out and why."""

    columns: list[str] = field(default_factory=list)
    rows: list[GalleryRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reason: str | None = None


def pick_samples(index: np.ndarray, value: np.ndarray, n_worst: int = 3) -> list[tuple[str, int]]:
    """(label, sample index) of the n_worst largest errors (worst first), then the median and the best sample;
    NaN errors are never picked, an index is never picked twice. index, value: (N,)."""
    ok = np.isfinite(value)
    idx, val = index[ok], value[ok]
    if not len(idx):
        return []
    order = np.argsort(-val, kind="stable")
    picks = [(f"worst {k + 1}", int(idx[order[k]])) for k in range(min(n_worst, len(idx)))]
    for label, pos in (("median", order[len(order) // 2]), ("best", order[-1])):
        if int(idx[pos]) not in {i for _, i in picks}:
            picks.append((label, int(idx[pos])))
    return picks


def _png(rgb: np.ndarray) -> str:
    """An (H, W, 3) uint8 RGB image as a data: URI (JPEG: a gallery of photos stays a few hundred kB)."""
    import cv2

    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise InputError("gallery", "image", found=f"shape {rgb.shape}", expected="an (H, W, 3) uint8 image")
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode()


def display_image(image: np.ndarray, img_w: float, img_h: float) -> tuple[np.ndarray, float]:
    """The image scaled to DISPLAY_H rows (from its annotated size img_w × img_h) and the scale s from annotated
    pixels to display pixels."""
    import cv2

    s = DISPLAY_H / float(img_h)
    size = (max(1, round(img_w * s)), DISPLAY_H)
    interp = cv2.INTER_LINEAR if s * image.shape[0] / img_h >= 1 else cv2.INTER_AREA
    return cv2.resize(np.ascontiguousarray(image), size, interpolation=interp), s


def overlay(image: np.ndarray, verts_cam: np.ndarray, faces: np.ndarray, parts: np.ndarray, K, colour) -> np.ndarray:
    """image (H, W, 3) uint8 with the mesh verts_cam (V, 3) (camera frame, metres) drawn over it, flat-shaded in
    `colour` at MESH_OPACITY; K = (fx, fy, cx, cy) in the image's pixels."""
    from hmr_bench.data.synth.render import REGIONS, Appearance, render

    c = np.asarray(colour, np.float32)
    light = np.array([0.3, -0.5, -0.81], np.float32)
    look = Appearance(region_rgb=np.tile(c, (len(REGIONS), 1)), skin_rgb=c, long_sleeves=True, long_trousers=True,
                      light_dir=light / np.linalg.norm(light), ambient=0.45, diffuse=0.6, noise=0, seed=0)
    res = render(np.asarray(verts_cam, np.float64), faces, parts, K, look, image, cull_backfaces=False)
    out = image.copy()
    m = res.mask
    out[m] = (MESH_OPACITY * res.rgb[m] + (1 - MESH_OPACITY) * image[m]).round().astype(np.uint8)
    return out


def _keypoints(image: np.ndarray, kp: np.ndarray, s: float) -> np.ndarray:
    """image with the keypoints kp (J, 3) (annotated pixels + confidence) drawn as dots, scaled by s."""
    import cv2

    out = image.copy()
    for x, y, c in kp:
        if c > 0:
            cv2.circle(out, (round(x * s), round(y * s)), 2, (80, 230, 80), -1, lineType=cv2.LINE_AA)
    return out


def _dataset_missing(run: dict, data_root) -> str | None:
    """Why the run's test data cannot be read here, or None."""
    key = run.get("dataset_key") or ""
    if key.startswith("real:"):
        return None if data_root else "real data: give --data-root to draw the gallery"
    from hmr_bench.data.synth.generate import synth_root

    folder = Path(synth_root()) / key
    if not (folder / "COMPLETE").exists():
        return f"SynthHMR dataset {key} is not in this cache ({folder})"
    return None


class _Predictor:
    """One row's model (rebuilt from its run's config and best checkpoint) and its test dataset."""

    def __init__(self, run: dict, protocol: str, data_root, bodies: dict):
        import torch

        from hmr_bench.body import load_body_model
        from hmr_bench.config import RunConfig
        from hmr_bench.models.build import build_model
        from hmr_bench.train.checkpoint import load_checkpoint
        from hmr_bench.train.data import build_data
        from hmr_bench.train.trainer import run_dir

        self.cfg = RunConfig.from_dict(run["config"], source=f"run {run['run_id']} config")
        best = run_dir(run["config_hash"]) / "best.pt"
        if not best.exists():
            raise FileNotFoundError(best)
        data = build_data(self.cfg, data_root)
        if protocol not in data.test:
            raise InputError(f"run {run['run_id']}", "protocol", found=repr(protocol),
                             expected="one of " + ", ".join(data.test))
        self.dataset, self.protocol_name = data.test[protocol], protocol
        if self.cfg.body_model not in bodies:
            bodies[self.cfg.body_model] = load_body_model(self.cfg.body_model)
        self.body = bodies[self.cfg.body_model]
        with torch.random.fork_rng():  # building a model draws initial weights: leave the caller's RNG alone
            self.model = build_model(self.cfg, self.body)
        try:
            state = load_checkpoint(best)["model"]
        except InputError as e:
            raise CheckpointRefused(str(e)) from None
        self.model.load_state_dict(state)
        self.model.eval()

    def batch(self, indices: list[int]) -> dict:
        from torch.utils.data import default_collate

        return default_collate([self.dataset.sample(i) for i in indices])

    def predict(self, batch: dict) -> np.ndarray:
        """(K, V, 3) predicted vertices in the full-image camera frame (the evaluated RoI)."""
        import torch

        from hmr_bench.eval.protocols import get_protocol
        from hmr_bench.geometry.cameras import crop_to_full
        from hmr_bench.models.common import select_eval_roi
        from hmr_bench.train.step import run_model

        over = {"split": "test"} if self.protocol_name == "synth-test" else {}
        roi = get_protocol(self.protocol_name, **over).roi
        with torch.no_grad():
            out = select_eval_roi(run_model(self.model, batch, self.cfg), roi)
            verts = self.body(out.betas, rotmat=out.rotmat).vertices
            t = crop_to_full(out.cam, batch["center"][:, roi].float(), batch["b"][:, roi].float(),
                             batch["img_w"].float(), batch["img_h"].float(), batch["focal"].float())
        return (verts + t[:, None]).double().numpy()

    def gt_vertices(self, batch: dict) -> np.ndarray | None:
        """(K, V, 3) ground-truth vertices in the camera frame, or None when the data has no camera translation."""
        import torch

        if "cam_t" not in batch:
            return None
        with torch.no_grad():
            v = self.body(batch["betas"].float(), axis_angle=batch["pose"].float()).vertices
        return (v.double() + batch["cam_t"].double()[:, None]).numpy()

    def image(self, i: int) -> np.ndarray:
        from hmr_bench.data.images import read_image

        ds = self.dataset
        if ds.pack is not None:
            return ds.pack[i]
        return read_image(ds.img_root / str(ds.arrays["imgname"][i]), ds.source, row=i)


def _camera(batch: dict, k: int, s: float) -> tuple[float, float, float, float]:
    """K = (fx, fy, cx, cy) of sample k of a batch, scaled by s into display pixels."""
    f, w, h = (float(batch[x][k]) for x in ("focal", "img_w", "img_h"))
    return (f * s, f * s, w / 2 * s, h / 2 * s)


def _predictors(sec, rows, by_id: dict, seed: int, data_root, gal: Gallery) -> list[tuple[str, dict, _Predictor]]:
    """(row name, run, predictor) of each row that has a checkpoint here (its run with `seed`, else its lowest
    seed); the others are noted in `gal`."""
    bodies: dict = {}
    out = []
    for rr in rows:
        run = min((by_id[i] for i in rr.run_ids if i in by_id), key=lambda r: (r["seed"] != seed, r["seed"]))
        try:
            out.append((rr.name, run, _Predictor(run, sec.protocol, data_root, bodies)))
        except FileNotFoundError as e:
            gal.notes.append(f"{rr.name}: no checkpoint ({e}), so no gallery column for this run")
        except CheckpointRefused as e:
            gal.notes.append(f"{rr.name}: its checkpoint was refused ({e}), so no gallery column for this run")
        except (HmrBenchError, RuntimeError, KeyError) as e:  # a model or data that cannot be rebuilt here
            gal.notes.append(f"{rr.name}: cannot rebuild the model or data ({type(e).__name__}: {e})")
    return out


def build_gallery(store, sec, data_root=None, n_worst: int = 3) -> Gallery:
    """The gallery of one report section (`collect.Section`): images × (image, ground truth, each row)."""
    from hmr_bench.data.synth.render import face_parts

    rows = [rr for rr in sec.result.rows if rr.run_ids]
    if not rows:
        return Gallery(reason="no finished run")
    ref = next((rr for rr in rows if rr.name == sec.table.reference), rows[0])
    by_id = {r["run_id"]: r for r in sec.finished}
    ref_run = min((by_id[i] for i in ref.run_ids if i in by_id), key=lambda r: r["seed"])
    s = store.samples(ref_run["run_id"], "test", "mpjpe", dataset=sec.protocol)
    picks = pick_samples(s["index"], s["value"], n_worst)
    if not picks:
        return Gallery(reason=f"run {ref_run['run_id']} logged no per-sample errors")
    why = _dataset_missing(ref_run, data_root)
    if why:
        return Gallery(reason=why)
    gal = Gallery(columns=["image", "ground truth"])
    preds = _predictors(sec, rows, by_id, ref_run["seed"], data_root, gal)
    if not preds:
        gal.reason = "no row can be drawn: " + "; ".join(gal.notes)
        return gal

    indices = [i for _, i in picks]
    first = next((p for name, _, p in preds if name == ref.name), preds[0][2])  # images and GT come from it
    ref_batch = first.batch(indices)
    faces = first.body.faces.astype(np.int32)
    parts = face_parts(first.body.smpl.lbs_weights.numpy(), faces)
    gt = first.gt_vertices(ref_batch)
    shown = [display_image(first.image(i), float(ref_batch["img_w"][k]), float(ref_batch["img_h"][k]))
             for k, i in enumerate(indices)]
    columns: list[list[Tile]] = [[Tile(_png(img), f"#{i}") for (img, _), i in zip(shown, indices)], []]
    for k, (img, sk) in enumerate(shown):
        if gt is not None:
            columns[1].append(_mesh_tile(img, gt[k], faces, parts, _camera(ref_batch, k, sk), GT_RGB, "ground truth"))
        else:
            kp = ref_batch["keypoints_full"][k, 25:].double().numpy()
            columns[1].append(Tile(_png(_keypoints(img, kp, sk)), "GT keypoints (no camera translation)"))
    for name, run, p in preds:
        gal.columns.append(f"{name} (seed {run['seed']})")
        err = store.samples(run["run_id"], "test", "mpjpe", dataset=sec.protocol)
        errs = dict(zip(err["index"].tolist(), err["value"].tolist()))
        batch = ref_batch if p is first else p.batch(indices)
        try:
            verts = p.predict(batch)
        except (HmrBenchError, RuntimeError) as e:
            gal.notes.append(f"{name}: prediction failed ({type(e).__name__}: {e})")
            columns.append([Tile(None, name, "prediction failed") for _ in indices])
            continue
        col = []
        for k, ((img, sk), i) in enumerate(zip(shown, indices)):
            e = errs.get(i)
            cap = f"MPJPE {e:.1f} mm" if e is not None and np.isfinite(e) else "MPJPE –"
            col.append(_mesh_tile(img, verts[k], faces, parts, _camera(batch, k, sk), PRED_RGB, cap))
        columns.append(col)
    for k, (label, i) in enumerate(picks):
        action = str(ref_batch["action"][k]) if "action" in ref_batch else ""
        gal.rows.append(GalleryRow(label, i, action, [col[k] for col in columns]))
    return gal


def _mesh_tile(image: np.ndarray, verts: np.ndarray, faces, parts, K, colour, caption: str) -> Tile:
    """A tile of `overlay`; a mesh that cannot be drawn (e.g. non-finite) gives a tile without picture."""
    try:
        return Tile(_png(overlay(image, verts, faces, parts, K, colour)), caption)
    except InputError as e:
        log.warning("gallery tile not drawn: %s", e)
        return Tile(None, caption, f"not drawable ({e.found})")
