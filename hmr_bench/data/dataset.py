"""The one loader of SPIN-format data (real datasets and SynthHMR alike) and the SPIN-style dataset mix.

`SpinDataset` reads a split's ``.npz`` (`spin_format`), its images (files under an image root, or the
split's image pack) and returns multi-RoI sample dicts (`samples`, which documents every key and shape).

Randomness: an item is addressed by a `SampleKey` (index, epoch, seed, stream); its augmentation (and a
random RoI set) is drawn from ``numpy.random.default_rng([seed, epoch, index, stream])``, so a sample
depends on nothing else (not on the DataLoader worker that made it). A plain int index means
SampleKey(index, 0, 0, 0). `loader.make_loader` yields keys with the epoch and the seed.

Per row (SPIN conventions): keypoints (49, 3) = ``openpose`` (25, zeros when absent) + ``part`` (24);
``pose``/``shape`` zeros when absent; ``has_smpl`` = the field, else 1 where ``pose`` exists; ``S`` (24, 4)
zeros when absent, has_3d = the dataset has ``S`` and the row has a joint with confidence > 0. Those zeros are
placeholders that batches need, never data: each comes with its flag (confidence 0, has_smpl = 0, has_3d = 0),
the losses mask by the flags, and evaluation refuses a row without the GT its source needs
(`eval.protocols.ground_truth`, and `eval.gt_choice.check_gt_available` before training).
Focal length = ``focal_length`` if present, else sqrt(W² + H²) (spec §2.1) or a fixed number. Image size =
``img_w``/``img_h`` if present, else the decoded image's; when both exist and differ (e.g. 3DPW annotated at
half resolution) the image is rescaled into the annotation's pixels inside the warp.

Base box (spec §1.1): ``box="keypoints"`` (default, [J] at train and eval) uses the 1.2× 3:4 box of the
visible ``part`` keypoints where a row has ≥ 2 of them spanning a non-zero box, and the npz ``center``/``scale``
elsewhere (e.g. H36M val files without ``part``); ``box="npz"`` always uses ``center``/``scale``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from hmr_bench.data.augment import NO_AUGMENT, AugmentConfig, AugmentParams, sample_augment
from hmr_bench.data.device_crops import DEVICE_KEYS, UNION_KEYS
from hmr_bench.data.images import ImagePack, open_pack, read_image, scale_affine
from hmr_bench.data.rois import box_corners, box_from_keypoints
from hmr_bench.data.samples import EXTRA_2D, EXTRA_3D, EXTRA_PLAIN, Annotation, SampleConfig, build_sample
from hmr_bench.data.spin_format import read_annotations
from hmr_bench.errors import InputError

log = logging.getLogger(__name__)

BOX_SOURCES = ("keypoints", "npz")
SIZE_TOLERANCE = 0.01  # relative aspect mismatch allowed between the decoded image and img_w/img_h


class SampleKey(NamedTuple):
    """Address of one sample: row index, epoch, seed and a stream (set by `MixedDataset`)."""

    index: int
    epoch: int = 0
    seed: int = 0
    stream: int = 0


def as_key(key) -> SampleKey:
    """An int or a tuple → `SampleKey` (non-negative integers)."""
    k = SampleKey(int(key)) if isinstance(key, (int, np.integer)) else SampleKey(*(int(x) for x in key))
    if min(k) < 0:
        raise InputError("sample key", found=repr(tuple(k)), expected="non-negative (index, epoch, seed, stream)")
    return k


def sample_rng(key: SampleKey, *salt: int) -> np.random.Generator:
    """The generator of one sample: depends on (seed, epoch, index, stream, *salt) only."""
    return np.random.default_rng([key.seed, key.epoch, key.index, key.stream, *salt])


class SpinDataset:
    """A SPIN-format split as multi-RoI samples (map-style: ``ds[index]`` or ``ds[SampleKey]``).

    npz_path: the split's annotations; img_root: folder that ``imgname`` is relative to (default: the npz's
    folder); num_rois, crop_size (W_c, H_c), roi_variant ("fixed" | "random"), rotation ("official" |
    "exact"), union_crop (W_u, H_u) or None: see `samples.SampleConfig`; train: augment (spec §1.4) with
    `augment` (default `AugmentConfig()`); focal_default: "diag" (sqrt(W² + H²)) or a number, used where the
    npz has no ``focal_length``; input: "rgb" crops or "proxy" keypoint heatmaps (`data.proxy`); crop_on:
    "cpu" (samples hold ``crops``) or "device" (they hold the decoded ``image`` and its affines instead, for
    `device_crops.cut_crops`; see `samples`); body_model: a `BodyModel` adds ``smpl_vertices`` to samples; box:
    "keypoints" | "npz" (module docstring); name: the dataset name in samples (default: the npz stem); use_pack:
    read the image pack when there is one.
    """

    def __init__(self, npz_path: str | os.PathLike, img_root: str | os.PathLike | None = None, num_rois: int = 5,
                 crop_size: tuple[int, int] = (192, 256), train: bool = False, augment: AugmentConfig | None = None,
                 roi_variant: str = "fixed", rotation: str = "official", focal_default: str | float = "diag",
                 union_crop: tuple[int, int] | None = None, body_model=None, box: str = "keypoints",
                 name: str | None = None, use_pack: bool = True, input: str = "rgb", crop_on: str = "cpu"):
        self.npz_path = Path(npz_path)
        self.source = str(self.npz_path)
        self.img_root = Path(img_root) if img_root is not None else self.npz_path.parent
        self.cfg = SampleConfig(num_rois=num_rois, crop_size=tuple(crop_size), roi_variant=roi_variant,
                                rotation=rotation, union_crop=None if union_crop is None else tuple(union_crop),
                                input=input, crop_on=crop_on)
        self.train = bool(train)
        self.augment = augment or AugmentConfig()
        if not (focal_default == "diag" or (isinstance(focal_default, (int, float)) and focal_default > 0)):
            raise InputError("SpinDataset", "focal_default", found=repr(focal_default),
                             expected="'diag' or a positive number of pixels")
        self.focal_default = focal_default
        if box not in BOX_SOURCES:
            raise InputError("SpinDataset", "box", found=repr(box), expected=" | ".join(BOX_SOURCES))
        self.body_model = body_model
        self.name = name or self.npz_path.stem
        self.arrays = read_annotations(self.npz_path)
        self.n = len(self.arrays["imgname"])
        self._check_fields()
        self.pack: ImagePack | None = open_pack(self.npz_path, self.n) if use_pack else None
        self.centers, self.bs, self.box_field = self._base_boxes(box)
        self._boxes_checked = False
        sizes = self._known_sizes()
        if sizes is not None:
            self._check_boxes(np.arange(self.n), sizes)
            self._boxes_checked = True

    # --- validation -------------------------------------------------------------------------------------
    def _check_fields(self) -> None:
        a = self.arrays
        if "has_smpl" in a:
            for k in ("pose", "shape"):
                if k not in a and np.any(a["has_smpl"]):
                    raise InputError(self.source, k, found="no such field although has_smpl is set",
                                     expected=f"'{k}' for the rows with has_smpl = 1")
        if "pose" in a and "shape" not in a:
            raise InputError(self.source, "shape", found="no such field although 'pose' is present",
                             expected="SMPL betas (N, 10) beside the pose")
        bad = np.flatnonzero(~(a["scale"] > 0))
        if len(bad):
            raise InputError(self.source, "scale", found=f"{a['scale'][bad[0]]} at row {bad[0]} ({len(bad)} rows)",
                             expected="a positive box size / 200")
        if "img_w" in a or "img_h" in a:
            if "img_w" not in a or "img_h" not in a:
                raise InputError(self.source, "img_w/img_h", found="only one of them", expected="both or neither")
            bad = np.flatnonzero((a["img_w"] <= 0) | (a["img_h"] <= 0))
            if len(bad):
                raise InputError(self.source, "img_w/img_h", found=f"a non-positive size at row {bad[0]}",
                                 expected="positive pixel sizes")

    def _base_boxes(self, box: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        centers = self.arrays["center"].astype(np.float64)
        bs = 200.0 * self.arrays["scale"].astype(np.float64)
        field = np.full(self.n, "center/scale", dtype=object)
        if box == "keypoints" and "part" in self.arrays:
            part = self.arrays["part"].astype(np.float64)
            vis = part[..., 2] > 0
            use = vis.sum(-1) >= 2
            if use.any():
                c, b = box_from_keypoints(part[use], source=self.source)
                ok = b > 0
                rows = np.flatnonzero(use)[ok]
                centers[rows], bs[rows], field[rows] = c[ok], b[ok], "part"
        return centers, bs, field

    def _known_sizes(self) -> np.ndarray | None:
        """(N, 2) full-image (W, H) from img_w/img_h or the image pack, or None (known only per decoded image)."""
        if "img_w" in self.arrays:
            return np.stack([self.arrays["img_w"], self.arrays["img_h"]], -1).astype(np.float64)
        if self.pack is not None:
            return np.broadcast_to(np.array([self.pack.shape[2], self.pack.shape[1]], np.float64), (self.n, 2))
        return None

    def _check_boxes(self, rows: np.ndarray, sizes: np.ndarray) -> None:
        """Raises when RoI 0 of a row lies entirely outside its image. rows: (R,); sizes: (R, 2) as (W, H)."""
        aspect = self.cfg.crop_size[0] / self.cfg.crop_size[1]
        box = box_corners(self.centers[rows], self.bs[rows], aspect)
        out = (box[:, 2] <= 0) | (box[:, 3] <= 0) | (box[:, 0] >= sizes[:, 0]) | (box[:, 1] >= sizes[:, 1])
        if out.any():
            j = int(np.flatnonzero(out)[0])
            r = int(rows[j])
            x1, y1, x2, y2 = box[j]
            raise InputError(self.source, str(self.box_field[r]),
                             found=f"row {r} ({self.arrays['imgname'][r]}): RoI box (x1, y1, x2, y2) = "
                                   f"({x1:.1f}, {y1:.1f}, {x2:.1f}, {y2:.1f}) entirely outside the "
                                   f"{sizes[j, 0]:g}×{sizes[j, 1]:g} image ({int(out.sum())} such rows)",
                             expected="a box overlapping the image")

    def check_images(self, decode: bool = False) -> int:
        """Checks every row's image: exists (and decodes, and its RoI overlaps it, when `decode`).

        Raises one `InputError` listing the first problems and their count; returns the number of rows
        checked. With an image pack, rows are read from the pack and there are no files to check.
        """
        if self.pack is not None:
            return self.n
        problems = []
        for i in range(self.n):
            try:
                if decode:
                    self._load_image(i)
                else:
                    path = self.img_root / str(self.arrays["imgname"][i])
                    if not path.is_file():
                        raise InputError(self.source, "imgname", found=f"row {i}: no such image file {path}")
            except InputError as e:
                problems.append(str(e))
        if problems:
            shown = "; ".join(problems[:5])
            raise InputError(self.source, "imgname", found=f"{len(problems)} bad images of {self.n}: {shown}",
                             expected=f"every image present{' and decodable' if decode else ''} under "
                                      f"{self.img_root}")
        return self.n

    # --- rows ---------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.n

    def _load_image(self, i: int) -> tuple[np.ndarray, np.ndarray, float, float]:
        """Decoded image (H, W, 3), the image → annotation pixel affine (2, 3) and the annotation's (W, H)."""
        image = self.pack[i] if self.pack is not None else read_image(
            self.img_root / str(self.arrays["imgname"][i]), self.source, row=i)
        h_img, w_img = image.shape[:2]
        if "img_w" not in self.arrays:
            w, h = float(w_img), float(h_img)
        else:
            w, h = float(self.arrays["img_w"][i]), float(self.arrays["img_h"][i])
            if abs((w / w_img) / (h / h_img) - 1) > SIZE_TOLERANCE:
                raise InputError(self.source, "img_w/img_h",
                                 found=f"row {i}: annotated size {w:g}×{h:g} but the image is {w_img}×{h_img}",
                                 expected="the image size or a uniform rescale of it")
        if not self._boxes_checked:
            self._check_boxes(np.array([i]), np.array([[w, h]]))
        return image, scale_affine(w / w_img, h / h_img), w, h

    def annotation(self, i: int, img_w: float, img_h: float) -> Annotation:
        """Row i's annotation in full-image pixels (not augmented)."""
        a = self.arrays
        kp = np.zeros((49, 3))
        if "openpose" in a:
            kp[:25] = a["openpose"][i]
        if "part" in a:
            kp[25:] = a["part"][i]
        has_smpl = bool(a["has_smpl"][i]) if "has_smpl" in a else "pose" in a
        pose = a["pose"][i].astype(np.float64) if "pose" in a else np.zeros(72)
        betas = a["shape"][i].astype(np.float64) if "shape" in a else np.zeros(10)
        j3d = a["S"][i].astype(np.float64) if "S" in a else np.zeros((24, 4))
        has_3d = "S" in a and bool(np.any(j3d[:, 3] > 0))
        if "focal_length" in a:
            focal = float(a["focal_length"][i])
        elif self.focal_default == "diag":
            focal = float(np.hypot(img_w, img_h))
        else:
            focal = float(self.focal_default)
        extras: dict = {k: a[k][i].astype(np.float64) for k in (*EXTRA_3D, *EXTRA_2D, "cam_t") if k in a}
        for k in EXTRA_PLAIN:
            if k in a:
                extras[k] = str(a[k][i]) if a[k].dtype.kind in "US" else float(a[k][i])
        return Annotation(center=self.centers[i].copy(), b=float(self.bs[i]), keypoints=kp, pose=pose, betas=betas,
                          joints3d=j3d, has_smpl=has_smpl, has_3d=has_3d, focal=focal, img_w=img_w, img_h=img_h,
                          extras=extras)

    def sample(self, i: int, params: AugmentParams = NO_AUGMENT, rng: np.random.Generator | None = None) -> dict:
        """Row i with the given augmentation (the building block of __getitem__; tests force params here)."""
        if not 0 <= i < self.n:
            raise IndexError(f"{self.source}: row {i} out of range 0..{self.n - 1}")
        image, to_full, w, h = self._load_image(i)
        out = build_sample(image, to_full, self.annotation(i, w, h), params, self.cfg, rng, self.body_model)
        out.update(index=int(i), imgname=str(self.arrays["imgname"][i]), dataset=self.name)
        return out

    def __getitem__(self, key) -> dict:
        k = as_key(key)
        rng = sample_rng(k)
        params = sample_augment(rng, self.augment) if self.train else NO_AUGMENT
        return self.sample(k.index, params, rng)

    @property
    def sample_keys(self) -> frozenset[str]:
        """The keys every sample of this dataset has."""
        keys = {"bbox_info", "center", "b", "crop_trans", "full_trans", "keypoints_crop",
                "keypoints_full", "pose", "betas", "joints3d", "has_smpl", "has_3d", "focal", "img_w", "img_h",
                "flip", "rot", "sc", "index", "imgname", "dataset"}
        keys |= set(DEVICE_KEYS) if self.cfg.crop_on == "device" else {"crops"}
        keys |= {k for k in (*EXTRA_3D, *EXTRA_2D, "cam_t", *EXTRA_PLAIN) if k in self.arrays}
        if self.cfg.union_crop is not None:
            keys |= set(UNION_KEYS) if self.cfg.crop_on == "device" else {"union"}
            keys.add("roi_boxes_union")
        if self.body_model is not None:
            keys.add("smpl_vertices")
        return frozenset(keys)


class MixedDataset:
    """Per-item random choice of a member dataset with given ratios (SPIN `MixedDataset`).

    datasets: members (each takes `SampleKey`s); ratios: one weight per member (normalised); length: items
    per epoch (default: the largest member's length, as SPIN); seed: salt of the member choice. Item k picks
    member d with probability ratio_d from `sample_rng(key, seed)` and returns d[k mod len(d)] with stream
    k + 1, so repeated visits of a row within an epoch get different augmentations. Samples keep only the
    keys common to all members (`sample_keys`), so batches collate. Default ratios of the real training mix:
    `real.spin_mix_ratios`.
    """

    def __init__(self, datasets, ratios, length: int | None = None, seed: int = 0):
        self.datasets = list(datasets)
        ratios = np.asarray(ratios, dtype=np.float64)
        if not self.datasets or ratios.shape != (len(self.datasets),):
            raise InputError("MixedDataset", "ratios", found=f"{ratios.shape[0] if ratios.ndim else 0} ratios for "
                             f"{len(self.datasets)} datasets", expected="one ratio per (at least one) dataset")
        if np.any(ratios < 0) or ratios.sum() <= 0 or not np.all(np.isfinite(ratios)):
            raise InputError("MixedDataset", "ratios", found=repr(ratios.tolist()),
                             expected="non-negative numbers with a positive sum")
        empty = [i for i, d in enumerate(self.datasets) if len(d) == 0 and ratios[i] > 0]
        if empty:
            raise InputError("MixedDataset", "datasets", found=f"empty dataset at position {empty[0]}",
                             expected="non-empty members")
        self.ratios = ratios / ratios.sum()
        self.cum = np.cumsum(self.ratios)
        self.length = int(length) if length is not None else max(len(d) for d in self.datasets)
        self.seed = int(seed)
        keysets = [getattr(d, "sample_keys", None) for d in self.datasets]
        self.sample_keys = frozenset.intersection(*keysets) if all(k is not None for k in keysets) else None

    def __len__(self) -> int:
        return self.length

    def member_of(self, key) -> tuple[int, SampleKey]:
        """The member index and the key passed to it for a mixed key."""
        k = as_key(key)
        d = int(min(np.searchsorted(self.cum, sample_rng(k, self.seed).random(), side="right"),
                    len(self.datasets) - 1))
        return d, SampleKey(k.index % len(self.datasets[d]), k.epoch, k.seed, k.index + 1)

    def __getitem__(self, key) -> dict:
        if not 0 <= as_key(key).index < self.length:
            raise IndexError(f"MixedDataset: item {as_key(key).index} out of range 0..{self.length - 1}")
        d, member_key = self.member_of(key)
        sample = self.datasets[d][member_key]
        if self.sample_keys is not None:
            sample = {k: v for k, v in sample.items() if k in self.sample_keys}
        return sample
