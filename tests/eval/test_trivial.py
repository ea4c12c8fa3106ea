"""The trivial baseline (mean pose, mean shape, mean camera) against a direct computation with the body model."""

from __future__ import annotations

import numpy as np
import torch

from hmr_bench.body import load_body_model
from hmr_bench.eval.trivial import MeanPredictor
from hmr_bench.geometry.rotations import rot6d_to_matrix
from hmr_bench.train import trainer
from hmr_bench.train.data import build_data
from tests.train import cache_fixture, synth_root_fixture, tiny_config  # noqa: F401


def test_mean_predictor_outputs_the_body_means_for_every_roi():
    body = load_body_model("free")
    out = MeanPredictor(body)(torch.zeros(2, 3, 3, 8, 6), torch.zeros(2, 3, 3))
    assert out.rotmat.shape == (2, 3, 24, 3, 3) and out.betas.shape == (2, 3, 10) and out.cam.shape == (2, 3, 3)
    expected = rot6d_to_matrix(body.mean_pose_6d.float().reshape(24, 6))
    assert torch.allclose(out.rotmat[1, 2], expected)
    assert torch.equal(out.betas[0, 1], body.mean_shape.float()) and torch.equal(out.cam[1, 0], body.mean_cam.float())


def test_trivial_mpjpe_equals_a_direct_computation(cache):
    """MPJPE of the mean body against the GT of each test sample: the 14 evaluation joints minus the H36M pelvis,
    posed by the body model from the stored GT pose and shape, compared in numpy (not through the eval code)."""
    cfg = tiny_config()
    data = build_data(cfg)
    body = load_body_model("free")
    loader = trainer.eval_loader(data.test["synth-test"], cfg, "cpu")
    per_sample = trainer.evaluate(MeanPredictor(body), body, loader, cfg, "synth-test", "test", "cpu")

    arrays = np.load(data.test["synth-test"].npz_path)
    with torch.no_grad():
        gt = body(torch.as_tensor(arrays["shape"]).float(), axis_angle=torch.as_tensor(arrays["pose"]).float())
        pose6d = body.mean_pose_6d.float().reshape(24, 6)
        mean = body(body.mean_shape.float()[None], rotmat=rot6d_to_matrix(pose6d)[None])
    g = gt.joints("h36m17").numpy()
    p = mean.joints("h36m17").numpy()
    j14 = [6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10]  # SPIN's H36M_TO_J14 (spec §6); pelvis = H36M row 0
    g, p = g[:, j14] - g[:, :1], p[:, j14] - p[:, :1]
    expected = 1000 * np.linalg.norm(p - g, axis=-1).mean(axis=1)
    order = np.argsort(per_sample["index"])
    np.testing.assert_allclose(per_sample["mpjpe"][order], expected, rtol=1e-4, atol=1e-3)
    assert expected.mean() > 50  # a real error: the mean body is not the GT
