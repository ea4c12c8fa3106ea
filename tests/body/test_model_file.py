"""Body-model files: loading through smplx, and a clear error for every kind of bad file."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import smplx
import torch

from hmr_bench.body import load_body_model
from hmr_bench.body.model_file import read_model_file, write_model_file
from hmr_bench.errors import InputError
from tests.toy_smpl import toy_smpl_arrays


@pytest.fixture
def toy_npz(tmp_path):
    return write_model_file(tmp_path / "SMPL_NEUTRAL.npz", toy_smpl_arrays())


def test_loader_poses_like_smplx_reading_the_same_arrays_from_its_own_pickle(toy_npz, tmp_path):
    arrays = toy_smpl_arrays()
    pkl = tmp_path / "plain.pkl"  # smplx's own loading path: a plain pickle it opens itself
    pkl.write_bytes(pickle.dumps(arrays))
    reference = smplx.SMPL(model_path=str(pkl), num_betas=10)
    body = load_body_model(toy_npz)
    assert isinstance(body.smpl, smplx.SMPL)
    g = torch.Generator().manual_seed(0)
    betas, pose = torch.randn(3, 10, generator=g), 0.3 * torch.randn(3, 72, generator=g)
    ours = body(betas, axis_angle=pose)
    ref = reference(betas=betas, global_orient=pose[:, :3], body_pose=pose[:, 3:])
    torch.testing.assert_close(ours.vertices, ref.vertices)
    torch.testing.assert_close(ours.joints("smpl24"), ref.joints[:, :24])


def test_folder_source_picks_the_gendered_file(tmp_path):
    arrays = toy_smpl_arrays() | {"gender": np.array("female")}
    write_model_file(tmp_path / "SMPL_FEMALE.npz", arrays)
    assert load_body_model(tmp_path, gender="female").gender == "female"
    with pytest.raises(InputError, match="SMPL_MALE.npz"):
        load_body_model(tmp_path, gender="male")


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"nope\.npz.*no such file"):
        load_body_model(tmp_path / "nope.npz")


def test_truncated_file(toy_npz):
    data = toy_npz.read_bytes()
    toy_npz.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"SMPL_NEUTRAL\.npz.*truncated"):
        read_model_file(toy_npz)


def test_wrong_shape_names_the_field_and_both_shapes(tmp_path):
    arrays = toy_smpl_arrays()
    arrays["J_regressor"] = arrays["J_regressor"][:, :100]
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(InputError) as e:
        read_model_file(path)
    msg = str(e.value)
    assert "bad.npz" in msg and "'J_regressor'" in msg and "(24, 100)" in msg and "V = 6890" in msg


def test_missing_field(tmp_path):
    arrays = toy_smpl_arrays()
    del arrays["weights"]
    path = tmp_path / "noweights.npz"
    np.savez(path, **arrays)
    with pytest.raises(InputError, match=r"noweights\.npz: field 'weights': found no such field"):
        read_model_file(path)


def test_non_finite_values(tmp_path):
    arrays = toy_smpl_arrays()
    arrays["v_template"][5, 1] = np.nan
    path = tmp_path / "nan.npz"
    np.savez(path, **arrays)
    with pytest.raises(InputError, match=r"'v_template': found 1 non-finite"):
        read_model_file(path)


def test_raw_smpl_pickle_is_refused_with_the_convert_command(tmp_path):
    pkl = tmp_path / "SMPL_NEUTRAL.pkl"
    pkl.write_bytes(pickle.dumps(toy_smpl_arrays(), protocol=2))
    for source in (pkl, tmp_path):  # the file itself, and a folder that holds only the pickle
        with pytest.raises(InputError, match="hmr-bench body convert-smpl"):
            load_body_model(source)
    renamed = tmp_path / "model.npz"  # a pickle behind an .npz name is caught by its header
    renamed.write_bytes(pkl.read_bytes())
    with pytest.raises(InputError, match="Python pickle.*convert-smpl"):
        read_model_file(renamed)


def test_object_arrays_are_never_unpickled(tmp_path):
    arrays = toy_smpl_arrays()
    path = tmp_path / "obj.npz"
    np.savez(path, **arrays, meta_json=np.array([{"a": 1}], dtype=object))
    with pytest.raises(InputError, match="'meta_json': found an object array"):
        read_model_file(path)


def test_unknown_joint_set_lists_the_valid_ones(toy_npz):
    body = load_body_model(toy_npz)
    out = body(torch.zeros(1, 10), axis_angle=torch.zeros(1, 72))
    with pytest.raises(InputError) as e:
        out.joints("mpii16")
    assert "'mpii16'" in str(e.value) and "smpl24" in str(e.value) and "coco17" in str(e.value)
    with pytest.raises(InputError, match="no J_regressor_h36m.*--h36m-regressor"):
        out.joints("lsp14")


def test_bad_forward_arguments(toy_npz):
    body = load_body_model(toy_npz)
    with pytest.raises(InputError, match=r"'rotmat': found shape \(2, 23, 3, 3\)"):
        body(torch.zeros(2, 10), torch.eye(3).expand(2, 23, 3, 3))
    with pytest.raises(InputError, match=r"'betas': found shape \(2, 11\)"):
        body(torch.zeros(2, 11), axis_angle=torch.zeros(2, 72))
