"""One chunk of SynthHMR images: pose the bodies, place them, render them, and write exact ground truth.

Per image (all randomness from `scene.image_rng(cfg, split, index)`): a scene (action, pose, shape, focal,
heading), a placement (`scene.place`), a background, an appearance and occluders, the rendered pixels, and the
SPIN-format annotation row. 2D keypoint confidence (``part[:, 2]``) is 1 for every GT joint that projects
inside the image — its position is exact even when a limb or an occluder hides it — and ``part_visible`` says
whether it can be seen (`render.keypoint_visibility`). The GT box is SPIN's box from those keypoints.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from hmr_bench.body.joint_sets import COCO17_SMPL_PART, SPIN24_SMPL_PART
from hmr_bench.data.rois import box_corners, box_from_keypoints
from hmr_bench.data.synth.render import (
    face_parts,
    keypoint_visibility,
    make_background,
    render,
    sample_appearance,
    sample_occluders,
)
from hmr_bench.data.synth.scene import SynthConfig, place, sample_scene

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
    import cv2

    w, h = cfg.image_size
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
    fparts, closed = _MESH_INFO[id(body)]

    rows: list[dict] = []
    images = np.empty((len(scenes), h, w, 3), np.uint8)
    for k, s in enumerate(scenes):
        gt24 = joints["spin49"][k, 25:]
        cam_t, _ = place(s, cfg, joints["smpl24"][k, 0], gt24)
        K = (s.focal, s.focal, w / 2, h / 2)
        part = _keypoints(gt24 + cam_t, s.focal, w, h)
        center, b = box_from_keypoints(part)
        background = make_background(s.rng, h, w, cfg.difficulty)
        appearance = sample_appearance(s.rng, cfg.difficulty, background)
        occluders = sample_occluders(s.rng, h, w, box_corners(center, b), cfg.difficulty)
        verts_cam = verts[k] + cam_t
        res = render(verts_cam, faces, fparts, K, appearance, background, occluders, want_parts=cfg.write_parts,
                     cull_backfaces=closed)
        images[k] = res.rgb

        buffers = (K, w, h, res.face_id, res.surface_depth, fparts)
        coco = _keypoints(joints["coco17"][k] + cam_t, s.focal, w, h)
        coco[:, 2] *= keypoint_visibility(joints["coco17"][k] + cam_t, *buffers, COCO17_PARTS, occluders.mask)
        row = {
            "imgname": image_name(split, i0 + k), "center": center, "scale": b / 200.0, "part": part,
            "part_visible": keypoint_visibility(gt24 + cam_t, *buffers, SPIN24_PARTS, occluders.mask).astype(np.uint8),
            "S": np.concatenate([gt24 + cam_t, np.ones((24, 1))], 1),
            "pose": pose[k].double().numpy(), "shape": s.betas, "has_smpl": 1, "gender": "n",
            "focal_length": s.focal, "img_w": w, "img_h": h, "cam_t": cam_t, "action": s.action,
            "occlusion": res.occlusion_ratio, "heading_deg": s.heading_deg,
            "joints_smpl24": joints["smpl24"][k] + cam_t, "joints_h36m17": joints["h36m17"][k] + cam_t,
            "joints_coco17": joints["coco17"][k] + cam_t, "keypoints_coco17": coco,
        }
        if cfg.write_vertices:
            row["vertices"] = verts_cam.astype(np.float32)
        rows.append(row)
        ok, png = cv2.imencode(".png", res.rgb[:, :, ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 1])
        (root / image_name(split, i0 + k)).write_bytes(png.tobytes())
        if cfg.write_parts:
            ok, png = cv2.imencode(".png", res.part_map, [cv2.IMWRITE_PNG_COMPRESSION, 1])
            (root / image_name(split, i0 + k).replace(".png", "_parts.png")).write_bytes(png.tobytes())

    pack = np.load(root / f"{split}_images.npy.partial", mmap_mode="r+")
    pack[i0:i1] = images
    pack.flush()
    del pack
    return {key: _stack(key, [r[key] for r in rows]) for key in rows[0]}


def _stack(key: str, values: list) -> np.ndarray:
    arr = np.stack([np.asarray(v) for v in values])
    if arr.dtype.kind == "f" and key not in ("vertices",):
        return arr.astype(np.float64 if key in ("cam_t", "focal_length") else np.float32)
    return arr
