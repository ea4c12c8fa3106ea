"""Small SPIN-format fixtures: a few 160×120 PNG images with a drawn pattern and an annotation npz.

Every row's 24 GT 3D joints `S` are random camera-frame points (metres, ~4 m deep) and its 2D `part`
keypoints are their exact pinhole projections (focal `focal`, principal point (W/2, H/2), continuous pixels),
so tests can check 2D/3D consistency after augmentation. center/scale are the 1.2× 3:4 keypoint box.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from hmr_bench.data.spin_format import write_annotations

W, H = 160, 120
DIAG_FOCAL = float(np.hypot(W, H))  # 200


@dataclass
class Fixture:
    npz: Path
    img_root: Path
    arrays: dict
    joints_cam: np.ndarray  # (N, 24, 3) the rows' 3D joints, camera frame
    focal: float
    images: list  # uint8 (H, W, 3) RGB as written


def pattern_image(k: int, w: int = W, h: int = H) -> np.ndarray:
    """uint8 (h, w, 3) RGB: x and y ramps, a checkerboard and a white rectangle that moves with k."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([(x * 255) // (w - 1), (y * 255) // (h - 1), ((x // 8 + y // 8) % 2) * 200 + 20 * k], -1)
    img = img.astype(np.uint8)
    img[10 + 3 * k:30 + 3 * k, 40:70] = 255
    return img


def project(joints: np.ndarray, focal: float, w: float = W, h: float = H) -> np.ndarray:
    """(…, J, 3) camera-frame points → (…, J, 2) continuous pixels, principal point (w/2, h/2)."""
    return focal * joints[..., :2] / joints[..., 2:3] + np.array([w / 2, h / 2])


def write_spin_fixture(folder: str | Path, n: int = 4, with_focal: bool = False, synth: bool = False,
                       pack: bool = False, seed: int = 0, name: str = "fix_train") -> Fixture:
    """Writes `n` images and ``<name>.npz`` into `folder`.

    with_focal: adds focal_length (= 180), img_w, img_h; synth: adds SynthHMR fields (cam_t, joints_smpl24,
    joints_h36m17, action, occlusion); pack: also writes the image pack ``<name>_images.npy``.
    """
    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    focal = 180.0 if with_focal else DIAG_FOCAL
    images, names = [], []
    for k in range(n):
        img = pattern_image(k)
        rel = f"images/img_{k:03d}.png"
        cv2.imwrite(str(folder / rel), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        images.append(img)
        names.append(rel)
    root = np.stack([rng.uniform(-0.6, 0.6, n), rng.uniform(-0.4, 0.4, n), rng.uniform(4.0, 5.0, n)], -1)
    joints = root[:, None] + rng.uniform(-0.35, 0.35, (n, 24, 3)) * np.array([1.0, 2.2, 0.5])
    part = np.concatenate([project(joints, focal), np.ones((n, 24, 1))], -1)
    part[:, 5, 2] = 0.0  # one invisible joint per row
    vis = part[0, :, 2] > 0
    lo, hi = part[:, vis, :2].min(1), part[:, vis, :2].max(1)
    center = (lo + hi) / 2
    size = np.maximum((hi - lo)[:, 0] * 256 / 192, (hi - lo)[:, 1])
    arrays = {
        "imgname": np.array(names),
        "center": center,
        "scale": 1.2 * size / 200,
        "part": part,
        "S": np.concatenate([joints, np.ones((n, 24, 1))], -1),
        "pose": rng.normal(0, 0.2, (n, 72)),
        "shape": rng.normal(0, 1, (n, 10)),
        "has_smpl": np.ones(n, np.int64),
    }
    if with_focal:
        arrays |= {"focal_length": np.full(n, focal), "img_w": np.full(n, W), "img_h": np.full(n, H)}
    if synth:
        arrays |= {"cam_t": root, "joints_smpl24": joints, "joints_h36m17": joints[:, :17],
                   "action": np.array(["walk", "sit", "wave", "jump"] * n)[:n], "occlusion": rng.uniform(0, 1, n)}
    npz = folder / f"{name}.npz"
    write_annotations(npz, arrays)
    if pack:
        np.save(folder / f"{name}_images.npy", np.stack(images))
    return Fixture(npz=npz, img_root=folder, arrays=arrays, joints_cam=joints, focal=focal, images=images)
