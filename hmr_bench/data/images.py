"""Images: reading, the optional image pack, crop warping, colour noise and ImageNet normalisation.

Pixel convention (one for the whole project)
--------------------------------------------
Continuous image coordinates: pixel (row i, column j) covers [j, j+1) × [i, i+1), so pixel centres lie at
(j + 0.5, i + 0.5); the principal point of a full image is (W/2, H/2). The renderer, `geometry.cameras`
and `geometry.crops.crop_transform` (full-image → crop affine A) all use it.

- cv2 indexes pixel centres at integers (p_int = p − 0.5), so the matrix handed to ``cv2.warpAffine`` is
  M_cv(p) = A(p + 0.5) − 0.5 (`cv2_affine`).
- Horizontal flip: x ← W − x (`flip_affine`). SPIN's x ← W − 1 − x is the same flip written in the
  integer-centre convention; in continuous coordinates pixel column j goes to W − 1 − j exactly.
- Real SPIN-format annotations (COCO, MPII, H36M, 3DPW, MPI-INF) were made in the integer-centre
  convention, so read as continuous coordinates they sit 0.5 px up-left of the pixel they name (the flip
  mirrors the offset). We do NOT correct it: the format carries no flag saying which convention a file uses
  (SynthHMR is continuous), and 0.5 px is ≤ 0.3 % of a typical box height (≥ 150 px), well below the
  annotation noise of those datasets (several px); bbox_info and cameras change by < 1e-3.

Image pack
----------
``<split>_images.npy`` beside ``<split>.npz``: uint8 (N, H, W, 3) RGB in row order, opened with
``np.load(mmap_mode="r")``. SynthHMR writes one; real data does not have one. `ImagePack` opens it lazily in
each process (a memmap is never pickled to DataLoader workers).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np
import torch

from hmr_bench.errors import InputError, require_last_dims

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def read_image(path: str | os.PathLike, source: str = "image", row: int | None = None) -> np.ndarray:
    """Decodes a JPEG/PNG (any format cv2 reads) as uint8 (H, W, 3) RGB; grey images are expanded to 3 channels.

    source, row: the dataset file and row named in the error when the file is missing or undecodable.
    """
    path = Path(path)
    where = f"row {row}: " if row is not None else ""
    if not path.is_file():
        raise InputError(source, "imgname", found=f"{where}no such image file {path}",
                         expected="an image file under the image root")
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None or img.size == 0:
        raise InputError(source, "imgname", found=f"{where}an undecodable image {path}",
                         expected="a JPEG or PNG file")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def pack_path(npz_path: str | os.PathLike) -> Path:
    """The image pack of a split: ``<split>_images.npy`` beside ``<split>.npz``."""
    npz_path = Path(npz_path)
    return npz_path.with_name(npz_path.stem + "_images.npy")


class ImagePack:
    """An uint8 (N, H, W, 3) image array memory-mapped read-only, reopened lazily in every process."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._arr: np.ndarray | None = None
        self._pid: int | None = None
        self.shape = self._open().shape

    def _open(self) -> np.ndarray:
        if self._arr is None or self._pid != os.getpid():
            try:
                self._arr = np.load(self.path, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError) as e:
                raise InputError(self.path, found=f"an unreadable .npy ({e})",
                                 expected="an uint8 (N, H, W, 3) image pack") from e
            self._pid = os.getpid()
        return self._arr

    def __getstate__(self) -> dict:
        return {"path": self.path, "shape": self.shape, "_arr": None, "_pid": None}

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, i: int) -> np.ndarray:
        """Image i as a contiguous uint8 (H, W, 3) copy."""
        return np.ascontiguousarray(self._open()[i])


def open_pack(npz_path: str | os.PathLike, num_rows: int, image_hw: tuple[int, int] | None = None) -> ImagePack | None:
    """The split's image pack when it exists and fits (N rows, uint8, (H, W) = image_hw when given), else None.

    A pack that exists but does not fit is ignored with a warning (the loader falls back to image files).
    """
    path = pack_path(npz_path)
    if not path.exists():
        return None
    pack = ImagePack(path)
    shape, dtype = pack.shape, pack._open().dtype
    ok = len(shape) == 4 and shape[0] == num_rows and shape[3] == 3 and dtype == np.uint8
    if ok and image_hw is not None:
        ok = tuple(shape[1:3]) == tuple(image_hw)
    if not ok:
        want = f"uint8 ({num_rows}, {'H, W' if image_hw is None else f'{image_hw[0]}, {image_hw[1]}'}, 3)"
        log.warning("%s: image pack of shape %s, dtype %s does not fit (expected %s); reading image files",
                    path, shape, dtype, want)
        return None
    return pack


def cv2_affine(A) -> np.ndarray:
    """Continuous-coordinate affine (..., 2, 3) → the matrix for cv2 (integer pixel centres).

    M_cv(p) = A(p + 0.5) − 0.5, i.e. same linear part, translation t + A_lin·(0.5, 0.5) − 0.5.
    """
    A = np.asarray(A, dtype=np.float64)
    require_last_dims(A, (2, 3), "cv2_affine", "A", "affine matrix")
    M = A.copy()
    M[..., 2] = A[..., 2] + 0.5 * (A[..., 0] + A[..., 1]) - 0.5
    return M


def flip_affine(img_w: float) -> np.ndarray:
    """(2, 3) affine of the horizontal flip x ← W − x (continuous coordinates)."""
    return np.array([[-1.0, 0.0, float(img_w)], [0.0, 1.0, 0.0]])


def scale_affine(sx: float, sy: float) -> np.ndarray:
    """(2, 3) affine p ← (sx·x, sy·y): exact rescaling between image sizes in continuous coordinates."""
    return np.array([[float(sx), 0.0, 0.0], [0.0, float(sy), 0.0]])


def warp_crops(image: np.ndarray, affines, out_size: tuple[int, int], noise=None) -> np.ndarray:
    """Warps M crops from one image (cv2.warpAffine, bilinear, zero border).

    image: uint8 (H, W, 3); affines: (M, 2, 3) image → crop in continuous coordinates; out_size: (W_c, H_c);
    noise: (3,) per-channel factors pn or None. Returns uint8 (M, 3, H_c, W_c).
    """
    affines = np.asarray(affines, dtype=np.float64)
    require_last_dims(affines, (2, 3), "warp_crops", "affines", "(M, 2, 3) affine matrices")
    wc, hc = int(out_size[0]), int(out_size[1])
    out = np.empty((affines.shape[0], hc, wc, 3), np.uint8)
    for m, M in enumerate(cv2_affine(affines)):
        cv2.warpAffine(image, M, (wc, hc), dst=out[m], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                       borderValue=(0, 0, 0))
    if noise is not None:
        out = apply_color_noise(out, noise)
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))


def apply_color_noise(pixels: np.ndarray, pn) -> np.ndarray:
    """Per-channel colour noise (spec §1.3 step 3): multiply channel c by pn_c, clip to [0, 255], round.

    pixels: uint8 (..., 3) channels-last; pn: (3,). Returns uint8 of the same shape (rounding to uint8 adds
    at most 0.5/255, the only difference from SPIN's float pipeline).
    """
    pn = np.asarray(pn, dtype=np.float32)
    if pn.shape != (3,):
        raise InputError("apply_color_noise", "pn", found=f"shape {pn.shape}", expected="(3,) channel factors")
    px = np.asarray(pixels)
    if px.dtype != np.uint8 or px.ndim < 2 or px.shape[-1] != 3 or px.size == 0:
        return np.rint(np.clip(px.astype(np.float32) * pn, 0, 255)).astype(np.uint8)
    # the same float32 products, once per byte value: a lookup table per channel
    lut = np.rint(np.clip(np.arange(256, dtype=np.float32)[:, None] * pn, 0, 255)).astype(np.uint8)
    flat = np.ascontiguousarray(px).reshape(-1, 1, 3)
    return cv2.LUT(flat, lut[:, None, :]).reshape(px.shape)


def normalize_crops(crops: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 inputs (..., C, H, W) → floats on the inputs' device: RGB crops (C = 3) ImageNet-normalised,
    (x/255 − mean)/std; proxy heatmaps (C = `proxy.PROXY_CHANNELS`) scaled to [0, 1]."""
    from hmr_bench.data.proxy import PROXY_CHANNELS

    if crops.ndim < 3 or crops.shape[-3] not in (3, PROXY_CHANNELS):
        raise InputError("normalize_crops", "crops", found=f"shape {tuple(crops.shape)}",
                         expected=f"shape (..., 3, H, W) (RGB) or (..., {PROXY_CHANNELS}, H, W) (proxy heatmaps)")
    if crops.shape[-3] == PROXY_CHANNELS:
        return crops.to(dtype) / 255.0
    mean = torch.tensor(IMAGENET_MEAN, dtype=dtype, device=crops.device).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=dtype, device=crops.device).view(3, 1, 1)
    return (crops.to(dtype) / 255.0 - mean) / std
