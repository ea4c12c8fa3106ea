"""One chunk of SynthHMR images: pose the bodies, place them, render them, and write exact ground truth.

Per image (all randomness from `scene.image_rng(cfg, split, index)`): a scene (action, pose, shape, focal,
heading), a placement (`scene.place`), a background, an appearance and occluders, the rendered pixels, and the
SPIN-format annotation row. 2D keypoint confidence (``part[:, 2]``) is 1 for every GT joint that projects
inside the image — its position is exact even when a limb or an occluder hides it — and ``part_visible`` says
whether it can be seen (`render.keypoint_visibility`). The GT box is SPIN's box from those keypoints.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from hmr_bench.body.joint_sets import COCO17_SMPL_PART, SPIN24_SMPL_PART
from hmr_bench.data.rois import box_corners, box_from_keypoints
from hmr_bench.data.synth.png import encode_png
from hmr_bench.data.synth.render import (
    face_parts,
    keypoint_visibility,
    make_background,
    render,
    sample_appearance,
    sample_occluders,
)
from hmr_bench.data.synth.scene import SynthConfig, place, sample_scene
from hmr_bench.errors import InputError

SPIN24_PARTS, COCO17_PARTS = np.array(SPIN24_SMPL_PART), np.array(COCO17_SMPL_PART)
_MESH_INFO: dict[int, tuple[np.ndarray, bool]] = {}


def is_closed(faces: np.ndarray) -> bool:
    """True when every edge of the mesh belongs to exactly two faces (back faces are then never the first hit
    seen from outside, so culling them changes no pixel)."""
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    return bool(np.all(counts == 2))


def _project(points: np.ndarray, focal: float, width: int, height: int) -> np.ndarray:
    """Pinhole projection of camera-frame points (J, 3) to pixels (J, 2), principal point at the centre."""
    return focal * points[:, :2] / points[:, 2:] + np.array([width / 2, height / 2])


def _keypoints(points: np.ndarray, focal: float, width: int, height: int) -> np.ndarray:
    """(J, 3): pixels + 1 where the projection lies inside the image (and in front of the camera), else 0."""
    uv = _project(points, focal, width, height)
    inside = (points[:, 2] > 0) & (uv[:, 0] >= 0) & (uv[:, 0] < width) & (uv[:, 1] >= 0) & (uv[:, 1] < height)
    return np.concatenate([uv, inside[:, None].astype(np.float64)], 1)


def image_name(split: str, index: int) -> str:
    return f"images/{split}/{index:06d}.png"


def render_chunk(cfg: SynthConfig, body, root: Path, split: str, i0: int, i1: int) -> dict[str, np.ndarray]:
    """Renders images i0..i1−1 of `split` into the pack and PNG files under `root`; returns their annotations."""
    scenes = [sample_scene(cfg, split, i) for i in range(i0, i1)]
    pose = torch.tensor(np.stack([np.concatenate([s.global_orient, s.body_pose]) for s in scenes]),
                        dtype=torch.float32)
    betas = torch.tensor(np.stack([s.betas for s in scenes]), dtype=torch.float32)
    with torch.no_grad():
        out = body(betas, axis_angle=pose)
        joints = {name: out.joints(name).double().numpy() for name in ("spin49", "smpl24", "h36m17", "coco17")}
    verts = out.vertices.double().numpy()
    faces = body.faces.astype(np.int32)
    if id(body) not in _MESH_INFO:
        _MESH_INFO[id(body)] = (face_parts(body.smpl.lbs_weights.numpy(), faces), is_closed(faces))
    mesh = (faces, *_MESH_INFO[id(body)])

    rows: list[dict] = []
    w, h = cfg.image_size
    pack = _PackWriter(root / f"{split}_images.npy.partial", (h, w, 3))
    try:
        for k, s in enumerate(scenes):
            row, res = _render_image(cfg, s, image_name(split, i0 + k), pose[k].double().numpy(), verts[k],
                                     {name: j[k] for name, j in joints.items()}, mesh)
            rows.append(row)
            pack.write(i0 + k, res.rgb)
            (root / image_name(split, i0 + k)).write_bytes(encode_png(res.rgb))
            if cfg.write_parts:
                (root / image_name(split, i0 + k).replace(".png", "_parts.png")).write_bytes(encode_png(res.part_map))
        pack.sync()  # on disk before the chunk's annotations are saved as done
    finally:
        pack.close()
    return {key: _stack(key, [r[key] for r in rows]) for key in rows[0]}


def _render_image(cfg: SynthConfig, s, imgname: str, pose: np.ndarray, verts: np.ndarray,
                  joints: dict[str, np.ndarray], mesh: tuple):
    """One image of scene s: its annotation row and the `render.RenderResult`. pose: (72,) axis-angle; verts:
    (V, 3) the root-relative posed body; joints: {set name: (J, 3)}; mesh: (faces, face parts, closed)."""
    faces, fparts, closed = mesh
    w, h = cfg.image_size
    gt24 = joints["spin49"][25:]
    cam_t, _ = place(s, cfg, joints["smpl24"][0], gt24)
    K = (s.focal, s.focal, w / 2, h / 2)
    part = _keypoints(gt24 + cam_t, s.focal, w, h)
    center, b = box_from_keypoints(part)
    background = make_background(s.rng, h, w, cfg.difficulty)
    appearance = sample_appearance(s.rng, cfg.difficulty, background)
    occluders = sample_occluders(s.rng, h, w, box_corners(center, b), cfg.difficulty)
    verts_cam = verts + cam_t
    res = render(verts_cam, faces, fparts, K, appearance, background, occluders, want_parts=cfg.write_parts,
                 cull_backfaces=closed)

    buffers = (K, w, h, res.face_id, res.surface_depth, fparts)
    coco = _keypoints(joints["coco17"] + cam_t, s.focal, w, h)
    coco[:, 2] *= keypoint_visibility(joints["coco17"] + cam_t, *buffers, COCO17_PARTS, occluders.mask)
    row = {
        "imgname": imgname, "center": center, "scale": b / 200.0, "part": part,
        "part_visible": keypoint_visibility(gt24 + cam_t, *buffers, SPIN24_PARTS, occluders.mask).astype(np.uint8),
        "S": np.concatenate([gt24 + cam_t, np.ones((24, 1))], 1),
        "pose": pose, "shape": s.betas, "has_smpl": 1, "gender": "n",
        "focal_length": s.focal, "img_w": w, "img_h": h, "cam_t": cam_t, "action": s.action,
        "occlusion": res.occlusion_ratio, "heading_deg": s.heading_deg,
        "joints_smpl24": joints["smpl24"] + cam_t, "joints_h36m17": joints["h36m17"] + cam_t,
        "joints_coco17": joints["coco17"] + cam_t, "keypoints_coco17": coco,
    }
    if cfg.write_vertices:
        row["vertices"] = verts_cam.astype(np.float32)
    return row, res


class _PackWriter:
    """Writes images into rows of an uint8 (N, H, W, 3) ``.npy`` with plain file writes (a memory map of the
    file costs more in page faults than rendering does). Workers write disjoint rows of one file."""

    def __init__(self, path: Path, image_shape: tuple[int, int, int]):
        self.fh = open(path, "r+b")  # noqa: SIM115 (closed by close())
        version = np.lib.format.read_magic(self.fh)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(self.fh)
        if dtype != np.uint8 or fortran or tuple(shape[1:]) != tuple(image_shape):
            self.fh.close()
            raise InputError(path, found=f"an image pack of shape {shape}, dtype {dtype}",
                             expected=f"uint8 (N, {', '.join(map(str, image_shape))}) in C order")
        self.offset, self.rows, self.row_bytes = self.fh.tell(), shape[0], int(np.prod(image_shape))

    def write(self, index: int, image: np.ndarray) -> None:
        if not 0 <= index < self.rows:
            raise IndexError(f"image pack row {index} out of range 0..{self.rows - 1}")
        self.fh.seek(self.offset + index * self.row_bytes)
        self.fh.write(np.ascontiguousarray(image, np.uint8).data)

    def sync(self) -> None:
        self.fh.flush()
        os.fsync(self.fh.fileno())

    def close(self) -> None:
        self.fh.close()


def _stack(key: str, values: list) -> np.ndarray:
    arr = np.stack([np.asarray(v) for v in values])
    if arr.dtype.kind == "f" and key not in ("vertices",):
        return arr.astype(np.float64 if key in ("cam_t", "focal_length") else np.float32)
    return arr
