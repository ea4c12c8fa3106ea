"""convert-smpl: official-style pickles (chumpy + scipy.sparse inside) → plain numpy, safely."""

from __future__ import annotations

import os
import pickle
import sys
import types

import numpy as np
import pytest
import torch
from scipy import sparse

from hmr_bench.body import load_body_model
from hmr_bench.body.convert_smpl import convert_smpl
from hmr_bench.body.model_file import read_model_file
from hmr_bench.errors import InputError
from tests.toy_smpl import toy_smpl_arrays


def _fake_chumpy_module():
    """A stand-in `chumpy.ch` module so the test can write pickles that reference chumpy.ch.Ch."""
    mod = types.ModuleType("chumpy.ch")

    class Ch:  # chumpy keeps an array's value in its 'x' term, plus bookkeeping state
        def __init__(self, x):
            self.x = x
            self._dirty_vars = set()

        def __getstate__(self):
            return dict(self.__dict__)

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    mod.Ch = Ch
    return mod


def write_official_style_pickle(path, arrays):
    """Like the official SMPL files: chumpy arrays, a scipy csc J_regressor, protocol 2, extra keys."""
    mod = _fake_chumpy_module()
    pkg = types.ModuleType("chumpy")
    pkg.ch = mod
    saved = {k: sys.modules.get(k) for k in ("chumpy", "chumpy.ch")}
    sys.modules.update({"chumpy": pkg, "chumpy.ch": mod})
    try:
        data = {
            "v_template": mod.Ch(arrays["v_template"]),
            "shapedirs": mod.Ch(arrays["shapedirs"]),
            "posedirs": arrays["posedirs"],
            "J_regressor": sparse.csc_matrix(arrays["J_regressor"]),
            "weights": mod.Ch(arrays["weights"]),
            "kintree_table": arrays["kintree_table"],
            "f": arrays["f"].astype(np.uint32),
            "bs_type": "lrotmin",
            "bs_style": "lbs",
            "J": mod.Ch(arrays["J_regressor"] @ arrays["v_template"]),
        }
        path.write_bytes(pickle.dumps(data, protocol=2))
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def test_official_style_pickle_round_trips(tmp_path):
    arrays = toy_smpl_arrays(seed=3)
    pkl = tmp_path / "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl"
    write_official_style_pickle(pkl, arrays)
    assert "chumpy" not in sys.modules  # nothing below may need it
    h36m = np.random.default_rng(0).dirichlet(np.ones(6890), size=17)
    np.save(tmp_path / "J_regressor_h36m.npy", h36m)
    out = convert_smpl(pkl, tmp_path / "SMPL_NEUTRAL.npz", h36m_regressor=tmp_path / "J_regressor_h36m.npy")
    got = read_model_file(out)
    for key in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights"):
        np.testing.assert_allclose(got[key], arrays[key], rtol=1e-6, atol=1e-7, err_msg=key)
    np.testing.assert_array_equal(got["f"], arrays["f"])
    np.testing.assert_array_equal(got["kintree_table"], arrays["kintree_table"])
    assert str(got["gender"]) == "neutral"  # from the file name
    body = load_body_model(out)
    posed = body(torch.zeros(1, 10), axis_angle=torch.zeros(1, 72))
    # zero pose: vertices are the template; H36M joints are the given regressor applied to them
    np.testing.assert_allclose(posed.vertices[0].numpy(), arrays["v_template"], atol=1e-5)
    np.testing.assert_allclose(posed.joints("h36m17")[0].numpy(), h36m @ arrays["v_template"], atol=1e-5)


def test_pickle_that_would_run_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    class ExecExploit:
        def __reduce__(self):
            return (exec, (f"open({str(marker)!r}, 'w').close()",))

    for payload in (Exploit(), ExecExploit()):
        pkl = tmp_path / "evil_neutral.pkl"
        pkl.write_bytes(pickle.dumps({"v_template": payload}, protocol=2))
        with pytest.raises(InputError, match="refusing global"):
            convert_smpl(pkl, tmp_path / "out.npz")
        assert not marker.exists()
    assert not (tmp_path / "out.npz").exists()


def test_truncated_pickle(tmp_path):
    pkl = tmp_path / "SMPL_MALE.pkl"
    write_official_style_pickle(pkl, toy_smpl_arrays())
    pkl.write_bytes(pkl.read_bytes()[:5000])
    with pytest.raises(InputError, match=r"SMPL_MALE\.pkl.*truncated"):
        convert_smpl(pkl, tmp_path / "out.npz")


def test_missing_key_and_unknown_gender(tmp_path):
    arrays = toy_smpl_arrays()
    pkl = tmp_path / "model.pkl"
    pkl.write_bytes(pickle.dumps({k: v for k, v in arrays.items() if k != "weights"}, protocol=2))
    with pytest.raises(InputError, match=r"model\.pkl: field 'weights': found no such key"):
        convert_smpl(pkl, tmp_path / "out.npz")
    pkl.write_bytes(pickle.dumps(arrays, protocol=2))
    with pytest.raises(InputError, match="no gender in the file name"):
        convert_smpl(pkl, tmp_path / "out.npz")
    assert str(read_model_file(convert_smpl(pkl, tmp_path / "m.npz", gender="male"))["gender"]) == "male"
