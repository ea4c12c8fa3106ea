"""Metrics against hand-built cases, an independent numpy Procrustes and naive loops."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from hmr_bench.errors import InputError
from hmr_bench.eval import metrics


def skeletons(n=5, j=14, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(scale=0.3, size=(n, j, 3))


def umeyama_aligned(x, y):
    """Independent Procrustes: minimise ‖y − (c R x + t)‖ via SVD of the cross-covariance (Umeyama 1991)."""
    mx, my = x.mean(0), y.mean(0)
    xc, yc = x - mx, y - my
    u, d, vt = np.linalg.svd(yc.T @ xc / len(x))
    s = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    r = u @ s @ vt
    c = np.trace(np.diag(d) @ s) / (xc ** 2).sum(1).mean()
    return c * x @ r.T + (my - c * r @ mx)


def test_pure_translation_mpjpe_is_offset_and_pa_is_zero():
    gt = skeletons()
    offsets = np.array([[0.01, 0, 0], [0, 0.02, 0], [0, 0, -0.003], [0.03, 0.04, 0], [0, 0, 0]])
    pred = gt + offsets[:, None, :]
    np.testing.assert_allclose(metrics.mpjpe(torch.tensor(pred), torch.tensor(gt)).numpy(),
                               [10.0, 20.0, 3.0, 50.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(metrics.pa_mpjpe(torch.tensor(pred), torch.tensor(gt)).numpy(), 0.0, atol=1e-7)


def test_rotated_scaled_copy_has_zero_pa_error_but_large_mpjpe():
    gt = skeletons(seed=1)
    R = Rotation.from_euler("xyz", [30, -50, 80], degrees=True).as_matrix()
    pred = 1.7 * gt @ R.T + np.array([0.1, -0.2, 0.3])
    assert metrics.pa_mpjpe(torch.tensor(pred), torch.tensor(gt)).abs().max() < 1e-7
    assert metrics.pa_per_joint_error(torch.tensor(pred), torch.tensor(gt)).abs().max() < 1e-7
    assert (metrics.mpjpe(torch.tensor(pred), torch.tensor(gt)) > 100).all()
    assert metrics.pa_pve(torch.tensor(pred), torch.tensor(gt)).abs().max() < 1e-7


def test_one_joint_displacement_gives_exact_values():
    gt = skeletons(n=2, j=14, seed=2)
    pred = gt.copy()
    pred[0, 3] += [0.03, 0.04, 0.0]  # 50 mm
    pred[1, 13] += [0.0, 0.0, -0.07]  # 70 mm
    per_joint = metrics.per_joint_error(torch.tensor(pred), torch.tensor(gt)).numpy()
    expected = np.zeros((2, 14))
    expected[0, 3], expected[1, 13] = 50.0, 70.0
    np.testing.assert_allclose(per_joint, expected, atol=1e-9)
    np.testing.assert_allclose(metrics.mpjpe(torch.tensor(pred), torch.tensor(gt)).numpy(), [50 / 14, 70 / 14],
                               atol=1e-9)


def test_pa_mpjpe_equals_independent_numpy_procrustes():
    gt, pred = skeletons(n=6, seed=3), skeletons(n=6, seed=4)
    expected_pj = np.stack([np.linalg.norm(umeyama_aligned(pred[i], gt[i]) - gt[i], axis=-1) * 1000
                            for i in range(6)])
    got = metrics.pa_mpjpe(torch.tensor(pred), torch.tensor(gt)).numpy()
    np.testing.assert_allclose(got, expected_pj.mean(1), rtol=1e-9)
    got_pj = metrics.pa_per_joint_error(torch.tensor(pred), torch.tensor(gt)).numpy()
    np.testing.assert_allclose(got_pj, expected_pj, rtol=1e-9)


def test_per_joint_pa_is_whole_skeleton_not_per_joint_procrustes():
    """One similarity per sample: a single displaced joint leaves error on the others too, and a per-joint
    Procrustes (the official --by_keypoint code, one point → exact fit) would give all zeros."""
    gt = skeletons(n=1, seed=5)
    pred = gt.copy()
    pred[0, 0] += [0.2, 0.0, 0.0]
    pj = metrics.pa_per_joint_error(torch.tensor(pred), torch.tensor(gt)).numpy()[0]
    assert (pj[1:] > 0.1).all() and pj[0] > pj[1:].max()


def test_per_joint_means_match_sample_metrics_and_naive_loop():
    gt, pred = skeletons(n=4, seed=6), skeletons(n=4, seed=7)
    pj = metrics.per_joint_error(torch.tensor(pred), torch.tensor(gt)).numpy()
    naive = np.array([[np.sqrt(sum((pred[i, j, k] - gt[i, j, k]) ** 2 for k in range(3))) * 1000
                       for j in range(14)] for i in range(4)])
    np.testing.assert_allclose(pj, naive, rtol=1e-12)
    np.testing.assert_allclose(pj.mean(1), metrics.mpjpe(torch.tensor(pred), torch.tensor(gt)).numpy(), rtol=1e-12)
    pa_pj = metrics.pa_per_joint_error(torch.tensor(pred), torch.tensor(gt)).numpy()
    np.testing.assert_allclose(pa_pj.mean(1), metrics.pa_mpjpe(torch.tensor(pred), torch.tensor(gt)).numpy(),
                               rtol=1e-12)


def test_pve_subtracts_each_pelvis():
    gt_v = skeletons(n=3, j=50, seed=8)
    t = np.array([[0.1, 0.2, 0.3], [0.0, 0.0, 0.01], [-1.0, 0.0, 0.0]])
    pred_v = gt_v + t[:, None]
    gt_pelvis = gt_v[:, 0] * 0.5
    np.testing.assert_allclose(metrics.pve(pred_v, gt_v).numpy(), np.linalg.norm(t, axis=1) * 1000, rtol=1e-12)
    # each mesh minus its own pelvis (which moves with it) → 0
    np.testing.assert_allclose(metrics.pve(pred_v, gt_v, gt_pelvis + t, gt_pelvis).numpy(), 0.0, atol=1e-9)
    # a 10 mm pelvis offset on the prediction shifts every vertex by 10 mm
    off = gt_pelvis + t + np.array([0.0, 0.01, 0.0])
    np.testing.assert_allclose(metrics.pve(pred_v, gt_v, off, gt_pelvis).numpy(), 10.0, rtol=1e-9)


def test_float32_in_float32_out_and_close_to_float64():
    gt, pred = skeletons(seed=9), skeletons(seed=10)
    out32 = metrics.pa_mpjpe(torch.tensor(pred, dtype=torch.float32), torch.tensor(gt, dtype=torch.float32))
    out64 = metrics.pa_mpjpe(torch.tensor(pred), torch.tensor(gt))
    assert out32.dtype == torch.float32
    np.testing.assert_allclose(out32.numpy(), out64.numpy(), rtol=1e-5)


def test_non_finite_prediction_gives_nan_for_that_sample_only():
    gt = skeletons(n=3, seed=11)
    pred = gt.copy()
    pred[1, 2, 0] = np.nan
    for fn in (metrics.mpjpe, metrics.pa_mpjpe, metrics.pa_pve):
        out = fn(torch.tensor(pred), torch.tensor(gt)).numpy()
        assert np.isnan(out[1]) and np.allclose(out[[0, 2]], 0, atol=1e-7), fn.__name__
    pred[1, 2, 0] = np.inf
    out = metrics.pa_per_joint_error(torch.tensor(pred), torch.tensor(gt)).numpy()
    assert np.isnan(out[1]).all() and np.allclose(out[[0, 2]], 0, atol=1e-7)


def test_bad_shapes_raise_input_error():
    with pytest.raises(InputError, match="pred"):
        metrics.mpjpe(torch.zeros(2, 14), torch.zeros(2, 14))
    with pytest.raises(InputError, match="gt"):
        metrics.pa_mpjpe(torch.zeros(2, 14, 3), torch.zeros(2, 13, 3))
    with pytest.raises(InputError, match="pred_pelvis"):
        metrics.pve(torch.zeros(2, 9, 3), torch.zeros(2, 9, 3), torch.zeros(3, 3), None)


def test_per_action_mean_matches_hand_computation():
    errors = torch.tensor([10.0, 20.0, 30.0, 40.0, 50.0, 60.0])
    labels = ["Walk", "Sitting", "Walk", None, "Sitting", "Walk"]
    out = metrics.per_action_mean(errors, labels)
    assert list(out) == ["Sitting", "Walk"]  # sorted; the unlabelled row is skipped
    assert out["Walk"] == pytest.approx((10 + 30 + 60) / 3)
    assert out["Sitting"] == pytest.approx((20 + 50) / 2)
    with pytest.raises(InputError, match="labels"):
        metrics.per_action_mean(errors, labels[:4])
