"""Gendered GT for 3DPW: a body folder of scaled copies of the free model, a 3DPW file in SPIN's layout.

A copy of the free model with v_template and shapedirs scaled by s poses every mesh scaled by s about the
origin (linear blend skinning of scaled rest joints and vertices; the free model has no pose correctives), so
with the prediction = the neutral mesh of the GT parameters the errors are known by hand: per row
MPJPE = |s − 1| · mean_j ‖N_j − N_0‖, PVE = |s − 1| · mean_v ‖V_v − V_pelvis‖, PA-MPJPE = 0 (N: neutral H36M-17
joints, V: neutral vertices; s = 1.1 male, 0.9 female).
"""

import logging

import numpy as np
import pytest
import torch

from hmr_bench.body import load_body_model
from hmr_bench.body.lbs import rotmats_from_axis_angle
from hmr_bench.body.model import FREE_MODEL_FILE
from hmr_bench.body.model_file import read_model_file, write_model_file
from hmr_bench.body.source import gt_bodies
from hmr_bench.config import RunConfig, apply_overrides
from hmr_bench.data.dataset import SpinDataset
from hmr_bench.data.loader import collate_samples
from hmr_bench.errors import InputError
from hmr_bench.eval import gt_choice as G
from hmr_bench.eval import protocols as P
from hmr_bench.models.common import ModelOutput
from hmr_bench.train.step import evaluate_predictions
from tests.data.spin_layout import write_3dpw_test

SCALE = {"neutral": 1.0, "male": 1.1, "female": 0.9}
H36M_TO_J14 = [6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10]  # SPIN constants.py


def write_gendered_folder(folder, genders=("neutral", "male", "female")):
    free = read_model_file(FREE_MODEL_FILE)
    folder.mkdir(parents=True, exist_ok=True)
    for g in genders:
        s = SCALE[g]
        write_model_file(folder / f"SMPL_{g.upper()}.npz", dict(free) | {
            "v_template": free["v_template"] * s, "shapedirs": free["shapedirs"] * s, "gender": np.array(g)})
    return folder


class FixedPredictor(torch.nn.Module):
    """Predicts given parameters for the rows of a batch in order (rotmat (N, 24, 3, 3), betas (N, 10))."""

    def __init__(self, rotmat, betas):
        super().__init__()
        self.register_buffer("rotmat", rotmat)
        self.register_buffer("betas", betas)

    def forward(self, crops, bbox_info, roi=None) -> ModelOutput:
        B, M = bbox_info.shape[:2]
        empty = crops.new_zeros(B, M, 0)
        return ModelOutput(rotmat=self.rotmat[:, None].expand(B, M, 24, 3, 3),
                           betas=self.betas[:, None].expand(B, M, 10), cam=bbox_info.new_zeros(B, M, 3),
                           features=empty, fused=empty)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_gendered_folder(tmp_path_factory.mktemp("smpl"))


@pytest.fixture(scope="module")
def pw3d(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    npz, arrays = write_3dpw_test(root)
    ds = SpinDataset(npz, root / "3dpw", crop_size=(36, 48), name="3dpw")
    return ds, collate_samples([ds[i] for i in range(len(ds))]), arrays


def run_eval(body_model: str, batch, arrays):
    cfg = apply_overrides(RunConfig(), {"body_model": body_model, "data.workers": 0})
    body = load_body_model(body_model)
    pose = torch.tensor(arrays["pose"], dtype=torch.float32)
    model = FixedPredictor(rotmats_from_axis_angle(pose), torch.tensor(arrays["shape"], dtype=torch.float32))
    return evaluate_predictions(model, body, batch, cfg, P.get_protocol("3dpw-test")), body


def test_gendered_folder_gives_gendered_gt_by_hand(folder, pw3d, caplog):
    _, batch, arrays = pw3d
    assert list(arrays["gender"]) == ["m", "f", "m", "f"] and arrays["gender"].dtype.str == "<U1"
    P._warned_neutral.discard("3dpw-test")
    with caplog.at_level(logging.WARNING, logger="hmr_bench.eval.protocols"):
        m, body = run_eval(str(folder), batch, arrays)
    assert not caplog.records  # every gender has its model: no "no male body model" warning
    out = body(torch.tensor(arrays["shape"], dtype=torch.float32),
               axis_angle=torch.tensor(arrays["pose"], dtype=torch.float32))
    n17 = out.joints("h36m17").double().numpy()
    verts = out.vertices.double().numpy()
    s = np.array([SCALE["male" if g == "m" else "female"] for g in arrays["gender"]])
    reach = np.linalg.norm(n17[:, H36M_TO_J14] - n17[:, :1], axis=-1).mean(-1)
    np.testing.assert_allclose(m["mpjpe"].numpy(), np.abs(s - 1) * reach * 1000, rtol=1e-4)
    assert m["pa_mpjpe"].abs().max() < 0.05
    spread = np.linalg.norm(verts - n17[:, None, 0], axis=-1).mean(-1)
    np.testing.assert_allclose(m["pve"].numpy(), np.abs(s - 1) * spread * 1000, rtol=1e-4)
    assert m["mpjpe"].min() > 10  # the gap a neutral-only evaluation would hide
    assert gt_bodies(body, str(folder))["male"] is gt_bodies(body, str(folder))["male"]  # loaded once


def test_without_gendered_models_gt_is_neutral_and_said_once(pw3d, caplog):
    _, batch, arrays = pw3d
    P._warned_neutral.discard("3dpw-test")
    with caplog.at_level(logging.WARNING, logger="hmr_bench.eval.protocols"):
        m, _ = run_eval("free", batch, arrays)
        run_eval("free", batch, arrays)
    assert m["mpjpe"].abs().max() < 1e-3  # neutral GT = the prediction
    notes = [r.message for r in caplog.records]
    assert len(notes) == 1 and "3dpw-test: GT meshes use the NEUTRAL body model" in notes[0]
    assert "not comparable" in notes[0]


def test_describe_gt_with_and_without_gendered_models(folder, tmp_path):
    assert G.describe_gt("3dpw-test", "official", str(folder))["note"] == ""
    assert G.describe_gt("3dpw-test", "official", str(folder))["body"].startswith("per row: SMPL_MALE / SMPL_FEMALE")
    male_only = write_gendered_folder(tmp_path / "male_only", ("neutral", "male"))
    assert G.describe_gt("h36m-p2", "official", str(male_only))["note"] == ""  # H36M: male only
    note = G.describe_gt("3dpw-test", "official", str(male_only))["note"]
    assert "no SMPL_FEMALE.npz" in note and "SMPL_MALE.npz" not in note
    assert "not comparable" in G.describe_gt("h36m-p2", "official", "free")["note"]
    assert G.describe_gt("h36m-p2", "spin", "free")["note"] == ""  # mocap GT: no body model involved


def test_3dpw_rows_without_gender_are_an_error_with_gendered_models(folder, tmp_path):
    npz, arrays = write_3dpw_test(tmp_path, with_gender=False)
    ds = SpinDataset(npz, tmp_path / "3dpw", crop_size=(36, 48), name="3dpw")
    batch = collate_samples([ds[i] for i in range(len(ds))])
    with pytest.raises(InputError, match="protocol '3dpw-test': field 'gender': found a row without a gender"):
        run_eval(str(folder), batch, arrays)


def test_the_run_says_once_and_the_report_shows_that_gt_is_neutral(folder, caplog):
    from hmr_bench.experiment.provenance import run_provenance
    from hmr_bench.report.provenance import summary

    cfg = apply_overrides(RunConfig(), {"data.source": "real", "data.test_sets": ["3dpw-test", "h36m-p2"]})
    for name in ("3dpw-test", "h36m-p2"):
        P._warned_neutral.discard(name)
    with caplog.at_level(logging.WARNING, logger="hmr_bench.eval.protocols"):
        env = run_provenance(cfg, warn=True)
        run_provenance(cfg, warn=True)  # a second config of the same table: nothing more
    assert sorted(r.message.split(":")[0] for r in caplog.records) == ["3dpw-test", "h36m-p2"]
    assert all("not comparable" in r.message for r in caplog.records)
    run = {"status": "finished", "env": env, "git_sha": "", "dataset_key": "real:coco|3dpw-train"}
    lines = summary([run], [0])
    assert "3dpw-test: smpl-mesh; pelvis H36M-regressor joint 0 of the GT mesh; GT body neutral (free); NOT " \
           "COMPARABLE" in lines["ground truth"]
    assert lines["body model"].startswith("free (neutral ") and "sha256" in lines["body model"]
    gendered = run_provenance(apply_overrides(cfg, {"body_model": str(folder)}))
    assert not any("NOT COMPARABLE" in v for v in gendered["ground_truth"].values())
    assert set(gendered["body_model"]["files"]) == {"neutral", "male", "female"}
