"""similarity_align against known transforms, scipy's Rotation.align_vectors and an independent numpy SVD."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from hmr_bench.errors import InputError
from hmr_bench.geometry.procrustes import similarity_align


def random_sets(n_samples=4, n_points=14, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_samples, n_points, 3)), rng.normal(size=(n_samples, n_points, 3))


def umeyama_numpy(x, y):
    """Independent derivation: maximise tr(Rᵀ Σ) with Σ = Y_cᵀ X_c = U D Vᵀ, R = U S Vᵀ (Umeyama 1991)."""
    xc, yc = x - x.mean(0), y - y.mean(0)
    u, d, vt = np.linalg.svd(yc.T @ xc)
    s = np.diag([1.0, 1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt))])
    r = u @ s @ vt
    c = np.trace(np.diag(d) @ s) / (xc ** 2).sum()
    return c * x @ r.T + (y.mean(0) - c * r @ x.mean(0))


def test_recovers_known_similarity_exactly():
    pred, _ = random_sets()
    R = Rotation.random(4, random_state=1).as_matrix()
    s, t = np.array([0.5, 1.0, 2.0, 3.7]), np.array([[1.0, -2.0, 3.0]] * 4)
    gt = s[:, None, None] * pred @ R.transpose(0, 2, 1) + t[:, None, :]
    aligned, scale, rot, trans = similarity_align(pred, gt, return_transform=True)
    assert isinstance(aligned, np.ndarray)
    np.testing.assert_allclose(aligned, gt, atol=1e-12)
    np.testing.assert_allclose(scale, s, atol=1e-12)
    np.testing.assert_allclose(rot, R, atol=1e-12)
    np.testing.assert_allclose(trans, t, atol=1e-12)


def test_matches_scipy_align_vectors():
    pred, gt = random_sets(seed=2)
    aligned, scale, rot, _ = similarity_align(torch.tensor(pred), torch.tensor(gt), return_transform=True)
    for i in range(len(pred)):
        xc, yc = pred[i] - pred[i].mean(0), gt[i] - gt[i].mean(0)
        r, _ = Rotation.align_vectors(yc, xc)  # r maps xc onto yc
        R = r.as_matrix()
        s = np.sum((xc @ R.T) * yc) / np.sum(xc ** 2)
        np.testing.assert_allclose(rot[i].numpy(), R, atol=1e-10)
        np.testing.assert_allclose(scale[i].item(), s, rtol=1e-10)
        np.testing.assert_allclose(aligned[i].numpy(), s * xc @ R.T + gt[i].mean(0), atol=1e-10)


def test_matches_independent_numpy_svd():
    pred, gt = random_sets(n_samples=6, seed=3)
    out = similarity_align(torch.tensor(pred, dtype=torch.float32), torch.tensor(gt, dtype=torch.float32))
    assert out.dtype == torch.float32 and out.shape == (6, 14, 3)
    for i in range(6):
        np.testing.assert_allclose(out[i].numpy(), umeyama_numpy(pred[i], gt[i]), atol=1e-5)


def test_mirror_image_gives_rotation_not_reflection():
    pred, _ = random_sets(n_samples=1, seed=4)
    gt = pred * np.array([-1.0, 1.0, 1.0])  # a mirror image: plain SVD's V Uᵀ would be this reflection
    xc, yc = pred[0] - pred[0].mean(0), gt[0] - gt[0].mean(0)
    u, _, vt = np.linalg.svd(xc.T @ yc)
    assert np.linalg.det(vt.T @ u.T) < 0
    aligned, _, rot, _ = similarity_align(pred, gt, return_transform=True)
    assert np.linalg.det(rot[0]) == pytest.approx(1.0)
    np.testing.assert_allclose(aligned[0], umeyama_numpy(pred[0], gt[0]), atol=1e-10)
    assert np.abs(aligned - gt).max() > 0.1  # it cannot reproduce the mirror image


def test_degenerate_pred_gives_gt_centroid_not_nan():
    pred = np.ones((2, 5, 3))
    _, gt = random_sets(n_samples=2, n_points=5, seed=5)
    aligned = similarity_align(pred, gt)
    np.testing.assert_allclose(aligned, np.broadcast_to(gt.mean(1, keepdims=True), gt.shape), atol=1e-12)
    assert np.isfinite(similarity_align(gt, np.zeros_like(gt))).all()


def test_gradcheck():
    pred, gt = random_sets(n_samples=2, n_points=6, seed=6)
    pred_t = torch.tensor(pred, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p: similarity_align(p, torch.tensor(gt)), (pred_t,))


@pytest.mark.parametrize("pred, gt, name", [
    (np.zeros((4, 2)), np.zeros((4, 3)), "pred"),
    (np.zeros((4, 3)), np.zeros((4, 2)), "gt"),
    (np.zeros((4, 3)), np.zeros((5, 3)), "gt"),
])
def test_bad_shapes_name_argument(pred, gt, name):
    with pytest.raises(InputError, match=rf"'{name}'.*found shape \("):
        similarity_align(pred, gt)
