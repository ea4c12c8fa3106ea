"""The named GT conventions (data.eval_gt) scored end to end on evaluation files in SPIN's exact layout.

Path under test: SPIN-layout npz → SpinDataset → collated batch → `train.step.evaluate_predictions` (the
trainer's evaluation). Expected numbers are computed here in numpy from the npz arrays with SPIN's index lists
written out (constants.py), and a hand-written Procrustes (SPIN's compute_similarity_transform).
"""

import numpy as np
import pytest
import torch

from hmr_bench.body import load_body_model
from hmr_bench.config import RunConfig, apply_overrides
from hmr_bench.data.dataset import SpinDataset
from hmr_bench.data.loader import collate_samples
from hmr_bench.errors import InputError
from hmr_bench.eval import gt_choice as G
from hmr_bench.eval import protocols as P
from hmr_bench.eval.trivial import MeanPredictor
from hmr_bench.train.step import evaluate_predictions
from tests.data.spin_layout import GLOBAL_IDX, write_h36m_valid, write_mpi_inf_test

# SPIN constants.py, written out
H36M_TO_J17 = [6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10, 0, 7, 9]
J24_TO_J17 = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 18, 14, 16, 17]


def spin_procrustes(s1: np.ndarray, s2: np.ndarray) -> np.ndarray:
    """SPIN utils/pose_utils.compute_similarity_transform: s1 (J, 3) aligned to s2."""
    mu1, mu2 = s1.mean(0), s2.mean(0)
    x1, x2 = s1 - mu1, s2 - mu2
    u, _, vh = np.linalg.svd(x1.T @ x2)
    z = np.eye(3)
    z[-1, -1] *= np.sign(np.linalg.det(u @ vh))
    r = vh.T @ z @ u.T
    scale = np.trace(r @ (x1.T @ x2)) / (x1 ** 2).sum()
    return scale * x1 @ r.T + mu2


def cfg_for(eval_gt: str, body_model: str = "free"):
    return apply_overrides(RunConfig(), {"data.eval_gt": eval_gt, "data.workers": 0, "body_model": body_model})


def spin_batch(npz, img_root, name):
    ds = SpinDataset(npz, img_root, crop_size=(36, 48), name=name)
    return ds, collate_samples([ds[i] for i in range(len(ds))])


@pytest.fixture(scope="module")
def body():
    return load_body_model("free")


@pytest.fixture(scope="module")
def mean_pred(body):
    """The mean prediction's H36M-17 joints (17, 3), as numpy."""
    model = MeanPredictor(body)
    out = body(model.betas[None], rotmat=model.rotmat[None])
    return model, out.joints("h36m17")[0].double().numpy()


def test_conventions_table():
    table = {(n, c): G.eval_protocol(n, c).gt_joints for n in ("3dpw-test", "h36m-p1", "h36m-p2",
                                                                 "mpi-inf-3dhp-test", "synth-test")
             for c in G.EVAL_GT}
    assert table == {
        ("3dpw-test", "official"): "smpl-mesh", ("3dpw-test", "spin"): "smpl-mesh",
        ("3dpw-test", "mocap-if-no-mesh"): "smpl-mesh",
        ("h36m-p1", "official"): "smpl-mesh", ("h36m-p1", "spin"): "mocap", ("h36m-p1", "mocap-if-no-mesh"):
            "mocap-if-no-mesh",
        ("h36m-p2", "official"): "smpl-mesh", ("h36m-p2", "spin"): "mocap", ("h36m-p2", "mocap-if-no-mesh"):
            "mocap-if-no-mesh",
        ("mpi-inf-3dhp-test", "official"): "mocap", ("mpi-inf-3dhp-test", "spin"): "mocap",
        ("mpi-inf-3dhp-test", "mocap-if-no-mesh"): "mocap",
        ("synth-test", "official"): "exact", ("synth-test", "spin"): "exact", ("synth-test", "mocap-if-no-mesh"):
            "exact",
    }
    assert G.eval_protocol("synth-test", "spin", split="val").split == "val"  # other fields kept
    with pytest.raises(InputError, match="data.eval_gt.*'official', 'spin', 'mocap-if-no-mesh'"):
        G.eval_protocol("h36m-p2", "mesh")
    assert RunConfig().data.eval_gt == "official"


def test_spin_h36m_file_is_refused_under_official_gt_never_scored_as_zero_pose(tmp_path, body, mean_pred):
    npz, _ = write_h36m_valid(tmp_path, protocol=2, n=6)
    ds, batch = spin_batch(npz, tmp_path / "h36m", "h36m-p2")
    assert not batch["has_smpl"].any() and batch["has_3d"].all()  # SPIN's file: S only
    official = G.eval_protocol("h36m-p2", "official")
    with pytest.raises(InputError, match=r"h36m_valid_protocol2\.npz: field 'pose/shape/has_smpl': found 6 of 6 rows "
                                         r"without it \(first: row 0, images/S9_Directions_1\.60457274_000001\.jpg\); "
                                         r"expected GT SMPL pose and shape .*data\.eval_gt"):
        G.check_gt_available(official, ds)
    with pytest.raises(InputError, match=r"field 'has_smpl': found 6 of 6 rows of h36m-p2 without it"):
        evaluate_predictions(mean_pred[0], body, batch, cfg_for("official"), P.get_protocol("h36m-p2"))
    G.check_gt_available(G.eval_protocol("h36m-p2", "spin"), ds)  # S is there


def test_spin_gt_on_the_spin_h36m_file_matches_spin_eval_by_hand(tmp_path, body, mean_pred):
    npz, arrays = write_h36m_valid(tmp_path, protocol=1, n=6)
    _, batch = spin_batch(npz, tmp_path / "h36m", "h36m-p1")
    model, pred17 = mean_pred
    m = evaluate_predictions(model, body, batch, cfg_for("spin"), P.get_protocol("h36m-p1"))
    # SPIN eval.py: gt = pose_3d[:, J24_TO_J14, :-1] (S is root-centred: nothing subtracted); pred minus its joint 0
    pred = pred17[H36M_TO_J17[:14]] - pred17[0]
    gt = arrays["S"][:, J24_TO_J17[:14], :3]
    mpjpe = np.linalg.norm(pred[None] - gt, axis=-1).mean(-1) * 1000
    pa = np.array([np.linalg.norm(spin_procrustes(pred, g) - g, axis=-1).mean() * 1000 for g in gt])
    np.testing.assert_allclose(m["mpjpe"].numpy(), mpjpe, rtol=1e-4)
    np.testing.assert_allclose(m["pa_mpjpe"].numpy(), pa, rtol=1e-3, atol=1e-3)
    assert pa.min() > 10 and m["mpjpe_per_joint"].shape == (6, 14)


def test_mocap_if_no_mesh_takes_each_rows_own_source(tmp_path, body, mean_pred):
    npz, arrays = write_h36m_valid(tmp_path, protocol=2, n=4)
    rng = np.random.default_rng(5)
    pose, shape = rng.normal(0, 0.3, (4, 72)), rng.normal(0, 1, (4, 10))
    has_smpl = np.array([1, 0, 1, 0])
    np.savez(npz, **arrays, pose=pose, shape=shape, has_smpl=has_smpl)  # a MoSh-style file with two fits missing
    _, batch = spin_batch(npz, tmp_path / "h36m", "h36m-p2")
    model, pred17 = mean_pred
    with pytest.raises(InputError, match="2 of 4 rows of h36m-p2 without it, first row 1"):  # mesh only: refused
        evaluate_predictions(model, body, batch, cfg_for("official"), P.get_protocol("h36m-p2"))
    m = evaluate_predictions(model, body, batch, cfg_for("mocap-if-no-mesh"), P.get_protocol("h36m-p2"))
    pred = pred17[H36M_TO_J17[:14]] - pred17[0]
    mesh17 = body(torch.tensor(shape, dtype=torch.float32), axis_angle=torch.tensor(pose, dtype=torch.float32))
    mesh17 = mesh17.joints("h36m17").double().numpy()
    gt = np.stack([mesh17[i, H36M_TO_J17[:14]] - mesh17[i, 0] if has_smpl[i] else
                   arrays["S"][i, J24_TO_J17[:14], :3] - arrays["S"][i, 14, :3] for i in range(4)])
    np.testing.assert_allclose(m["mpjpe"].numpy(), np.linalg.norm(pred - gt, axis=-1).mean(-1) * 1000, rtol=1e-4)


def test_mpi_inf_3dhp_scores_17_joints_against_s_with_pelvis_14(tmp_path, body, mean_pred):
    npz, arrays = write_mpi_inf_test(tmp_path, n=5)
    ds, batch = spin_batch(npz, tmp_path / "mpi_inf_3dhp", "mpi-inf-3dhp-test")
    proto = P.get_protocol("mpi-inf-3dhp-test")
    assert proto.joints == 17 and proto.gt_joints == "mocap" and proto.allowed_gt_joints == ("mocap",)
    G.check_gt_available(proto, ds)
    model, pred17 = mean_pred
    m = evaluate_predictions(model, body, batch, cfg_for("official"), proto)
    # official eval.py: gt = pose_3d[:, J24_TO_J17, :-1] − pose_3d[:, 14]; pred = H36M_TO_J17 − pred joint 0
    s = arrays["S"]
    gt = s[:, J24_TO_J17, :3] - s[:, 14, None, :3]
    pred = pred17[H36M_TO_J17] - pred17[0]
    np.testing.assert_allclose(m["mpjpe"].numpy(), np.linalg.norm(pred[None] - gt, axis=-1).mean(-1) * 1000,
                               rtol=1e-4)
    assert m["mpjpe_per_joint"].shape == (5, 17) and m["mpjpe_per_joint"][:, 14].abs().max() < 1e-3  # pelvis
    assert proto.joint_names[14:] == ("pelvis", "spine", "jaw")


def test_mocap_rows_without_s_are_refused(tmp_path):
    npz, arrays = write_h36m_valid(tmp_path, n=3)
    s = arrays["S"].copy()
    s[2] = 0  # a row whose S is missing (confidence 0 everywhere)
    np.savez(npz, **{**arrays, "S": s})
    ds, batch = spin_batch(npz, tmp_path / "h36m", "h36m-p2")
    with pytest.raises(InputError, match=r"field 'S': found 1 of 3 rows without it \(first: row 2"):
        G.check_gt_available(G.eval_protocol("h36m-p2", "spin"), ds)
    with pytest.raises(InputError, match="field 'S': found 1 of 3 rows of h36m-p2 without it, first row 2"):
        P.ground_truth(G.eval_protocol("h36m-p2", "spin"), batch, {"neutral": load_body_model("free")})


def test_describe_gt_per_protocol():
    d = G.describe_gt("h36m-p2", "spin", "free")
    assert d == {"source": "mocap", "pelvis": "S joint 14 (the H36M / MPI-INF root SPIN stores there)",
                 "body": "none (no GT mesh)", "note": ""}
    d = G.describe_gt("3dpw-test", "official", "free")
    assert d["source"] == "smpl-mesh" and d["pelvis"] == "H36M-regressor joint 0 of the GT mesh"
    assert d["body"] == "neutral (free)" and "not comparable" in d["note"] and "SMPL_MALE.npz / SMPL_FEMALE.npz" in d[
        "note"]
    lines = G.gt_lines(["3dpw-test", "mpi-inf-3dhp-test"], "official", "free", warn=False)
    assert lines["mpi-inf-3dhp-test"].startswith("mocap; pelvis S joint 14") and "NOT COMPARABLE" not in lines[
        "mpi-inf-3dhp-test"]
    assert "NOT COMPARABLE" in lines["3dpw-test"]
    assert GLOBAL_IDX[0] == 14  # the root SPIN stores at S joint 14 is the pelvis the mocap path subtracts
