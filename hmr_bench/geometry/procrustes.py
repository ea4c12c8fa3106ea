"""Similarity (Procrustes) alignment, as used by PA-MPJPE (SPIN `compute_similarity_transform`, Umeyama)."""

from __future__ import annotations

import numpy as np
import torch

from hmr_bench.errors import InputError


def similarity_align(pred, gt, return_transform: bool = False):
    """Align pred to gt per sample with the least-squares similarity transform gt ≈ scale·R·pred + t.

    pred, gt: (..., N, 3) torch tensors or numpy arrays (numpy in → numpy float64 out).
    Centre both sets, K = X1ᵀX2 (3×3), K = U S Vᵀ, R = V diag(1, 1, sign det(V Uᵀ)) Uᵀ (never a reflection),
    scale = tr(R K)/‖X1‖², t = mean(gt) − scale·R·mean(pred).
    Returns aligned pred (..., N, 3), and with return_transform also (scale (...), R (..., 3, 3), t (..., 3)).

    Degenerate input: if all points of a pred sample coincide (‖X1‖ = 0), scale is set to 0 and every aligned
    point is the centroid of gt (no NaN); R is then an arbitrary rotation. Gradients need distinct singular
    values of K (generic point sets); they are not defined for degenerate input.
    """
    as_numpy = not isinstance(pred, torch.Tensor) and not isinstance(gt, torch.Tensor)
    if as_numpy:
        pred, gt = torch.as_tensor(np.asarray(pred, np.float64)), torch.as_tensor(np.asarray(gt, np.float64))
    else:
        like = pred if isinstance(pred, torch.Tensor) else gt
        dtype = like.dtype if like.is_floating_point() else torch.get_default_dtype()
        pred = torch.as_tensor(pred, dtype=dtype, device=like.device)
        gt = torch.as_tensor(gt, dtype=dtype, device=like.device)
    for name, x in (("pred", pred), ("gt", gt)):
        if x.ndim < 2 or x.shape[-1] != 3:
            raise InputError("similarity_align", name, found=f"shape {tuple(x.shape)}",
                             expected="shape (..., N, 3)")
    if pred.shape[-2] != gt.shape[-2]:
        raise InputError("similarity_align", "gt", found=f"shape {tuple(gt.shape)}",
                         expected=f"the same number of points N as pred {tuple(pred.shape)}")

    mu1, mu2 = pred.mean(-2, keepdim=True), gt.mean(-2, keepdim=True)
    x1, x2 = pred - mu1, gt - mu2
    var1 = (x1 * x1).sum((-2, -1))
    k = x1.transpose(-1, -2) @ x2
    u, _, vh = torch.linalg.svd(k)
    v = vh.transpose(-1, -2)
    with torch.no_grad():
        sign = torch.where(torch.linalg.det(v @ u.transpose(-1, -2)) < 0, -1.0, 1.0).to(k)
    z = torch.ones(k.shape[:-1], dtype=k.dtype, device=k.device)
    z = torch.cat([z[..., :2], sign[..., None]], -1)
    r = (v * z[..., None, :]) @ u.transpose(-1, -2)
    degenerate = var1 == 0
    trace = (r * k.transpose(-1, -2)).sum((-2, -1))
    scale = torch.where(degenerate, torch.zeros_like(var1), trace / torch.where(degenerate, 1.0, var1))
    t = mu2[..., 0, :] - scale[..., None] * (r @ mu1[..., 0, :, None])[..., 0]
    aligned = scale[..., None, None] * (pred @ r.transpose(-1, -2)) + t[..., None, :]
    out = (aligned, scale, r, t) if return_transform else (aligned,)
    if as_numpy:
        out = tuple(o.numpy() for o in out)
    return out if return_transform else out[0]
