"""Real dataset files: SPIN's own output names beside the CLIFF/Multi-RoI ones, one message for everything
missing, and a run that stops before training when a split lacks the GT its protocol scores against."""

import logging
import re

import pytest

from hmr_bench.config import RunConfig, apply_overrides
from hmr_bench.data.real import REAL_DATASETS, resolve_real_dataset, resolve_real_datasets
from hmr_bench.errors import InputError
from hmr_bench.train.data import build_data
from tests.data.spin_layout import write_3dpw_test, write_h36m_valid

# SPIN config.py DATASET_FILES and datasets/preprocess/*.py output names, written out
SPIN_NAMES = {"h36m-p1": "h36m_valid_protocol1.npz", "h36m-p2": "h36m_valid_protocol2.npz", "3dpw": "3dpw_test.npz",
              "mpi-inf-3dhp-test": "mpi_inf_3dhp_valid.npz", "coco": "coco_2014_train.npz",
              "mpii": "mpii_train.npz", "mpi-inf-3dhp": "mpi_inf_3dhp_train.npz", "h36m": "h36m_train.npz"}
IMAGE_DIRS = {"h36m-p1": "h36m", "h36m-p2": "h36m", "3dpw": "3dpw", "mpi-inf-3dhp-test": "mpi_inf_3dhp",
              "coco": "coco", "mpii": "mpii", "mpi-inf-3dhp": "mpi_inf_3dhp", "h36m": "h36m"}


@pytest.mark.parametrize("name", sorted(SPIN_NAMES))
def test_spin_output_names_are_accepted(tmp_path, name):
    (tmp_path / "dataset_extras").mkdir()
    (tmp_path / "dataset_extras" / SPIN_NAMES[name]).write_bytes(b"")
    (tmp_path / IMAGE_DIRS[name]).mkdir()
    assert resolve_real_dataset(name, tmp_path) == (tmp_path / "dataset_extras" / SPIN_NAMES[name],
                                                    tmp_path / IMAGE_DIRS[name])


def test_the_multiroi_name_is_preferred_and_the_other_file_is_named(tmp_path, caplog):
    for f in ("h36m_valid_protocol2.npz", "h36m_mosh_val_p2.npz"):
        (tmp_path / f).write_bytes(b"")
    (tmp_path / "h36m").mkdir()
    with caplog.at_level(logging.WARNING, logger="hmr_bench.data.real"):
        npz, _ = resolve_real_dataset("h36m-p2", tmp_path)
    assert npz == tmp_path / "h36m_mosh_val_p2.npz"
    assert "also present" in caplog.text and "h36m_valid_protocol2.npz" in caplog.text


def test_one_message_lists_every_expected_file_of_every_dataset(tmp_path):
    names = ["h36m-p1", "3dpw", "mpi-inf-3dhp-test"]
    with pytest.raises(InputError) as e:
        resolve_real_datasets(names, tmp_path)
    msg = str(e.value)
    for name in names:
        files = " or ".join(re.escape(f) for f in REAL_DATASETS[name].npz)
        assert re.search(rf"{name}: annotations {files} \(looked in", msg), name
        assert f"{name}: image folder {tmp_path / IMAGE_DIRS[name]}" in msg
    assert "h36m_mosh_val_p1.npz or h36m_valid_protocol1.npz" in msg and "3dpw_test.npz" in msg


def test_a_run_names_every_missing_file_of_train_val_and_test_at_once(tmp_path):
    cfg = apply_overrides(RunConfig(), {"data.source": "real", "data.test_sets": ["3dpw-test", "h36m-p2"]})
    with pytest.raises(InputError) as e:
        build_data(cfg, tmp_path)
    msg = str(e.value)
    for name in ("coco", "3dpw-train", "3dpw", "h36m-p2"):
        assert f"{name}: annotations" in msg, name


def test_a_run_stops_before_training_when_a_test_split_lacks_its_gt(tmp_path):
    npz, _ = write_h36m_valid(tmp_path, protocol=2, n=3)
    write_3dpw_test(tmp_path, name="3dpw_train_w2d_smpl3d_gender.npz")
    base = {"data.source": "real", "data.train_sets": ["3dpw-train"], "data.val_set": "3dpw-train",
            "data.test_sets": ["3dpw-test", "h36m-p2"], "data.crop_size": [36, 48]}
    write_3dpw_test(tmp_path)
    with pytest.raises(InputError, match=r"h36m_valid_protocol2\.npz: field 'pose/shape/has_smpl': found 3 of 3 rows"):
        build_data(apply_overrides(RunConfig(), base), tmp_path)  # official GT: the MoSh mesh
    data = build_data(apply_overrides(RunConfig(), base | {"data.eval_gt": "spin"}), tmp_path)
    assert data.test["h36m-p2"].npz_path == npz and len(data.test["3dpw-test"]) == 4
    with pytest.raises(InputError, match="data.eval_gt"):
        build_data(apply_overrides(RunConfig(), base | {"data.eval_gt": "mesh"}), tmp_path)
