"""SynthHMR generation: exact ground truth, byte-identical output, clean resume after an interruption."""

from __future__ import annotations

import hashlib
import time
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

    from hmr_bench.data.synth.png import encode_png

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


# ------------------------------------------------------------------ bad body model, damaged cache, several processes

@pytest.mark.parametrize("content", [None, b"not an npz at all" * 100, "npz without the fields"])
def test_bad_body_model_fails_before_any_file_is_written(tmp_path, content):
    from hmr_bench.errors import InputError

    body = tmp_path / "body.npz"
    if content == "npz without the fields":
        np.savez(body, a=np.zeros(3))
    elif content is not None:
        body.write_bytes(content)
    root = tmp_path / "synth"
    with pytest.raises(InputError, match=rf"^{body}: (field '\w+': )?found ") as e:
        generate(TINY, root=root, workers=1, body_source=str(body))
    assert "allow_pickle" not in str(e.value) and "\n" not in str(e.value)  # no advice to load it unsafely
    assert not root.exists()  # no dataset folder, no .partial image pack


@pytest.mark.parametrize("name", ["train_images.npy", "test.npz"])
def test_truncated_cached_file_says_which_folder_to_delete(tiny, tmp_path, name):
    import shutil

    from hmr_bench.errors import InputError

    root = tmp_path / "synth"
    copy = shutil.copytree(tiny.root, root / tiny.root.name)
    size = (copy / name).stat().st_size
    with open(copy / name, "r+b") as fh:
        fh.truncate(size - 100)
    with pytest.raises(InputError) as e:
        generate(TINY, root=root, workers=1)
    msg = str(e.value)
    assert msg.startswith(f"{copy / name}: found ") and "\n" not in msg
    if name.endswith(".npy"):  # the whole file was what its header asks for
        assert f"a truncated file ({size - 100} bytes; its header (6, 64, 64, 3) uint8 needs {size})" in msg
    else:
        assert "an unreadable or truncated archive (BadZipFile" in msg
    assert msg.endswith(f"The cached dataset is damaged: delete the folder {copy} and run again to render it anew")
    shutil.rmtree(copy)
    assert generate(TINY, root=root, workers=1).complete  # as the message says


def test_a_process_waits_for_the_one_rendering_the_dataset(tiny, tmp_path, caplog):
    """While another process holds the dataset's lock, generate waits (and says so); when that process has
    finished the dataset, generate finds it complete and renders nothing."""
    import shutil
    import threading

    from hmr_bench.io import file_lock

    root = tmp_path / "synth"
    root.mkdir()
    rendered, done = [], threading.Event()
    caplog.set_level("INFO", logger="hmr_bench.data.synth.generate")
    with file_lock(root / f"{tiny.root.name}.lock"):  # another process renders this dataset
        t = threading.Thread(target=lambda: (generate(TINY, root=root, workers=1, progress=rendered.append),
                                             done.set()))
        t.start()
        time.sleep(1.0)
        assert not done.is_set() and not (root / tiny.root.name).exists()
        shutil.copytree(tiny.root, root / tiny.root.name)  # ... and finishes it
    t.join(60)
    assert done.is_set() and rendered == []
    assert f"waiting for another process rendering {root / tiny.root.name}" in caplog.text
