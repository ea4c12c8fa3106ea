"""images.py: the pixel convention of the warp (bright pixels, slices), colour noise, normalisation, reading."""

import logging
import pickle

import cv2
import numpy as np
import pytest
import torch

from hmr_bench.data.images import (
    ImagePack,
    apply_color_noise,
    cv2_affine,
    flip_affine,
    normalize_crops,
    open_pack,
    pack_path,
    read_image,
    warp_crops,
)
from hmr_bench.errors import InputError
from hmr_bench.geometry.crops import apply_affine, compose_affine, crop_transform

OUT = (48, 64)  # (W_c, H_c)


def dot_image(row, col, h=60, w=80):
    img = np.zeros((h, w, 3), np.uint8)
    img[row, col] = (255, 128, 7)
    return img


def test_cv2_affine_formula():
    A = np.array([[2.0, 0.5, 3.0], [-0.5, 2.0, 1.0]])
    p = np.array([[4.0, 7.0]])
    # M(p) = A(p + 0.5) − 0.5
    np.testing.assert_allclose(apply_affine(cv2_affine(A), p), apply_affine(A, p + 0.5) - 0.5)


@pytest.mark.parametrize("rot", [0.0, 90.0, -90.0, 180.0])
@pytest.mark.parametrize("flip", [False, True])
def test_single_bright_pixel_lands_on_the_predicted_crop_pixel(rot, flip):
    row, col = 13, 27
    img = dot_image(row, col)
    p = np.array([col + 0.5, row + 0.5])  # its centre, continuous
    center = np.array([55.0 if flip else 25.0, 20.0])  # integer centre near the (flipped) dot
    A = crop_transform(center, float(OUT[1]), OUT, rot)  # scale 1
    if flip:
        A = compose_affine(A, flip_affine(img.shape[1]))
        assert apply_affine(flip_affine(80), p[None])[0, 0] == 80 - p[0]
    q = apply_affine(A, p[None])[0]
    assert np.allclose(q % 1, 0.5)  # a crop pixel centre by construction
    crop = warp_crops(img, A[None], OUT)[0]
    assert crop.shape == (3, OUT[1], OUT[0]) and crop.dtype == np.uint8
    qi = int(np.floor(q[1])), int(np.floor(q[0]))
    np.testing.assert_array_equal(crop[:, qi[0], qi[1]], [255, 128, 7])
    assert crop.astype(int).sum() == 255 + 128 + 7  # nothing else lit


def test_bright_pixel_upsampled_peak():
    img = dot_image(20, 40)
    p = np.array([40.5, 20.5])
    # scale 2: crop centre (24, 32); q = 2(p − c) + (24, 32); choose c so q = (30.5, 40.5), a pixel centre
    c = p - (np.array([30.5, 40.5]) - np.array([24.0, 32.0])) / 2
    A = crop_transform(c, OUT[1] / 2, OUT)
    crop = warp_crops(img, A[None], OUT)[0, 0]
    assert crop[40, 30] == 255 and np.unravel_index(crop.argmax(), crop.shape) == (40, 30)
    assert abs(int(crop[40, 31]) - 128) <= 1 and abs(int(crop[41, 30]) - 128) <= 1  # half-way: bilinear


def test_integer_aligned_crop_equals_numpy_slice():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    cx, cy = 70, 55
    crop = warp_crops(img, crop_transform(np.array([cx, cy], float), 64.0, OUT)[None], OUT)[0]
    np.testing.assert_array_equal(crop.transpose(1, 2, 0), img[cy - 32:cy + 32, cx - 24:cx + 24])


def test_half_scale_crop_equals_two_by_two_means():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (160, 200, 3), dtype=np.uint8)
    cx, cy = 100, 80
    crop = warp_crops(img, crop_transform(np.array([cx, cy], float), 128.0, OUT)[None], OUT)[0]
    block = img[cy - 64:cy + 64, cx - 48:cx + 48].astype(float)
    means = block.reshape(64, 2, 48, 2, 3).mean((1, 3))
    assert np.abs(crop.transpose(1, 2, 0) - means).max() <= 1.0


def test_zero_border_outside_the_image():
    img = np.full((40, 40, 3), 200, np.uint8)
    crop = warp_crops(img, crop_transform(np.array([0.0, 0.0]), 64.0, OUT)[None], OUT)[0]
    # crop pixel (row r, col c) ↔ image (c − 24, r − 32): inside only for r ≥ 32, c ≥ 24
    assert np.all(crop[:, 32:, 24:] == 200) and np.all(crop[:, :32] == 0) and np.all(crop[:, :, :24] == 0)


def test_flip_in_the_warp_equals_warping_the_flipped_image():
    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
    A = crop_transform(np.array([51.3, 40.7]), 77.0, OUT, 23.0)
    a = warp_crops(img, compose_affine(A, flip_affine(120))[None], OUT)
    b = warp_crops(np.ascontiguousarray(img[:, ::-1]), A[None], OUT)
    assert np.abs(a.astype(int) - b).max() <= 1


def test_flip_affine_twice_is_identity():
    F = flip_affine(160)
    np.testing.assert_allclose(compose_affine(F, F), [[1, 0, 0], [0, 1, 0]])


def test_color_noise_by_hand():
    px = np.array([[100, 200, 50]], np.uint8)
    np.testing.assert_array_equal(apply_color_noise(px, [1.3, 1.4, 0.6]), [[130, 255, 30]])
    with pytest.raises(InputError, match="pn"):
        apply_color_noise(px, [1.0, 1.0])


def test_warp_applies_noise_after_the_warp():
    img = np.full((40, 40, 3), 100, np.uint8)
    crop = warp_crops(img, crop_transform(np.array([0.0, 0.0]), 64.0, OUT)[None], OUT, noise=(2.0, 0.5, 1.0))[0]
    assert np.all(crop[:, :32] == 0)  # the zero border stays zero
    np.testing.assert_array_equal(crop[:, 40, 30], [200, 50, 100])


def test_normalize_crops_imagenet():
    x = torch.tensor([0, 255], dtype=torch.uint8).view(2, 1, 1, 1).expand(2, 3, 2, 2)
    y = normalize_crops(x)
    assert y.dtype == torch.float32 and y.shape == (2, 3, 2, 2)
    torch.testing.assert_close(y[0, :, 0, 0], torch.tensor([-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225]))
    torch.testing.assert_close(y[1, :, 1, 1], torch.tensor([0.515 / 0.229, 0.544 / 0.224, 0.594 / 0.225]))
    with pytest.raises(InputError, match="crops"):
        normalize_crops(torch.zeros(2, 4, 5, 5, dtype=torch.uint8))


def test_read_image_rgb_and_grey(tmp_path):
    img = np.zeros((10, 12, 3), np.uint8)
    img[..., 0] = 200  # red
    cv2.imwrite(str(tmp_path / "a.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    np.testing.assert_array_equal(read_image(tmp_path / "a.png"), img)
    cv2.imwrite(str(tmp_path / "g.png"), np.full((5, 6), 77, np.uint8))
    g = read_image(tmp_path / "g.png")
    assert g.shape == (5, 6, 3) and np.all(g == 77)


def test_read_image_errors_name_file_and_row(tmp_path):
    with pytest.raises(InputError, match=r"train\.npz.*row 7: no such image file .*nope\.jpg"):
        read_image(tmp_path / "nope.jpg", "train.npz", row=7)
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg at all")
    with pytest.raises(InputError, match=r"row 3: an undecodable image .*bad\.jpg"):
        read_image(tmp_path / "bad.jpg", "train.npz", row=3)


def test_image_pack_is_used_only_when_it_fits(tmp_path, caplog):
    npz = tmp_path / "train.npz"
    assert pack_path(npz) == tmp_path / "train_images.npy"
    assert open_pack(npz, 3) is None
    imgs = np.arange(3 * 4 * 5 * 3, dtype=np.uint8).reshape(3, 4, 5, 3)
    np.save(pack_path(npz), imgs)
    pack = open_pack(npz, 3)
    assert isinstance(pack, ImagePack) and len(pack) == 3
    np.testing.assert_array_equal(pack[2], imgs[2])
    clone = pickle.loads(pickle.dumps(pack))  # what a DataLoader worker receives: no array inside
    assert clone._arr is None
    np.testing.assert_array_equal(clone[1], imgs[1])
    with caplog.at_level(logging.WARNING):
        assert open_pack(npz, 4) is None
        assert open_pack(npz, 3, image_hw=(5, 4)) is None
    assert "does not fit" in caplog.text
