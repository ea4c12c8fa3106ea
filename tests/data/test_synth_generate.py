"""SynthHMR generation: exact ground truth, byte-identical output, clean resume after an interruption."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from hmr_bench.data.spin_format import read_annotations
from hmr_bench.data.synth.generate import generate
from hmr_bench.data.synth.scene import SynthConfig
from hmr_bench.geometry.cameras import full_to_crop, project_full

TINY = SynthConfig(image_size=(64, 64), n_train=6, n_val=2, n_test=2, chunk=4, min_box_px=12)


def digest(root: Path) -> dict[str, str]:
    """sha256 of every file of a dataset folder (relative path -> hash)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.suffix in (".npz", ".npy", ".png")}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return generate(TINY, root=tmp_path_factory.mktemp("synth"), workers=1)


def test_layout_and_counts(tiny):
    assert tiny.complete
    for split, n in (("train", 6), ("val", 2), ("test", 2)):
        ann = read_annotations(tiny.npz(split))
        assert len(ann["imgname"]) == n
        assert np.load(tiny.pack(split), mmap_mode="r").shape == (n, 64, 64, 3)
        assert all((tiny.image_root / name).exists() for name in ann["imgname"])
    assert (tiny.root / "preview.png").exists() and (tiny.root / "card.md").exists()


def test_ground_truth_is_consistent(tiny):
    import torch

    ann = read_annotations(tiny.npz("train"))
    f = torch.tensor(ann["focal_length"])
    # the 3D GT joints project onto the 2D GT keypoints (independently of how either was made)
    S = torch.tensor(ann["S"][:, :, :3], dtype=torch.float64)
    uv = project_full(S, torch.zeros(len(f), 3, dtype=torch.float64), f, 64.0, 64.0)
    inside = ann["part"][:, :, 2] > 0
    np.testing.assert_allclose(uv.numpy()[inside], ann["part"][:, :, :2][inside], atol=1e-3)
    # cam_t is the full camera: as a crop camera of the GT box it has a positive scale
    cam = full_to_crop(torch.tensor(ann["cam_t"]), torch.tensor(ann["center"], dtype=torch.float64),
                       torch.tensor(200.0 * ann["scale"], dtype=torch.float64), 64.0, 64.0, f)
    assert (cam[:, 0] > 0).all()
    # the GT box holds every in-image keypoint
    c, b = ann["center"], 200 * ann["scale"]
    for i in range(len(c)):
        kp = ann["part"][i][inside[i], :2]
        assert np.all(np.abs(kp[:, 1] - c[i, 1]) <= b[i] / 2 + 1e-3)
    assert set(ann["action"]) <= set(TINY.actions)
    assert np.all((ann["occlusion"] >= 0) & (ann["occlusion"] <= 1))


def test_same_config_gives_the_same_bytes_whatever_the_workers(tiny, tmp_path):
    again = generate(TINY, root=tmp_path, workers=2)
    assert digest(again.root) == digest(tiny.root)


def test_interrupted_run_is_not_complete_and_resumes_to_the_same_bytes(tiny, tmp_path):
    class Stop(Exception):
        pass

    def stop_after_first_chunk(n):
        raise Stop

    with pytest.raises(Stop):
        generate(TINY, root=tmp_path, workers=1, progress=stop_after_first_chunk)
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert not (folder / "COMPLETE").exists() and not (folder / "train.npz").exists()
    resumed = generate(TINY, root=tmp_path, workers=1)
    assert resumed.complete and digest(resumed.root) == digest(tiny.root)


def test_the_spin_loader_reads_synthhmr(tiny):
    """One format for both worlds: the SPIN-format loader assembles multi-RoI samples from a SynthHMR split."""
    from hmr_bench.data.dataset import SpinDataset

    ds = SpinDataset(tiny.npz("train"), tiny.image_root, num_rois=5, crop_size=(48, 64), train=True)
    s = ds[0]
    assert s["crops"].shape == (5, 3, 64, 48) and str(s["crops"].dtype) in ("uint8", "torch.uint8")
    assert tuple(s["keypoints_crop"].shape) == (5, 49, 3)
    ann = read_annotations(tiny.npz("train"))
    np.testing.assert_allclose(float(s["focal"]), ann["focal_length"][0], rtol=1e-6)


@pytest.mark.parametrize("shape", [(7, 5, 3), (64, 48, 3), (33, 17)])
def test_png_writer_round_trips_through_cv2_and_pillow(shape):
    """hmr-bench's own PNG encoder: standard files that other decoders read back exactly."""
    import io

    import cv2
    from PIL import Image

    from hmr_bench.data.synth.generate import encode_png

    img = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    data = encode_png(img)
    via_cv2 = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img.ndim == 3:
        via_cv2 = via_cv2[:, :, ::-1]
    np.testing.assert_array_equal(via_cv2, img)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(data))), img)


def test_image_files_hold_exactly_the_pack_pixels(tiny):
    import cv2

    ann = read_annotations(tiny.npz("train"))
    pack = np.load(tiny.pack("train"), mmap_mode="r")
    for i, name in enumerate(ann["imgname"]):
        np.testing.assert_array_equal(cv2.imread(str(tiny.image_root / name))[:, :, ::-1], pack[i])
