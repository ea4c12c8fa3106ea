"""SpinDataset, MixedDataset, the real-dataset names and the DataLoader path, on small SPIN-format fixtures."""

import numpy as np
import pytest
import torch

from hmr_bench.body.model import BodyModel
from hmr_bench.data.augment import AugmentParams
from hmr_bench.data.dataset import MixedDataset, SampleKey, SpinDataset
from hmr_bench.data.loader import EpochSampler, collate_samples, default_workers, make_loader
from hmr_bench.data.real import REAL_DATASETS, real_train_mix, resolve_real_dataset, spin_mix_ratios
from hmr_bench.errors import InputError
from tests.data.fixtures import DIAG_FOCAL, H, W, write_spin_fixture
from tests.toy_smpl import toy_smpl_arrays

CROP = (24, 32)


@pytest.fixture
def fx(tmp_path):
    return write_spin_fixture(tmp_path)


def rewrite(fx, **changes):
    """The fixture's npz rewritten with fields changed (None removes one), bypassing validation."""
    arrays = {k: v for k, v in ({**fx.arrays, **changes}).items() if v is not None}
    np.savez(fx.npz, **arrays)
    return fx.npz


def test_sample_shapes_and_dtypes(fx):
    ds = SpinDataset(fx.npz, fx.img_root, num_rois=5, crop_size=CROP, train=True)
    s = ds[1]
    shapes = {"crops": (5, 3, 32, 24), "bbox_info": (5, 3), "center": (5, 2), "b": (5,), "crop_trans": (5, 2, 3),
              "full_trans": (5, 2, 3), "keypoints_crop": (5, 49, 3), "keypoints_full": (49, 3), "pose": (72,),
              "betas": (10,), "joints3d": (24, 4)}
    for k, shape in shapes.items():
        assert s[k].shape == shape, k
        assert s[k].dtype == (np.uint8 if k == "crops" else np.float32), k
    assert set(s) == ds.sample_keys
    assert s["index"] == 1 and s["imgname"] == "images/img_001.png" and s["dataset"] == "fix_train"
    assert s["has_smpl"] is True and s["has_3d"] is True
    assert (s["img_w"], s["img_h"]) == (W, H) and s["focal"] == pytest.approx(DIAG_FOCAL)
    np.testing.assert_array_equal(s["keypoints_full"][:25, 2], 0)  # no openpose field: confidence 0


def test_rows_without_augmentation_match_the_npz(fx):
    ds = SpinDataset(fx.npz, fx.img_root, crop_size=CROP, box="npz")
    s = ds[2]
    np.testing.assert_allclose(s["keypoints_full"][25:], fx.arrays["part"][2], rtol=1e-6)
    np.testing.assert_allclose(s["pose"], fx.arrays["pose"][2], rtol=1e-6)
    np.testing.assert_allclose(s["joints3d"], fx.arrays["S"][2], rtol=1e-6)
    np.testing.assert_allclose(s["center"][0], fx.arrays["center"][2], rtol=1e-6)
    assert s["b"][0] == pytest.approx(200 * fx.arrays["scale"][2], rel=1e-6)
    assert (s["flip"], s["rot"], s["sc"]) == (False, 0.0, 1.0)


def test_keypoint_box_by_hand(fx):
    part = fx.arrays["part"].copy()
    part[0, :, :2] = 50.0
    part[0, 0, :2] = (40.0, 30.0)
    part[0, 1, :2] = (70.0, 90.0)
    part[0, 2, :2] = (150.0, 115.0)
    part[0, 2, 2] = 0.0  # invisible: ignored
    ds = SpinDataset(rewrite(fx, part=part), fx.img_root, crop_size=CROP)
    np.testing.assert_allclose(ds.centers[0], [55, 60])
    assert ds.bs[0] == pytest.approx(1.2 * 60)  # h = 60 > w·4/3 = 40
    # a row with fewer than 2 visible keypoints keeps the npz box
    part[1, :, 2] = 0
    part[1, 0, 2] = 1
    ds = SpinDataset(rewrite(fx, part=part), fx.img_root, crop_size=CROP)
    np.testing.assert_allclose(ds.centers[1], fx.arrays["center"][1])


def test_focal_and_size_fields(tmp_path):
    fx = write_spin_fixture(tmp_path, with_focal=True)
    s = SpinDataset(fx.npz, fx.img_root, crop_size=CROP)[0]
    assert s["focal"] == 180.0 and (s["img_w"], s["img_h"]) == (W, H)
    fx2 = write_spin_fixture(tmp_path / "b")
    assert SpinDataset(fx2.npz, fx2.img_root, crop_size=CROP, focal_default=500.0)[0]["focal"] == 500.0
    with pytest.raises(InputError, match="focal_default"):
        SpinDataset(fx2.npz, fx2.img_root, focal_default="median")


def test_half_resolution_annotations_rescale_the_image(tmp_path):
    """3DPW-style: npz at 160×120 (img_w/img_h), images stored at 320×240: same crops as 160×120 images."""
    import cv2

    fx = write_spin_fixture(tmp_path, with_focal=True)
    ref = SpinDataset(fx.npz, fx.img_root, crop_size=CROP)[0]["crops"]
    for k, img in enumerate(fx.images):
        big = cv2.resize(img, (2 * W, 2 * H), interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(str(fx.img_root / fx.arrays["imgname"][k]), cv2.cvtColor(big, cv2.COLOR_RGB2BGR))
    s = SpinDataset(fx.npz, fx.img_root, crop_size=CROP)[0]
    assert (s["img_w"], s["img_h"]) == (W, H)
    assert np.mean(np.abs(s["crops"].astype(int) - ref)) < 3  # pattern edges resample differently
    cv2.imwrite(str(fx.img_root / fx.arrays["imgname"][1]), np.zeros((100, 100, 3), np.uint8))
    with pytest.raises(InputError, match=r"row 1: annotated size 160×120 but the image is 100×100"):
        SpinDataset(fx.npz, fx.img_root, crop_size=CROP)[1]


def test_synth_fields_and_image_pack(tmp_path):
    import cv2

    fx = write_spin_fixture(tmp_path, synth=True, pack=True)
    inverted = 255 - np.stack(fx.images)
    np.save(fx.npz.with_name("fix_train_images.npy"), inverted)  # the pack now differs from the files
    ds = SpinDataset(fx.npz, fx.img_root, crop_size=CROP)
    s = ds.sample(0, AugmentParams(flip=True, rot=10.0))
    from_files = SpinDataset(fx.npz, fx.img_root, crop_size=CROP, use_pack=False).sample(0, AugmentParams(True, 10.0))
    assert not np.array_equal(s["crops"], from_files["crops"])
    for k, img in enumerate(inverted):
        cv2.imwrite(str(fx.img_root / fx.arrays["imgname"][k]), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    inverted_files = SpinDataset(fx.npz, fx.img_root, crop_size=CROP, use_pack=False)
    np.testing.assert_array_equal(s["crops"], inverted_files.sample(0, AugmentParams(True, 10.0))["crops"])
    for f in (fx.img_root / "images").iterdir():
        f.unlink()
    assert ds.check_images() == 4 and ds[1]["crops"].shape == (5, 3, 32, 24)  # no files needed
    assert s["action"] == "walk" and isinstance(s["occlusion"], float)
    rot = np.deg2rad(-10.0)  # R_z(−rot) after the flip (x negated)
    rz = np.array([[np.cos(rot), -np.sin(rot), 0], [np.sin(rot), np.cos(rot), 0], [0, 0, 1]])
    np.testing.assert_allclose(s["cam_t"], rz @ (fx.arrays["cam_t"][0] * [-1, 1, 1]), rtol=1e-5)
    # H36M-17 flip: joint 1 (left hip) ← joint 4 (right hip)
    np.testing.assert_allclose(s["joints_h36m17"][1], rz @ (fx.arrays["joints_h36m17"][0, 4] * [-1, 1, 1]),
                               rtol=1e-5)


def test_union_crop_and_body_model(fx):
    body = BodyModel(toy_smpl_arrays(), "toy")
    ds = SpinDataset(fx.npz, fx.img_root, crop_size=CROP, union_crop=(36, 48), body_model=body)
    s = ds[0]
    assert s["union"].shape == (3, 48, 36) and s["roi_boxes_union"].shape == (5, 4)
    out = body(torch.as_tensor(fx.arrays["shape"][:1], dtype=torch.float32),
               axis_angle=torch.as_tensor(fx.arrays["pose"][:1], dtype=torch.float32))
    np.testing.assert_allclose(s["smpl_vertices"], out.vertices[0].numpy(), atol=1e-5)
    assert set(s) == ds.sample_keys


# --- bad input ------------------------------------------------------------------------------------------------
def test_missing_image_file(fx):
    (fx.img_root / fx.arrays["imgname"][1]).unlink()
    ds = SpinDataset(fx.npz, fx.img_root, crop_size=CROP)
    ds[0]
    with pytest.raises(InputError, match=r"fix_train\.npz: field 'imgname': found row 1: no such image file "
                                         r".*img_001\.png"):
        ds[1]
    with pytest.raises(InputError, match=r"1 bad images of 4: .*row 1: no such image file"):
        ds.check_images()


def test_undecodable_image(fx):
    (fx.img_root / fx.arrays["imgname"][3]).write_bytes(b"\x89PNG garbage")
    ds = SpinDataset(fx.npz, fx.img_root, crop_size=CROP)
    with pytest.raises(InputError, match=r"row 3: an undecodable image .*img_003\.png"):
        ds[3]
    assert ds.check_images() == 4  # existence only
    with pytest.raises(InputError, match=r"1 bad images of 4: .*undecodable"):
        ds.check_images(decode=True)


def test_npz_missing_a_key(fx):
    with pytest.raises(InputError, match=r"fix_train\.npz: field 'center': found no such field"):
        SpinDataset(rewrite(fx, center=None), fx.img_root)


def test_wrong_shape(fx):
    with pytest.raises(InputError, match=r"field 'part': found shape \(4, 23, 3\); expected \(N, 24, 3\)"):
        SpinDataset(rewrite(fx, part=fx.arrays["part"][:, :23]), fx.img_root)


def test_nan_in_annotations(fx):
    s = fx.arrays["S"].copy()
    s[2, 7, 1] = np.nan
    with pytest.raises(InputError, match=r"field 'S': found 1 non-finite values, first at row 2"):
        SpinDataset(rewrite(fx, S=s), fx.img_root)


def test_empty_split(fx):
    empty = {k: v[:0] for k, v in fx.arrays.items()}
    with pytest.raises(InputError, match=r"field 'imgname': found 0 rows; expected a non-empty split"):
        SpinDataset(rewrite(fx, **empty), fx.img_root)


def test_has_smpl_without_pose_and_bad_scale(fx):
    with pytest.raises(InputError, match=r"field 'pose': found no such field although has_smpl is set"):
        SpinDataset(rewrite(fx, pose=None), fx.img_root)
    scale = fx.arrays["scale"].copy()
    scale[1] = 0.0
    with pytest.raises(InputError, match=r"field 'scale': found 0.0 at row 1"):
        SpinDataset(rewrite(fx, scale=scale), fx.img_root)


def test_roi_entirely_outside_the_image_on_open(tmp_path):
    fx = write_spin_fixture(tmp_path, with_focal=True)  # img_w/img_h: checked when the dataset opens
    center = fx.arrays["center"].copy()
    center[2] = (400.0, 60.0)
    b = 200 * fx.arrays["scale"][2]
    x1 = 400 - 0.375 * b
    with pytest.raises(InputError, match=rf"field 'center/scale': found row 2 \(images/img_002\.png\): RoI box "
                                         rf"\(x1, y1, x2, y2\) = \({x1:.1f}, .*entirely outside the 160×120 image"):
        SpinDataset(rewrite(fx, center=center), fx.img_root, box="npz")


def test_roi_outside_the_image_lazily_and_from_keypoints(fx):
    part = fx.arrays["part"].copy()
    part[1, :, 1] -= 500.0  # every keypoint far above the image
    ds = SpinDataset(rewrite(fx, part=part), fx.img_root, crop_size=CROP)  # no img_w: checked per item
    ds[0]
    with pytest.raises(InputError, match=r"field 'part': found row 1 .*entirely outside the 160×120 image"):
        ds[1]


# --- randomness and the loader -------------------------------------------------------------------------------
def _equal(a, b):
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], torch.Tensor):
            assert torch.equal(a[k], b[k]), k
        else:
            assert a[k] == b[k], k


def test_sample_depends_only_on_seed_epoch_index(fx):
    ds = SpinDataset(fx.npz, fx.img_root, crop_size=CROP, train=True)
    a, b = ds[SampleKey(2, 3, 7)], ds[SampleKey(2, 3, 7)]
    _equal(collate_samples([a]), collate_samples([b]))
    params = {(e, s): (ds[SampleKey(2, e, s)]["rot"], ds[SampleKey(2, e, s)]["sc"]) for e in range(3) for s in (0, 1)}
    assert len(set(params.values())) == 6


def test_loader_is_deterministic_across_worker_counts(fx):
    ds = SpinDataset(fx.npz, fx.img_root, crop_size=CROP, train=True)
    runs = {}
    for workers in (0, 2):
        loader = make_loader(ds, batch_size=3, shuffle=True, seed=11, workers=workers)
        runs[workers] = [[b for b in loader] for _ in range(2)]  # two epochs
    for e in range(2):
        for b0, b2 in zip(runs[0][e], runs[2][e]):
            _equal(b0, b2)
    assert runs[0][0][0]["index"].tolist() != runs[0][1][0]["index"].tolist() or \
        not torch.equal(runs[0][0][0]["crops"], runs[0][1][0]["crops"])  # the epoch changes the batch
    b = runs[0][0][0]
    assert b["crops"].dtype == torch.uint8 and b["crops"].shape == (3, 5, 3, 32, 24)
    assert b["has_smpl"].dtype == torch.bool and b["focal"].dtype == torch.float32
    assert isinstance(b["imgname"], list) and len(b["imgname"]) == 3


def test_epoch_sampler():
    s = EpochSampler(6, shuffle=True, seed=3)
    e0, e1 = list(s), list(s)
    assert sorted(k.index for k in e0) == list(range(6)) and {k.epoch for k in e0} == {0}
    assert {k.epoch for k in e1} == {1} and {k.seed for k in e1} == {3}
    s.set_epoch(0)
    assert list(s) == e0
    assert [k.index for k in EpochSampler(4, shuffle=False)] == [0, 1, 2, 3]


def test_collate_rejects_mismatched_keys_and_workers_default():
    with pytest.raises(InputError, match="same keys"):
        collate_samples([{"a": 1.0}, {"b": 1.0}])
    assert 0 <= default_workers() <= 4


# --- mixing and the real datasets ------------------------------------------------------------------------------
class Recorder:
    def __init__(self, n, tag, extra=()):
        self.n, self.tag = n, tag
        self.sample_keys = frozenset({"tag", "key", *extra})

    def __len__(self):
        return self.n

    def __getitem__(self, key):
        return {"tag": self.tag, "key": tuple(key), "only_here": 1}


def test_mixed_dataset_ratios_and_keys():
    mix = MixedDataset([Recorder(10, "a", ["x"]), Recorder(100, "b"), Recorder(5, "c")], [0.3, 0.6, 0.1], seed=1)
    assert len(mix) == 100
    tags = [mix[SampleKey(i, e)]["tag"] for e in range(30) for i in range(100)]
    freq = {t: tags.count(t) / len(tags) for t in "abc"}
    assert abs(freq["a"] - 0.3) < 0.02 and abs(freq["b"] - 0.6) < 0.02 and abs(freq["c"] - 0.1) < 0.02
    s = mix[SampleKey(42, 2, 5)]
    assert set(s) == {"tag", "key"}  # only the keys common to every member
    n = {"a": 10, "b": 100, "c": 5}[s["tag"]]
    assert s["key"] == (42 % n, 2, 5, 43)
    with pytest.raises(IndexError):
        mix[100]
    with pytest.raises(InputError, match="ratios"):
        MixedDataset([Recorder(3, "a")], [0.5, 0.5])
    with pytest.raises(InputError, match="non-negative"):
        MixedDataset([Recorder(3, "a"), Recorder(3, "b")], [1.0, -0.1])


def test_mixed_spin_datasets_collate(tmp_path):
    a = SpinDataset(write_spin_fixture(tmp_path / "a").npz, tmp_path / "a", crop_size=CROP, train=True)
    b = SpinDataset(write_spin_fixture(tmp_path / "b", synth=True).npz, tmp_path / "b", crop_size=CROP, train=True)
    mix = MixedDataset([a, b], [0.5, 0.5], length=8)
    batch = next(iter(make_loader(mix, batch_size=8, shuffle=False, workers=0)))
    assert "cam_t" not in batch and batch["crops"].shape[0] == 8


def test_spin_mix_ratios():
    r = spin_mix_ratios({"h36m": 300, "coco": 30, "mpii": 10, "mpi-inf-3dhp": 100})
    assert r == pytest.approx({"h36m": 0.3, "coco": 0.45, "mpii": 0.15, "mpi-inf-3dhp": 0.1})
    with pytest.raises(InputError, match="mpii"):
        spin_mix_ratios({"h36m": 1, "coco": 1, "mpi-inf-3dhp": 1})


def test_resolve_real_dataset(tmp_path):
    (tmp_path / "dataset_extras").mkdir()
    (tmp_path / "dataset_extras" / "3dpw_test_w2d_smpl3d_gender.npz").write_bytes(b"")
    (tmp_path / "3dpw").mkdir()
    npz, images = resolve_real_dataset("3dpw", tmp_path)
    assert npz == tmp_path / "dataset_extras" / "3dpw_test_w2d_smpl3d_gender.npz" and images == tmp_path / "3dpw"
    (tmp_path / "h36m_mosh_val_p2.npz").write_bytes(b"")
    with pytest.raises(InputError, match=r"missing h36m-p2: image folder .*h36m"):
        resolve_real_dataset("h36m-p2", tmp_path)
    with pytest.raises(InputError, match=r"coco: annotations coco_2014_smpl_train\.npz .*coco: image folder.*"
                                         r"mpii: annotations"):
        real_train_mix(tmp_path)
    with pytest.raises(InputError, match="h36m-p1"):
        resolve_real_dataset("h36m-p3", tmp_path)
    with pytest.raises(InputError, match="no such folder"):
        resolve_real_dataset("3dpw", tmp_path / "nowhere")
    assert REAL_DATASETS["mpi-inf-3dhp"].npz == ("mpi_inf_3dhp_train_name_revised.npz", "mpi_inf_3dhp_train.npz")
