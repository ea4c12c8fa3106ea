"""samples.py: keypoints follow the pixels, rotation variants, bbox_info, the union crop, flip equivalence."""

import numpy as np
import pytest

from hmr_bench.data.augment import NO_AUGMENT, AugmentParams
from hmr_bench.data.samples import Annotation, SampleConfig, build_sample, roi_geometry, union_geometry
from hmr_bench.errors import InputError
from hmr_bench.geometry.crops import apply_affine

W, H = 160, 120
DOTS = [(30, 60), (55, 95), (80, 70), (95, 50)]  # (row, col) of single bright pixels
CFG = SampleConfig(num_rois=5, crop_size=(96, 128))


def dots_image():
    img = np.zeros((H, W, 3), np.uint8)
    for r, c in DOTS:
        img[r, c] = 255
    return img


def annotation(center=(75.0, 62.0), b=100.0, w=W, h=H, focal=None):
    kp = np.zeros((49, 3))
    for k, (r, c) in enumerate(DOTS):
        kp[25 + k] = (c + 0.5, r + 0.5, 1.0)  # the dots' centres, continuous pixels
    return Annotation(center=np.array(center), b=b, keypoints=kp, pose=np.zeros(72), betas=np.zeros(10),
                      joints3d=np.zeros((24, 4)), has_smpl=False, has_3d=False,
                      focal=focal or float(np.hypot(w, h)), img_w=float(w), img_h=float(h))


@pytest.mark.parametrize("rotation", ["official", "exact"])
@pytest.mark.parametrize("params", [NO_AUGMENT, AugmentParams(True, 33.0, 0.9), AugmentParams(False, -52.0, 1.2)])
def test_keypoints_follow_the_pixels(params, rotation):
    cfg = SampleConfig(crop_size=(96, 128), rotation=rotation)
    s = build_sample(dots_image(), np.eye(2, 3), annotation(), params, cfg)
    checked = 0
    for m in range(5):
        # keypoints_crop = full_trans applied to keypoints_full (conf carried)
        np.testing.assert_allclose(s["keypoints_crop"][m, :, :2],
                                   apply_affine(s["full_trans"][m].astype(float), s["keypoints_full"][:, :2]),
                                   atol=1e-3)
        np.testing.assert_array_equal(s["keypoints_crop"][m, :, 2], s["keypoints_full"][:, 2])
        img = s["crops"][m, 0].astype(float)
        if s["b"][m] > 128:  # downsampled: a single bright pixel may fall between samples
            continue
        for k in range(len(DOTS)):
            q = s["keypoints_crop"][m, 25 + k, :2] - 0.5  # integer-centre crop coordinates
            r, c = np.round(q[::-1]).astype(int)
            if not (5 <= r < 128 - 5 and 5 <= c < 96 - 5):
                continue
            win = img[r - 5:r + 6, c - 5:c + 6]
            assert win.sum() > 0
            yy, xx = np.mgrid[r - 5:r + 6, c - 5:c + 6]
            centroid = np.array([(xx * win).sum(), (yy * win).sum()]) / win.sum()
            np.testing.assert_allclose(centroid, q, atol=0.3)
            checked += 1
    assert checked >= 4


def test_rotation_variants():
    ann = annotation()
    off = roi_geometry(ann.center, ann.b, 30.0, SampleConfig(rotation="official"))
    ex = roi_geometry(ann.center, ann.b, 30.0, SampleConfig(rotation="exact"))
    np.testing.assert_allclose(off["crop_trans"], ex["crop_trans"])
    np.testing.assert_allclose(off["full_trans"][0], ex["full_trans"][0], atol=1e-12)
    assert not np.allclose(off["full_trans"][1:], ex["full_trans"][1:])
    a = np.deg2rad(30.0)
    for m in range(5):
        c_m = off["center"][m]
        s = 256 / off["b"][m]
        lin = s * np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
        np.testing.assert_allclose(off["full_trans"][m][:, :2], lin, atol=1e-12)
        np.testing.assert_allclose(ex["full_trans"][m][:, :2], lin, atol=1e-12)
        # official: rotation about c_m (c_m → crop centre); exact: about c_0 (c_0 stays where crop_trans puts it)
        np.testing.assert_allclose(apply_affine(off["full_trans"][m], c_m[None])[0], [96, 128], atol=1e-9)
        c0 = off["center"][0][None]
        np.testing.assert_allclose(apply_affine(ex["full_trans"][m], c0), apply_affine(ex["crop_trans"][m], c0),
                                   atol=1e-9)
    no_rot = roi_geometry(ann.center, ann.b, 0.0, SampleConfig(rotation="exact"))
    np.testing.assert_allclose(no_rot["full_trans"], no_rot["crop_trans"], atol=1e-12)
    with pytest.raises(InputError, match="rotation"):
        SampleConfig(rotation="both")


def test_bbox_info_spec_example():
    # spec §2.2: W = 1000, H = 800, f = 1280.6248, c = (600, 300), b = 400 → (0.218643, −0.218643, 1.205792)
    ann = annotation(center=(600.0, 300.0), b=400.0, w=1000, h=800)
    s = build_sample(np.zeros((800, 1000, 3), np.uint8), np.eye(2, 3), ann, NO_AUGMENT,
                     SampleConfig(num_rois=2, crop_size=(24, 32)))
    np.testing.assert_allclose(s["bbox_info"][0], [0.218643, -0.218643, 1.205792], atol=1e-5)
    # RoI 1: c = (640, 300), b = 600 by the RoI table
    f = np.hypot(1000, 800)
    np.testing.assert_allclose(s["bbox_info"][1], [2.8 * 140 / f, 2.8 * -100 / f, (600 - 0.24 * f) / (0.06 * f)],
                               rtol=1e-5)
    assert s["focal"] == pytest.approx(1280.6248, abs=1e-4)


def test_scale_augmentation_scales_every_roi_and_flip_moves_the_centre():
    s = build_sample(dots_image(), np.eye(2, 3), annotation(b=100.0), AugmentParams(True, 0.0, 1.2), CFG)
    np.testing.assert_allclose(s["b"], 120 * np.array([1, 1.5, 1.25, 0.8, 0.65]), rtol=1e-6)
    np.testing.assert_allclose(s["center"][0], [160 - 75, 62])
    np.testing.assert_allclose(s["center"][1], [160 - 75 + 12, 62], rtol=1e-6)  # +0.1·b after the flip


def test_flip_equals_cropping_the_mirrored_image():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    params = AugmentParams(True, 20.0, 1.0)
    a = build_sample(img, np.eye(2, 3), annotation(), params, CFG)
    mirrored = annotation(center=(W - 75.0, 62.0))
    b = build_sample(np.ascontiguousarray(img[:, ::-1]), np.eye(2, 3), mirrored, AugmentParams(False, 20.0, 1.0),
                     CFG)
    assert np.abs(a["crops"].astype(int) - b["crops"]).max() <= 1
    np.testing.assert_allclose(a["full_trans"], b["full_trans"], atol=1e-4)


def test_colour_noise_only_scales_channels():
    plain = build_sample(dots_image(), np.eye(2, 3), annotation(), NO_AUGMENT, CFG)["crops"]
    noisy = build_sample(dots_image(), np.eye(2, 3), annotation(), AugmentParams(pn=(0.5, 1.0, 1.4)), CFG)["crops"]
    np.testing.assert_array_equal(noisy[:, 1], plain[:, 1])
    np.testing.assert_array_equal(noisy[:, 0], np.rint(plain[:, 0] * 0.5).astype(np.uint8))
    np.testing.assert_array_equal(noisy[:, 2], np.minimum(np.rint(plain[:, 2] * 1.4), 255).astype(np.uint8))


@pytest.mark.parametrize("rotation", ["official", "exact"])
@pytest.mark.parametrize("rot", [0.0, 25.0])
def test_union_boxes_map_onto_each_roi_crop(rotation, rot):
    cfg = SampleConfig(crop_size=(96, 128), rotation=rotation, union_crop=(120, 160))
    ann = annotation()
    geo = roi_geometry(ann.center, ann.b, rot, cfg)
    union_trans, boxes = union_geometry(geo, cfg)
    pts = np.random.default_rng(1).uniform(0, 160, (20, 2))
    u = apply_affine(union_trans, pts)
    for m in range(5):
        q = apply_affine(geo["full_trans"][m], pts)
        x1, y1, x2, y2 = boxes[m]
        np.testing.assert_allclose((u - [x1, y1]) / [x2 - x1, y2 - y1] * [96, 128], q, atol=1e-9)
    # the union crop holds every box and is tight on one axis
    assert boxes[:, :2].min() >= -1e-9 and boxes[:, 2].max() <= 120 + 1e-9 and boxes[:, 3].max() <= 160 + 1e-9
    assert np.isclose(boxes[:, 0].min(), 0) and np.isclose(boxes[:, 2].max(), 120) or \
        np.isclose(boxes[:, 1].min(), 0) and np.isclose(boxes[:, 3].max(), 160)


def test_union_pixels_match_the_roi_crop():
    cfg = SampleConfig(crop_size=(96, 128), rotation="official", union_crop=(96, 128))
    s = build_sample(dots_image(), np.eye(2, 3), annotation(), AugmentParams(False, 15.0, 1.0), cfg)
    assert s["union"].shape == (3, 128, 96) and s["union"].dtype == np.uint8
    geo = roi_geometry(np.array([75.0, 62.0]), 100.0, 15.0, cfg)
    union_trans, _ = union_geometry(geo, cfg)
    for r, c in DOTS:  # each dot is where the union transform says
        q = apply_affine(union_trans, np.array([[c + 0.5, r + 0.5]]))[0] - 0.5
        ri, ci = np.round(q[::-1]).astype(int)
        if 2 <= ri < 126 and 2 <= ci < 94:
            assert s["union"][0, ri - 1:ri + 2, ci - 1:ci + 2].max() > 0


def ramp(w, h, k):
    """uint8 (h, w, 3): g(x, y) = 0.5x + y + 10 at the pixel centres of a k× finer grid of a 160×120 image."""
    y, x = (np.mgrid[0:h, 0:w] + 0.5) / k
    return np.repeat(np.rint(0.5 * x + y + 10)[..., None], 3, -1).astype(np.uint8)


def test_image_to_full_rescale():
    # the same linear picture at twice the resolution, annotated at the low resolution: the same crops
    # (bilinear sampling reproduces a linear function, so only uint8 rounding differs)
    ann = annotation(center=(80.0, 60.0), b=40.0)  # every RoI box inside the image
    a = build_sample(ramp(W, H, 1), np.eye(2, 3), ann, AugmentParams(True, 20.0), CFG)["crops"]
    b = build_sample(ramp(2 * W, 2 * H, 2), np.array([[0.5, 0, 0], [0, 0.5, 0]]), ann, AugmentParams(True, 20.0),
                     CFG)["crops"]
    assert a.min() > 0 and np.abs(a.astype(int) - b).max() <= 1
