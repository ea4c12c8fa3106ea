"""Multi-RoI sample assembly: one annotated person → the per-sample dict the trainer and evaluator consume.

Sample dict (M = num_rois, (W_c, H_c) = crop_size, (W_u, H_u) = union_crop; full-image pixels in the
continuous convention of `images`, after flip and scale augmentation; float arrays are float32):

    crops           uint8 (M, 3, H_c, W_c)  RoI crops, RGB, colour noise applied, not normalised
                                            (`images.normalize_crops` on the trainer's device); with
                                            input="proxy": uint8 (M, 24, H_c, W_c) keypoint heatmaps
                                            (`data.proxy`) cut with the same affines
    bbox_info       (M, 3)   CLIFF box descriptor of each RoI (`geometry.cameras.bbox_info`)
    center          (M, 2)   RoI centres (cx, cy)
    b               (M,)     RoI heights (200·S); width = b·W_c/H_c
    crop_trans      (M, 2, 3) full → crop affine WITHOUT rotation (the 2D loss, spec §2.5)
    full_trans      (M, 2, 3) full → crop affine WITH rotation (what the crops and keypoints_crop used)
    keypoints_crop  (M, 49, 3) GT SPIN-49 keypoints in each RoI's crop pixels (rotated frame) + conf
    keypoints_full  (49, 3)  GT SPIN-49 keypoints in full-image pixels (flipped, not rotated) + conf
    pose            (72,)    SMPL axis-angle, camera frame (flipped, global orientation rotated)
    betas           (10,)
    joints3d        (24, 4)  GT 3D joints ('S', metres, + conf), not centred (the losses centre them)
    has_smpl, has_3d         bool
    focal, img_w, img_h      float   full-image focal length and size
    flip (bool), rot (float, degrees), sc (float)   the augmentation applied
    index           int      row in the split's npz
    imgname, dataset         str     image path relative to the image root; dataset name

With ``crop_on="device"`` (`data.device_crops`) the sample has no ``crops``; the workers send what they would have
been cut from, and `device_crops.cut_crops` turns a batch of these into the same ``crops`` on the trainer's device
(every other key, labels included, is the same as with ``crop_on="cpu"``):

    image           uint8 (H, W, 3)  the decoded image as read (RGB, not flipped; the loader's collate pads a
                                     batch's images with zeros to their largest H and W, `loader.collate_samples`)
    image_trans     float64 (M, 2, 3)  decoded-image → crop affine of each RoI (continuous pixels): full_trans
                                       after the flip and the decoded-to-annotation rescale, the matrix
                                       ``warp_crops`` hands cv2 on the CPU path
    pn              float32 (3,)     the colour noise factors (1, 1, 1 without augmentation)
    crop_size       (W_c, H_c)       a tuple of ints, the crops' size (collated as one tuple)
    union_trans     float64 (1, 2, 3)  with union_crop: decoded-image → union affine (then no ``union``)
    union_size      (W_u, H_u)       with union_crop: a tuple of ints

Present only when the npz has the field (flipped/rotated like the 3D joints, in the camera frame):

    cam_t (3,), joints_smpl24 (24, 3), joints_h36m17 (17, 3), joints_coco17 (17, 3),
    keypoints_coco17 (17, 3) (full-image 2D, flipped, not rotated), action (str), occlusion (float),
    gender (str)

    cam_t is the translation of the ROOT-RELATIVE body (spin_format): on flip its x is negated (exact for a
    left/right-symmetric template), on rotation it becomes R_z(−rot)·cam_t, the translation of the rotated body
    in the pinhole camera whose principal point is c_0 + R(−rot)((W/2, H/2) − c_0) (see `augment`); it is
    exact w.r.t. the crops only when rot = 0.

Keypoints with confidence 0 are flipped like the others (SPIN), so an absent keypoint (0, 0, 0) becomes
(W, 0, 0); only the confidence says it is absent.

With ``union_crop`` set (shared-backbone RoIAlign mode):

    union           uint8 (3, H_u, W_u)  one crop covering the union of the M RoI boxes (aspect W_u:H_u)
    roi_boxes_union (M, 4)   each RoI's box (x1, y1, x2, y2) in union-crop pixels (continuous)

With a body model given to the dataset: ``smpl_vertices`` (V, 3), the GT mesh of (pose, betas), no
translation; zeros where has_smpl is false.

Rotation variants: ``official`` warps each RoI with the same rot about its OWN centre (Jittor port);
``exact`` rotates the full image once about the centre of RoI 0 and crops every RoI from that rotated image
(spec §1.3 [INF]). Both give identical crop_trans; they differ in full_trans for the extra RoIs when rot ≠ 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch

from hmr_bench.body.joint_sets import COCO17_FLIP, H36M17_FLIP, J24_FLIP, SMPL24_FLIP
from hmr_bench.config import CROP_ON
from hmr_bench.data import augment as aug
from hmr_bench.data.images import flip_affine, warp_crops
from hmr_bench.data.proxy import INPUTS, keypoint_heatmaps, roi_sigmas
from hmr_bench.data.rois import roi_set
from hmr_bench.errors import InputError
from hmr_bench.geometry.cameras import bbox_info
from hmr_bench.geometry.crops import apply_affine, compose_affine, crop_to_full_transform, crop_transform

ROTATION_VARIANTS = ("official", "exact")
EXTRA_3D = {"joints_smpl24": SMPL24_FLIP, "joints_h36m17": H36M17_FLIP, "joints_coco17": COCO17_FLIP}
EXTRA_2D = {"keypoints_coco17": COCO17_FLIP}
EXTRA_PLAIN = ("action", "occlusion", "gender")


@dataclass(frozen=True)
class SampleConfig:
    """How samples are assembled. crop_size, union_crop: (W, H) in pixels."""

    num_rois: int = 5
    crop_size: tuple[int, int] = (192, 256)
    roi_variant: str = "fixed"
    rotation: str = "official"
    union_crop: tuple[int, int] | None = None
    input: str = "rgb"  # rgb | proxy (keypoint heatmaps, `data.proxy`)
    crop_on: str = "cpu"  # cpu (cv2 here) | device (the image and its affines; `data.device_crops` cuts the crops)

    def __post_init__(self):
        if self.input not in INPUTS:
            raise InputError("SampleConfig", "input", found=repr(self.input), expected=" | ".join(INPUTS))
        if self.crop_on not in CROP_ON:
            raise InputError("SampleConfig", "crop_on", found=repr(self.crop_on), expected=" | ".join(CROP_ON))
        if self.crop_on == "device" and self.input != "rgb":
            raise InputError("SampleConfig", "crop_on", found=f"'device' with input={self.input!r}",
                             expected="input='rgb': proxy heatmaps are drawn from keypoints, not cut from the image; "
                                      "use crop_on='cpu'")
        if self.input == "proxy" and self.union_crop is not None:
            raise InputError("SampleConfig", "union_crop", found=repr(self.union_crop),
                             expected="None with input='proxy' (the shared-backbone mode takes RGB union images)")
        if self.rotation not in ROTATION_VARIANTS:
            raise InputError("SampleConfig", "rotation", found=repr(self.rotation),
                             expected=" | ".join(ROTATION_VARIANTS))
        for name in ("crop_size", "union_crop"):
            v = getattr(self, name)
            if v is not None and (len(v) != 2 or min(v) < 1):
                raise InputError("SampleConfig", name, found=repr(v), expected="(W, H) positive integers")


@dataclass
class Annotation:
    """One person in full-image coordinates. keypoints: (49, 3); pose: (72,); betas: (10,); joints3d: (24, 4);
    extras: optional fields (arrays, floats or strings) named as in the sample dict."""

    center: np.ndarray
    b: float
    keypoints: np.ndarray
    pose: np.ndarray
    betas: np.ndarray
    joints3d: np.ndarray
    has_smpl: bool
    has_3d: bool
    focal: float
    img_w: float
    img_h: float
    extras: dict = field(default_factory=dict)


def augment_annotation(ann: Annotation, p: aug.AugmentParams) -> Annotation:
    """Flip (x ← W − x, left/right permutations), then rotation (R_z(−rot) on 3D), then scale b ← sc·b."""
    center, kp, pose, j3d = ann.center.copy(), ann.keypoints, ann.pose, ann.joints3d
    extras = dict(ann.extras)
    if p.flip:
        center[0] = ann.img_w - center[0]
        kp = aug.flip_keypoints(kp, ann.img_w)
        pose, j3d = aug.flip_pose(pose), aug.flip_points3d(j3d, J24_FLIP)
        for k, perm in EXTRA_3D.items():
            if k in extras:
                extras[k] = aug.flip_points3d(extras[k], perm)
        for k, perm in EXTRA_2D.items():
            if k in extras:
                extras[k] = aug.flip_keypoints(extras[k], ann.img_w, perm)
        if "cam_t" in extras:
            extras["cam_t"] = extras["cam_t"] * np.array([-1.0, 1.0, 1.0])
    if p.rot != 0:
        pose, j3d = aug.rotate_pose(pose, p.rot), aug.rotate_points3d(j3d, p.rot)
        for k in (*EXTRA_3D, "cam_t"):
            if k in extras:
                extras[k] = aug.rotate_points3d(extras[k], p.rot)
    return replace(ann, center=center, b=ann.b * p.sc, keypoints=kp, pose=pose, joints3d=j3d, extras=extras)


def roi_geometry(center, b: float, rot: float, cfg: SampleConfig, rng: np.random.Generator | None = None, *,
                 frame: bool = True) -> dict:
    """RoI centres (M, 2), heights (M,), crop_trans / full_trans (M, 2, 3) and, for the union crop, each RoI's
    centre in the frame rotated about RoI 0 (`frame_centers` (M, 2)) and that rotation `rot_about_0` (2, 3);
    frame=False leaves those two out where the rotation variant does not need them (faster)."""
    centers, bs = roi_set(np.asarray(center, np.float64), np.float64(b), cfg.num_rois, cfg.roi_variant, rng=rng)
    crop_trans = crop_transform(centers, bs, cfg.crop_size, 0.0)
    geo = {"center": centers, "b": bs, "crop_trans": crop_trans}
    if frame or cfg.rotation == "exact":
        # T0: the full image rotated about RoI 0's centre, so that crop_transform(c0, b0, rot) = crop_trans_0 ∘ T0
        geo["rot_about_0"] = compose_affine(crop_to_full_transform(centers[0], bs[0], cfg.crop_size, 0.0),
                                            crop_transform(centers[0], bs[0], cfg.crop_size, rot))
    if cfg.rotation == "official":  # each RoI rotated about its own centre (rot = 0: the same as crop_trans)
        geo["full_trans"] = crop_transform(centers, bs, cfg.crop_size, rot) if rot != 0 else crop_trans
        if frame:
            geo["frame_centers"] = apply_affine(geo["rot_about_0"], centers)
    else:  # "exact": every RoI cut from the one image rotated about RoI 0's centre
        geo["full_trans"] = compose_affine(crop_trans, geo["rot_about_0"])
        geo["frame_centers"] = centers
    return geo


def union_geometry(geo: dict, cfg: SampleConfig) -> tuple[np.ndarray, np.ndarray]:
    """The union crop's full → union affine (2, 3) (rotated about RoI 0) and the RoI boxes in it (M, 4)."""
    wu, hu = cfg.union_crop
    aspect = cfg.crop_size[0] / cfg.crop_size[1]
    c, bs = geo["frame_centers"], geo["b"]
    half = np.stack([aspect * bs / 2, bs / 2], -1)
    lo, hi = (c - half).min(0), (c + half).max(0)
    hb = max(hi[1] - lo[1], (hi[0] - lo[0]) * hu / wu)  # union box height at aspect W_u:H_u
    cu = (lo + hi) / 2
    s = hu / hb
    boxes = np.concatenate([s * (c - half - cu), s * (c + half - cu)], -1) + np.array([wu, hu, wu, hu]) / 2
    return compose_affine(crop_transform(cu, hb, (wu, hu), 0.0), geo["rot_about_0"]), boxes


_IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def _f32(x) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32)


def build_sample(image: np.ndarray, image_to_full: np.ndarray, ann: Annotation, params: aug.AugmentParams,
                 cfg: SampleConfig, rng: np.random.Generator | None = None, body_model=None) -> dict:
    """Assembles one sample (see the module docstring).

    image: uint8 (H, W, 3) RGB as decoded; image_to_full: (2, 3) affine from decoded-image to annotation
    pixels (identity, or a rescale when the annotation is at another resolution, e.g. half-res 3DPW);
    ann: the row, not yet augmented; params: the augmentation (`NO_AUGMENT` at evaluation); rng: for the
    "random" RoI variant.
    """
    a = augment_annotation(ann, params)
    geo = roi_geometry(a.center, a.b, params.rot, cfg, rng, frame=cfg.union_crop is not None)
    to_full = image_to_full if not params.flip else compose_affine(flip_affine(a.img_w), image_to_full)
    pn = None if params.pn == (1.0, 1.0, 1.0) else params.pn
    image_trans = geo["full_trans"] if np.array_equal(to_full, _IDENTITY) else compose_affine(geo["full_trans"],
                                                                                              to_full)
    kp_crop = np.concatenate([apply_affine(geo["full_trans"], a.keypoints[None, :, :2]),
                              np.broadcast_to(a.keypoints[None, :, 2:], (cfg.num_rois, 49, 1))], -1)
    if cfg.crop_on == "device":  # cut on the trainer's device from these (data.device_crops)
        pixels = {"image": np.ascontiguousarray(image, dtype=np.uint8),
                  "image_trans": np.ascontiguousarray(image_trans, dtype=np.float64), "pn": _f32(params.pn),
                  "crop_size": (int(cfg.crop_size[0]), int(cfg.crop_size[1]))}
    elif cfg.input == "proxy":
        pixels = {"crops": keypoint_heatmaps(kp_crop, cfg.crop_size, roi_sigmas(geo["b"], cfg.crop_size[1]))}
    else:
        pixels = {"crops": warp_crops(image, image_trans, cfg.crop_size, pn)}
    info = bbox_info(torch.from_numpy(geo["center"]), torch.from_numpy(geo["b"]), a.img_w, a.img_h, a.focal)
    sample = {
        **pixels,
        "bbox_info": _f32(info.numpy()),
        "center": _f32(geo["center"]),
        "b": _f32(geo["b"]),
        "crop_trans": _f32(geo["crop_trans"]),
        "full_trans": _f32(geo["full_trans"]),
        "keypoints_crop": _f32(kp_crop),
        "keypoints_full": _f32(a.keypoints),
        "pose": _f32(a.pose),
        "betas": _f32(a.betas),
        "joints3d": _f32(a.joints3d),
        "has_smpl": bool(a.has_smpl),
        "has_3d": bool(a.has_3d),
        "focal": float(a.focal),
        "img_w": float(a.img_w),
        "img_h": float(a.img_h),
        "flip": bool(params.flip),
        "rot": float(params.rot),
        "sc": float(params.sc),
    }
    for k, v in a.extras.items():
        sample[k] = v if isinstance(v, (str, float)) else _f32(v)
    if cfg.union_crop is not None:
        union_trans, boxes = union_geometry(geo, cfg)
        union_trans = compose_affine(union_trans, to_full)[None]
        if cfg.crop_on == "device":
            sample["union_trans"] = np.ascontiguousarray(union_trans, dtype=np.float64)
            sample["union_size"] = (int(cfg.union_crop[0]), int(cfg.union_crop[1]))
        else:
            sample["union"] = warp_crops(image, union_trans, cfg.union_crop, pn)[0]
        sample["roi_boxes_union"] = _f32(boxes)
    if body_model is not None:
        sample["smpl_vertices"] = smpl_vertices(body_model, a.pose, a.betas, a.has_smpl)
    return sample


def smpl_vertices(body_model, pose: np.ndarray, betas: np.ndarray, has_smpl: bool) -> np.ndarray:
    """GT mesh (V, 3) float32 of axis-angle pose (72,) and betas (10,), no translation; zeros without SMPL."""
    if not has_smpl:
        return np.zeros((body_model.num_vertices, 3), np.float32)
    with torch.no_grad():
        dtype = body_model.mean_shape.dtype
        out = body_model(torch.as_tensor(betas, dtype=dtype)[None], axis_angle=torch.as_tensor(pose, dtype=dtype)[None])
    return _f32(out.vertices[0].numpy())
