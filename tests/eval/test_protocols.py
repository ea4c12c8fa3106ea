"""Protocols: joint selection, pelvis, GT sources (mesh / mocap / exact), gendered GT models, evaluate_batch."""

import logging

import numpy as np
import pytest
import torch

from hmr_bench.body import joint_sets as js
from hmr_bench.body.model import load_body_model
from hmr_bench.body.model_file import write_model_file
from hmr_bench.errors import InputError
from hmr_bench.eval import protocols as P
from hmr_bench.registry import UnknownNameError
from tests.toy_smpl import V, toy_smpl_arrays

# spec §6 "Fig. 7, per joint" order, written out from the spec's words
SPEC_LSP14 = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "right_wrist",
              "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist", "neck", "head_top")
# SPIN h36m_extract: H36M-17 joint k is stored in the 24 GT joints at GLOBAL_IDX[k]
GLOBAL_IDX = [14, 3, 4, 5, 2, 1, 0, 16, 12, 17, 18, 9, 10, 11, 8, 7, 6]


def h36m_regressor(seed):
    rng = np.random.default_rng(seed)
    reg = np.zeros((17, V))
    for j in range(17):
        cols = rng.choice(V, size=20, replace=False)
        reg[j, cols] = rng.random(20)
    return reg / reg.sum(1, keepdims=True)


@pytest.fixture(scope="module")
def bodies(tmp_path_factory):
    out = {}
    for seed, gender in enumerate(("neutral", "male", "female")):
        path = tmp_path_factory.mktemp("bodies") / f"SMPL_{gender.upper()}.npz"
        arrays = {k: v for k, v in toy_smpl_arrays(seed).items() if k != "posedirs"}  # optional; slow to write
        write_model_file(path, arrays | {"J_regressor_h36m": h36m_regressor(seed), "gender": np.array(gender)})
        out[gender] = load_body_model(path, gender=gender, dtype=torch.float64)
    return out


def random_batch(n, seed=0):
    rng = np.random.default_rng(seed)
    pose = torch.tensor(rng.normal(scale=0.3, size=(n, 72)))
    betas = torch.tensor(rng.normal(size=(n, 10)))
    return pose, betas


def test_registry_holds_the_five_protocols():
    assert P.PROTOCOLS.names() == ["3dpw-test", "h36m-p1", "h36m-p2", "mpi-inf-3dhp-test", "synth-test"]
    with pytest.raises(UnknownNameError, match="h36m-p2"):
        P.get_protocol("h36m-p3")


def test_protocol_facts_of_spec_section_6():
    pw, p1, p2, syn = (P.get_protocol(n) for n in ("3dpw-test", "h36m-p1", "h36m-p2", "synth-test"))
    assert [p.pve for p in (pw, p1, p2, syn)] == [True, False, False, True]
    assert all(p.roi == 0 for p in (pw, p1, p2, syn))
    assert (pw.gt_joints, p1.gt_joints, p2.gt_joints, syn.gt_joints) == ("smpl-mesh",) * 3 + ("exact",)
    assert pw.gendered_gt and p2.gendered_gt and not syn.gendered_gt
    assert p2.default_gender == "male"  # S9/S11 are male; official: gender != 1 → male
    assert syn.metric_names == ("mpjpe", "pa_mpjpe", "pve", "pa_pve") and p2.metric_names == ("mpjpe", "pa_mpjpe")


def test_gt_joints_switch_and_invalid_values():
    assert P.get_protocol("h36m-p2", gt_joints="mocap").gt_joints == "mocap"
    with pytest.raises(InputError, match="gt_joints.*'mocap'"):
        P.get_protocol("synth-test", gt_joints="mocap")
    with pytest.raises(InputError, match="gt_joints"):
        P.get_protocol("3dpw-test", gt_joints="mesh")
    with pytest.raises(InputError, match="unknown or fixed field"):
        P.get_protocol("3dpw-test", gt_join="mocap")
    with pytest.raises(InputError, match="allowed_gt_joints"):
        P.get_protocol("synth-test", allowed_gt_joints=("mocap",), gt_joints="mocap")
    assert P.get_protocol("synth-test", split="val").split == "val"  # checkpoint selection runs on val
    with pytest.raises(InputError, match="roi"):
        P.get_protocol("3dpw-test", roi=-1)


def test_lsp14_selection_names():
    assert P.JOINT_NAMES == SPEC_LSP14 == js.LSP14
    assert P.get_protocol("h36m-p1").joint_names == SPEC_LSP14
    assert js.H36M17[P.PELVIS_INDEX] == "pelvis"
    # the mocap path picks the same joints by name from SPIN's 24 GT joints (joint_sets.SPIN49[25:])
    j24 = js.SPIN49[25:]
    assert [j24[i] for i in P.MOCAP_J24_TO_J14][:13] == ["Right Ankle", "Right Knee", "Right Hip", "Left Hip",
                                                         "Left Knee", "Left Ankle", "Right Wrist", "Right Elbow",
                                                         "Right Shoulder", "Left Shoulder", "Left Elbow",
                                                         "Left Wrist", "Neck (LSP)"]
    assert j24[P.MOCAP_J24_TO_J14[13]] == "Head (H36M)" and j24[P.MOCAP_PELVIS_J24] == "Pelvis (MPII)"


def test_pelvis_subtraction_uses_h36m_joint_0_of_each_skeleton():
    rng = np.random.default_rng(1)
    pred = torch.tensor(rng.normal(scale=0.3, size=(3, 17, 3)))
    proto = P.get_protocol("h36m-p2")
    # GT = the same skeleton, anywhere in the camera frame → 0
    gt = {"h36m17": pred + torch.tensor([0.5, -0.2, 4.0])}
    out = P.evaluate_batch(proto, None, pred, gt)
    assert out["mpjpe"].abs().max() < 1e-9 and out["pa_mpjpe"].abs().max() < 1e-9
    # moving only the GT pelvis by d (joint 0 is not among the 14) shifts all 14 joints by −d
    moved = pred.clone()
    moved[:, 0] += torch.tensor([0.0, 0.03, 0.04], dtype=torch.float64)
    out = P.evaluate_batch(proto, None, pred, {"h36m17": moved})
    np.testing.assert_allclose(out["mpjpe"].numpy(), 50.0, rtol=1e-9)
    np.testing.assert_allclose(out["mpjpe_per_joint"].numpy(), np.full((3, 14), 50.0), rtol=1e-9)
    assert out["pa_mpjpe"].abs().max() < 1e-7
    assert out["pa_mpjpe_per_joint"].shape == (3, 14)


def test_mocap_gt_from_spin_s_matches_the_h36m17_path():
    rng = np.random.default_rng(2)
    h36m = rng.normal(scale=0.3, size=(2, 17, 3))
    s = np.zeros((2, 24, 4))
    s[:, GLOBAL_IDX, :3] = h36m - h36m[:, :1]  # SPIN: root-centred, stored at global_idx
    s[:, GLOBAL_IDX, 3] = 1
    proto = P.get_protocol("h36m-p2", gt_joints="mocap")
    pred = torch.tensor(h36m) + 1.0
    for shift in (0.0, 2.5):  # centred (SPIN's files) and uncentred S give the same numbers
        s_shift = s.copy()
        s_shift[:, :, :3] += shift
        out = P.evaluate_batch(proto, None, pred, {"joints3d": torch.tensor(s_shift)})
        assert out["mpjpe"].abs().max() < 1e-9
    s[1, 18, 3] = 0
    with pytest.raises(InputError, match="row 1, joint 18"):
        P.evaluate_batch(proto, None, pred, {"joints3d": torch.tensor(s)})


def test_parse_and_choose_gender():
    assert [P.parse_gender(c) for c in ("m", "f", "n", 0, 1, np.int64(1), "female", None, "")] == [
        "male", "female", "neutral", "male", "female", "female", "female", None, None]
    with pytest.raises(InputError, match="gender"):
        P.parse_gender("x")
    pw, syn = P.get_protocol("3dpw-test"), P.get_protocol("synth-test")
    all3 = ("neutral", "male", "female")
    assert P.gt_body_gender(pw, "f", all3) == "female"
    assert P.gt_body_gender(pw, "m", all3) == "male"
    assert P.gt_body_gender(P.get_protocol("h36m-p2"), None, all3) == "male"  # default_gender: S9/S11 are male
    with pytest.raises(InputError, match="field 'gender'.*without a gender"):  # 3DPW rows must say
        P.gt_body_gender(pw, None, all3)
    assert P.gt_body_gender(syn, "f", all3) == "neutral"  # not gendered
    assert P.gt_body_gender(pw, "f", ("neutral",)) == "neutral"  # the free model: neutral only
    with pytest.raises(InputError, match="'female' or 'neutral'"):
        P.gt_body_gender(pw, "f", ("male",))


def test_neutral_fallback_is_logged_once(caplog):
    proto = P.get_protocol("3dpw-test", description="fallback-log-test")
    P._warned_neutral.discard(proto.name)
    with caplog.at_level(logging.WARNING, logger="hmr_bench.eval.protocols"):
        for _ in range(3):
            P.gt_body_gender(proto, "m", ("neutral",))
    assert sum("NEUTRAL body model" in r.message and "not comparable" in r.message for r in caplog.records) == 1


def test_h36m_categories_of_fig7():
    cases = {
        "images/S9_Directions_1.54138969_000001.jpg": "Directions",
        "S11_Directions.54138969_000006.jpg": "Directions",
        "images/S9_SittingDown_1.60457274_000011.jpg": "Sitting",
        "images/S9_TakingPhoto.60457274_000011.jpg": "Photo",
        "images/S9_Photo_1.60457274_000011.jpg": "Photo",
        "images/S11_WalkDog_1.60457274_000011.jpg": "Walk",
        "images/S11_WalkTogether.60457274_000011.jpg": "Walk",
        "images/S11_Smoking_1.60457274_000011.jpg": None,
        "images/S11_Purchases.60457274_000011.jpg": "Purchases",
    }
    for name, cat in cases.items():
        assert P.h36m_category(name) == cat, name
    p2 = P.get_protocol("h36m-p2")
    assert P.action_labels(p2, {"imgname": list(cases)}) == list(cases.values())
    assert P.action_labels(P.get_protocol("synth-test"), {"action": ["walking", "sitting"]}) == ["walking", "sitting"]
    assert P.action_labels(P.get_protocol("3dpw-test"), {}) is None
    with pytest.raises(InputError, match="imgname"):
        P.action_labels(p2, {})


def test_select_roi():
    x = torch.arange(2 * 5 * 3).reshape(2, 5, 3)
    assert torch.equal(P.select_roi(P.get_protocol("3dpw-test"), x), x[:, 0])
    assert torch.equal(P.select_roi(P.get_protocol("3dpw-test", roi=2), x), x[:, 2])
    with pytest.raises(InputError, match="M > 5"):
        P.select_roi(P.get_protocol("3dpw-test", roi=5), x)


def test_ground_truth_routes_rows_to_gendered_models(bodies):
    pose, betas = random_batch(4, seed=3)
    genders = ["f", "m", "n", "f"]
    gt = P.ground_truth(P.get_protocol("3dpw-test"), {"pose": pose, "betas": betas, "gender": genders}, bodies)
    assert set(gt) == {"h36m17", "vertices", "vertices_pelvis"}
    for i, g in enumerate(("female", "male", "neutral", "female")):
        body = bodies[g]
        v = body(betas[i:i + 1], axis_angle=pose[i:i + 1]).vertices[0].numpy()
        reg = body.J_regressor_h36m.numpy()
        np.testing.assert_allclose(gt["vertices"][i].numpy(), v, atol=1e-12)
        np.testing.assert_allclose(gt["h36m17"][i].numpy(), reg @ v, atol=1e-12)
        np.testing.assert_allclose(gt["vertices_pelvis"][i].numpy(), reg[0] @ v, atol=1e-12)
    # with only the neutral model (the free one) every row is neutral
    gt_n = P.ground_truth(P.get_protocol("3dpw-test"), {"pose": pose, "betas": betas, "gender": genders},
                          {"neutral": bodies["neutral"]})
    v_n = bodies["neutral"](betas, axis_angle=pose).vertices
    np.testing.assert_allclose(gt_n["vertices"].numpy(), v_n.numpy(), atol=1e-12)


def test_evaluate_batch_is_zero_for_the_gt_mesh_and_matches_hand_pve(bodies):
    pose, betas = random_batch(3, seed=4)
    proto = P.get_protocol("3dpw-test")
    batch = {"pose": pose, "betas": betas, "gender": ["n", "n", "n"]}
    gt = P.ground_truth(proto, batch, bodies)
    out = bodies["neutral"](betas, axis_angle=pose)
    m = P.evaluate_batch(proto, out.vertices + 7.0, out.joints("h36m17") + 7.0, gt)
    assert set(m) == {"mpjpe", "pa_mpjpe", "pve", "pa_pve", "mpjpe_per_joint", "pa_mpjpe_per_joint"}
    for k in proto.metric_names:
        assert m[k].shape == (3,) and m[k].abs().max() < 1e-6, k
    # a prediction whose mesh is the GT plus a 20 mm shift of every vertex except the pelvis region:
    # hand PVE = mean over vertices of ‖Δ_v − Δ_pelvis‖ after each mesh's own H36M joint-0 subtraction
    shift = torch.zeros_like(out.vertices)
    shift[:, ::2, 0] = 0.02
    pv = out.vertices + shift
    reg = bodies["neutral"].J_regressor_h36m
    pj = torch.einsum("jv,bvc->bjc", reg, pv)
    m = P.evaluate_batch(proto, pv, pj, gt)
    dp = (reg[0] @ shift[0]).numpy()  # pelvis shift
    expected = np.linalg.norm(shift[0].numpy() - dp, axis=-1).mean() * 1000
    np.testing.assert_allclose(m["pve"].numpy(), expected, rtol=1e-9)


def test_synth_exact_gt_uses_npz_joints_and_recomputed_vertices(bodies):
    pose, betas = random_batch(2, seed=5)
    proto = P.get_protocol("synth-test")
    out = bodies["neutral"](betas, axis_angle=pose)
    cam_t = torch.tensor([[0.3, -0.1, 5.0], [-0.4, 0.2, 9.0]])
    batch = {"pose": pose, "betas": betas, "joints_h36m17": out.joints("h36m17") + cam_t[:, None],
             "gender": ["n", "n"]}
    gt = P.ground_truth(proto, batch, {"neutral": bodies["neutral"]})
    assert torch.equal(gt["h36m17"], batch["joints_h36m17"])
    m = P.evaluate_batch(proto, out.vertices, out.joints("h36m17"), gt)
    assert max(float(m[k].abs().max()) for k in proto.metric_names) < 1e-6
    with pytest.raises(InputError, match="joints_h36m17"):
        P.ground_truth(proto, {"pose": pose, "betas": betas}, {"neutral": bodies["neutral"]})


def test_evaluate_batch_input_errors():
    proto = P.get_protocol("3dpw-test")
    with pytest.raises(InputError, match="pred_h36m17"):
        P.evaluate_batch(proto, None, torch.zeros(2, 14, 3), {"h36m17": torch.zeros(2, 17, 3)})
    with pytest.raises(InputError, match="h36m17"):
        P.evaluate_batch(proto, None, torch.zeros(2, 17, 3), {})
    with pytest.raises(InputError, match="PVE"):
        P.evaluate_batch(proto, None, torch.zeros(2, 17, 3), {"h36m17": torch.zeros(2, 17, 3)})
    with pytest.raises(InputError, match="rows"):
        P.evaluate_batch(P.get_protocol("h36m-p1"), None, torch.zeros(2, 17, 3), {"h36m17": torch.zeros(3, 17, 3)})
