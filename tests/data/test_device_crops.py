"""device_crops: the RoI crops cut on the device from the decoded image agree with the CPU path's cv2 crops, and every
label of a crop_on="device" batch is the CPU path's, bit for bit.

Independent references: cv2.warpAffine (`images.warp_crops`, the CPU path) and scipy's bilinear
`map_coordinates` at positions computed here in float64 from the inverse affine."""

import cv2
import numpy as np
import pytest
import torch
from scipy.ndimage import map_coordinates

from hmr_bench.config import DataConfig, RunConfig, apply_overrides
from hmr_bench.data.augment import AugmentParams
from hmr_bench.data.dataset import MixedDataset, SpinDataset
from hmr_bench.data.device_crops import DEVICE_KEYS, UNION_KEYS, crop_grid, cut_crops
from hmr_bench.data.images import warp_crops
from hmr_bench.data.loader import collate_samples, make_loader
from hmr_bench.data.samples import SampleConfig
from hmr_bench.errors import InputError
from hmr_bench.geometry.crops import crop_transform, invert_affine
from tests.data.fixtures import H, W, write_spin_fixture

CROP = (48, 64)  # (W_c, H_c)
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                                 reason="no CUDA device here: the same code runs on "
                                                                        "the CPU in the 'cpu' case"))]
needs_cv2_5 = pytest.mark.skipif(int(cv2.__version__.split(".")[0]) < 5,
                                 reason="OpenCV 4 rounds warpAffine's sampling positions to 1/32 px (a few levels at "
                                        "sharp edges); the exact-bilinear test checks the device crops there")


def random_rois(rng, w, h, n):
    """n image → crop affines: centres anywhere in (and up to 20 % outside) the image, box heights 20–150 % of it,
    rotations ±60° (half of them 0)."""
    c = np.stack([rng.uniform(-0.2 * w, 1.2 * w, n), rng.uniform(-0.2 * h, 1.2 * h, n)], -1)
    b = rng.uniform(0.2, 1.5, n) * h
    rot = rng.uniform(-60, 60, n) * (rng.random(n) < 0.5)
    return crop_transform(c, b, CROP, rot)


def device_batch(images, affines, pn=None, device="cpu"):
    """A crop_on="device" batch of images (list of uint8 (H, W, 3)) and affines (B, M, 2, 3), on `device`."""
    samples = [{"image": im, "image_trans": a, "pn": np.ones(3, np.float32) if pn is None else pn[i],
                "crop_size": CROP, "index": i} for i, (im, a) in enumerate(zip(images, affines))]
    batch = collate_samples(samples)
    return {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}


@needs_cv2_5
@pytest.mark.parametrize("device", DEVICES)
def test_device_crops_match_cv2_within_one_level(device):
    """White-noise images (every neighbour pair may differ by 255: the hardest case for interpolation), three sizes
    (padded to one batch), 8 random RoIs each, many hanging over the border: |device − cv2| ≤ 1 on every pixel."""
    rng = np.random.default_rng(0)
    sizes = [(150, 210), (97, 64), (120, 160)]  # (H, W)
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in sizes]
    affines = np.stack([random_rois(rng, w, h, 8) for h, w in sizes])
    batch = device_batch(images, affines, device=device)
    if device == "cuda":  # the cut queues behind the batch's non-blocking copy: any host synchronisation is an error
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
    try:
        crops = cut_crops(batch)["crops"]
    finally:
        if device == "cuda":
            torch.cuda.set_sync_debug_mode("default")
    assert crops.dtype == torch.uint8 and tuple(crops.shape) == (3, 8, 3, 64, 48)
    assert crops.device.type == device
    ref = np.stack([warp_crops(im, a, CROP) for im, a in zip(images, affines)])
    diff = np.abs(crops.cpu().numpy().astype(int) - ref)
    assert diff.max() <= 1
    assert (diff > 0).mean() < 1e-3  # only values within float error of k + 0.5 round the other way
    border = ref == 0  # outside the image both write zeros
    assert border.mean() > 0.05 and np.abs(crops.cpu().numpy()[border].astype(int)).max() <= 1


def test_grid_is_exact_bilinear_sampling():
    """crop_grid + grid_sample (float) = bilinear interpolation at A⁻¹(q + ½) − ½ in integer-centre pixels, zeros
    outside (scipy, float64), for random boxes, rotations and scales, on a noise image."""
    rng = np.random.default_rng(1)
    h, w = 90, 130
    image = rng.uniform(0, 255, (h, w, 3))
    A = random_rois(rng, w, h, 6)
    grid = crop_grid(torch.from_numpy(A), CROP, (h, w))
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float()
    got = torch.nn.functional.grid_sample(x, grid.reshape(1, 6 * CROP[1], CROP[0], 2), align_corners=False)
    got = got.reshape(3, 6, CROP[1], CROP[0]).permute(1, 0, 2, 3).numpy()
    qy, qx = np.mgrid[0:CROP[1], 0:CROP[0]] + 0.5
    for m, inv in enumerate(invert_affine(A)):
        px = inv[0, 0] * qx + inv[0, 1] * qy + inv[0, 2] - 0.5
        py = inv[1, 0] * qx + inv[1, 1] * qy + inv[1, 2] - 0.5
        for ch in range(3):
            want = map_coordinates(image[..., ch], [py, px], order=1, mode="grid-constant", cval=0.0)
            # float32 grid: positions within ~1e-5 px, times up to 255 levels/px between noise pixels
            np.testing.assert_allclose(got[m, ch], want, atol=1e-2)


def test_padding_changes_no_crop():
    """Two images of different sizes cut in one padded batch = each cut alone (to float rounding), RoIs over the
    right/bottom edges included (the padding's zeros are what lies outside an image)."""
    rng = np.random.default_rng(2)
    small, big = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8), rng.integers(0, 256, (80, 120, 3), dtype=np.uint8)
    a_small = crop_transform(np.array([[45.0, 35.0], [25.0, 20.0]]), np.array([40.0, 30.0]), CROP, np.array([20.0, 0]))
    a_big = random_rois(rng, 120, 80, 2)
    batch = device_batch([small, big], np.stack([a_small, a_big]))
    assert tuple(batch["image"].shape) == (2, 80, 120, 3)
    assert batch["image"][0, 40:].eq(0).all() and batch["image"][0, :, 50:].eq(0).all()
    both = cut_crops(batch)["crops"].int()
    alone = [cut_crops(device_batch([im], a[None]))["crops"][0].int() for im, a in ((small, a_small), (big, a_big))]
    for i in range(2):  # the same values; float rounding of the other normalisation may flip a k + 0.5 by one
        diff = (both[i] - alone[i]).abs()
        assert diff.max() <= 1 and (diff > 0).float().mean() < 1e-3
    assert alone[0][0, :, :, -8:].eq(0).all()  # RoI 0 of the small image ends beyond its right edge


@needs_cv2_5
def test_colour_noise_as_on_the_cpu():
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (100, 100, 3), dtype=np.uint8)
    A = random_rois(rng, 100, 100, 4)
    pn = np.array([[0.6, 1.0, 1.4]], np.float32)
    crops = cut_crops(device_batch([image], A[None], pn))["crops"][0].numpy()
    ref = warp_crops(image, A, CROP, pn[0])
    assert np.abs(crops.astype(int) - ref).max() <= 2  # a ±1 before the ×1.4 can round to ±2 after it
    assert (crops != ref).mean() < 1e-3


@pytest.fixture
def half_res(tmp_path):
    """The fixture with img_w/img_h at 160×120 and images stored at 320×240: the image → crop affine includes a
    rescale."""
    fx = write_spin_fixture(tmp_path, with_focal=True, synth=True)
    for k, img in enumerate(fx.images):
        big = cv2.resize(img, (2 * W, 2 * H), interpolation=cv2.INTER_LINEAR)
        cv2.imwrite(str(fx.img_root / fx.arrays["imgname"][k]), cv2.cvtColor(big, cv2.COLOR_RGB2BGR))
    return fx


@needs_cv2_5
@pytest.mark.parametrize("rotation", ["official", "exact"])
@pytest.mark.parametrize("roi_variant", ["fixed", "random"])
def test_dataset_batches_same_labels_same_crops(half_res, rotation, roi_variant):
    """crop_on="device" through the dataset, collate and cut_crops vs the CPU path: same keys, every label
    identical, crops within 1 level (2 with colour noise), for flips, rotations, scales and the rescale."""
    kw = dict(num_rois=5, crop_size=CROP, rotation=rotation, roi_variant=roi_variant)
    cpu = SpinDataset(half_res.npz, half_res.img_root, **kw)
    dev = SpinDataset(half_res.npz, half_res.img_root, crop_on="device", **kw)
    params = [AugmentParams(True, 25.0, 0.8, (0.7, 1.2, 1.0)), AugmentParams(False, -40.0, 1.2, (1.0, 1.0, 1.0)),
              AugmentParams(True, 0.0, 1.0, (1.3, 0.9, 0.65)), AugmentParams()]
    a = collate_samples([cpu.sample(i, p, np.random.default_rng(i)) for i, p in enumerate(params)])
    b = cut_crops(collate_samples([dev.sample(i, p, np.random.default_rng(i)) for i, p in enumerate(params)]))
    assert set(a) == set(b) == cpu.sample_keys and not set(DEVICE_KEYS) & set(b)
    for k in a:
        if k != "crops":
            assert torch.equal(a[k], b[k]) if torch.is_tensor(a[k]) else a[k] == b[k], k
    diff = (a["crops"].int() - b["crops"].int()).abs()
    assert diff.max() <= 2 and diff[3].max() <= 1 and (diff > 0).float().mean() < 1e-3
    assert a["crops"].float().std() > 20  # the crops show the pattern, not a blank border


@needs_cv2_5
def test_union_image_on_the_device(half_res):
    """Shared-backbone mode: the union image is cut on the device too (its own grid_sample), RoI boxes unchanged."""
    kw = dict(num_rois=5, crop_size=CROP, union_crop=(72, 96))
    cpu = SpinDataset(half_res.npz, half_res.img_root, **kw)
    dev = SpinDataset(half_res.npz, half_res.img_root, crop_on="device", **kw)
    params = [AugmentParams(True, 30.0, 0.9, (0.8, 1.0, 1.2)), AugmentParams(False, 0.0, 1.1)]
    a = collate_samples([cpu.sample(i, p) for i, p in enumerate(params)])
    raw = collate_samples([dev.sample(i, p) for i, p in enumerate(params)])
    assert tuple(raw["union_trans"].shape) == (2, 1, 2, 3) and raw["union_size"] == (72, 96)
    b = cut_crops(raw)
    assert set(a) == set(b) == cpu.sample_keys and not set(UNION_KEYS) & set(b)
    assert b["union"].dtype == torch.uint8 and tuple(b["union"].shape) == (2, 3, 96, 72)
    assert torch.equal(a["roi_boxes_union"], b["roi_boxes_union"])
    diff = (a["union"].int() - b["union"].int()).abs()
    assert diff.max() <= 2 and diff[1].max() <= 1 and (diff > 0).float().mean() < 1e-3
    assert a["union"].float().std() > 20


@needs_cv2_5
def test_device_samples_through_the_loader(tmp_path):
    """Device samples collate in a loader (workers too), across images of different sizes, and in a mixed
    dataset; the crop_size tuple travels as a tuple."""
    fx = write_spin_fixture(tmp_path)
    big = cv2.resize(fx.images[2], (2 * W, H), interpolation=cv2.INTER_NEAREST)  # 320×120, annotations unchanged
    cv2.imwrite(str(fx.img_root / fx.arrays["imgname"][2]), cv2.cvtColor(big, cv2.COLOR_RGB2BGR))
    ds = SpinDataset(fx.npz, fx.img_root, crop_size=CROP, train=True, crop_on="device")
    assert set(ds[0]) == ds.sample_keys and "crops" not in ds.sample_keys
    batch = next(iter(make_loader(ds, 4, shuffle=False, workers=1)))
    assert tuple(batch["image"].shape) == (4, H, 2 * W, 3) and batch["crop_size"] == CROP
    assert batch["image"][0, :, W:].eq(0).all() and np.array_equal(batch["image"][2].numpy(), big)
    ref = collate_samples([SpinDataset(fx.npz, fx.img_root, crop_size=CROP, train=True)[i] for i in range(4)])
    out = cut_crops(batch)
    assert (out["crops"].int() - ref["crops"].int()).abs().max() <= 2
    mixed = MixedDataset([ds, ds], [1, 1], length=4)
    assert set(DEVICE_KEYS) <= set(collate_samples([mixed[i] for i in range(4)]))


def test_cpu_default_unchanged(tmp_path):
    """The default is crop_on="cpu": samples hold crops as before (no device keys), cut_crops passes such a batch
    through untouched."""
    assert DataConfig().crop_on == "cpu" and SampleConfig().crop_on == "cpu"
    fx = write_spin_fixture(tmp_path)
    ds = SpinDataset(fx.npz, fx.img_root, crop_size=CROP, train=True)
    s = ds[(1, 2, 3)]
    assert "crops" in s and not set(DEVICE_KEYS) & set(s)
    explicit = SpinDataset(fx.npz, fx.img_root, crop_size=CROP, train=True, crop_on="cpu")[(1, 2, 3)]
    for k in s:
        assert np.array_equal(s[k], explicit[k]) if isinstance(s[k], np.ndarray) else s[k] == explicit[k], k
    assert set(s) == {"crops", "bbox_info", "center", "b", "crop_trans", "full_trans", "keypoints_crop",
                      "keypoints_full", "pose", "betas", "joints3d", "has_smpl", "has_3d", "focal", "img_w", "img_h",
                      "flip", "rot", "sc", "index", "imgname", "dataset"}  # the keys before crop_on existed
    batch = collate_samples([ds[i] for i in range(2)])
    assert cut_crops(batch) is batch


def test_errors_name_the_field():
    with pytest.raises(InputError, match=r"data\.crop_on.*'gpu'.*'cpu', 'device'"):
        DataConfig(crop_on="gpu")
    with pytest.raises(InputError, match=r"data\.crop_on.*'gpu'"):
        apply_overrides(RunConfig(), {"data.crop_on": "gpu"})
    assert apply_overrides(RunConfig(), {"data.crop_on": "device"}).data.crop_on == "device"
    with pytest.raises(InputError, match=r"crop_on.*input='proxy'.*heatmaps"):
        SampleConfig(crop_on="device", input="proxy")
    rng = np.random.default_rng(4)
    image = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    batch = device_batch([image], random_rois(rng, 40, 30, 2)[None])
    with pytest.raises(InputError, match=r"cut_crops.*no image_trans"):
        cut_crops({k: v for k, v in batch.items() if k != "image_trans"})
    with pytest.raises(InputError, match=r"cut_crops: field 'image': found torch.float32.*expected uint8"):
        cut_crops({**batch, "image": batch["image"].float()})
    with pytest.raises(InputError, match=r"cut_crops: field 'image_trans'.*\(1, M, 2, 3\)"):
        cut_crops({**batch, "image_trans": batch["image_trans"][0]})
    with pytest.raises(InputError, match=r"collate_samples: field 'crop_size'.*the same tuple"):
        collate_samples([{"crop_size": (48, 64)}, {"crop_size": (24, 32)}])
    with pytest.raises(InputError, match=r"collate_samples: field 'image'.*uint8 \(H, W, C\)"):
        collate_samples([{"image": image}, {"image": image.astype(np.float32)}])


def test_frozen_backbone_refuses_device_crops():
    from hmr_bench.train.data import build_data

    cfg = apply_overrides(RunConfig(), {"data.crop_on": "device", "train.backbone": "frozen"})
    with pytest.raises(InputError, match=r"data\.crop_on.*frozen.*computed once"):
        build_data(cfg)
