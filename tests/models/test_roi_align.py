"""roi_align against a hand computation, an independent grid_sample derivation, and gradcheck."""

import pytest
import torch
import torch.nn.functional as F

from hmr_bench.errors import InputError
from hmr_bench.models.roi_align import roi_align


def _ramp_map():
    """(1, 1, 4, 4) map with value 4·y + x at pixel (y, x): bilinear sampling of it is exact, 4·y + x."""
    return torch.arange(16, dtype=torch.float64).reshape(1, 1, 4, 4)


def test_hand_computation_on_4x4_map():
    f = _ramp_map()
    # aligned: box x,y ∈ [0.5, 2.5] → RoI [0, 2]²; 1×1 bin, 2×2 samples at 0.5 and 1.5 → mean 4·1 + 1 = 5
    b = torch.tensor([[0, 0.5, 0.5, 2.5, 2.5]], dtype=torch.float64)
    assert roi_align(f, b, (1, 1)).item() == pytest.approx(5.0)
    # 2×2 bins of size 1, samples at .25/.75 (+1): bin means y ∈ {.5, 1.5}, x ∈ {.5, 1.5}
    assert roi_align(f, b, 2)[0, 0].flatten().tolist() == pytest.approx([2.5, 3.5, 6.5, 7.5])
    # same RoI from image pixels at stride 2: [1, 5]·0.5 − 0.5 = [0, 2]
    b2 = torch.tensor([[0, 1.0, 1.0, 5.0, 5.0]], dtype=torch.float64)
    assert roi_align(f, b2, 1, spatial_scale=0.5).item() == pytest.approx(5.0)
    # x ∈ [4, 6] → RoI x ∈ [3.5, 5.5]: samples x = 4.0 (≤ w: border column 3) and 5.0 (> w: counts 0);
    # y samples 0.5, 1.5 → values 4·0.5 + 3 = 5 and 4·1.5 + 3 = 9 → (5 + 9 + 0 + 0) / 4
    b3 = torch.tensor([[0, 4.0, 0.5, 6.0, 2.5]], dtype=torch.float64)
    assert roi_align(f, b3, 1).item() == pytest.approx(3.5)
    # y ∈ [−1, 0]: clamped to row 0. Box y ∈ [−1, 1] → RoI [−1.5, 0.5], samples y = −1.0 (kept, row 0) and 0.0
    b4 = torch.tensor([[0, 1.5, -1.0, 1.5, 1.0]], dtype=torch.float64)   # zero-width box at x = 1.0
    assert roi_align(f, b4, 1).item() == pytest.approx(1.0)
    # entirely outside → 0
    assert roi_align(f, torch.tensor([[0, 10.0, 10, 12, 12]], dtype=torch.float64), 1).item() == 0.0
    # not aligned: RoI = box·scale, at least 1×1: box [1, 1.2]² → [1, 2]², samples 1.25, 1.75 → 4·1.5 + 1.5
    b5 = torch.tensor([[0, 1.0, 1.0, 1.2, 1.2]], dtype=torch.float64)
    assert roi_align(f, b5, 1, aligned=False).item() == pytest.approx(7.5)


def _reference(features, boxes, ph, pw, scale, ratio, aligned):
    """Naive loops build each bin's sample points; grid_sample (align_corners=False, border) reads them."""
    n, c, h, w = features.shape
    out = torch.zeros(len(boxes), c, ph, pw, dtype=features.dtype)
    off = 0.5 if aligned else 0.0
    for k, (bi, x1, y1, x2, y2) in enumerate(boxes.tolist()):
        sx, sy = x1 * scale - off, y1 * scale - off
        rw, rh = x2 * scale - off - sx, y2 * scale - off - sy
        if not aligned:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        for p in range(ph):
            for q in range(pw):
                pts = [(sy + (p + (i + 0.5) / ratio) * rh / ph, sx + (q + (j + 0.5) / ratio) * rw / pw)
                       for i in range(ratio) for j in range(ratio)]
                grid = torch.tensor([[[[(2 * x + 1) / w - 1, (2 * y + 1) / h - 1] for y, x in pts]]],
                                    dtype=features.dtype)                      # (1, 1, S, 2) as (gx, gy)
                vals = F.grid_sample(features[int(bi)][None], grid, mode="bilinear", padding_mode="border",
                                     align_corners=False)[0, :, 0]          # (C, S)
                inside = torch.tensor([-1 <= y <= h and -1 <= x <= w for y, x in pts], dtype=features.dtype)
                out[k, :, p, q] = (vals * inside).sum(-1) / len(pts)
    return out


@pytest.mark.parametrize("aligned", [True, False])
@pytest.mark.parametrize("ph,pw,scale,ratio", [(3, 2, 0.25, 2), (2, 4, 1.0, 1), (1, 1, 0.5, 3)])
def test_matches_grid_sample_reference(aligned, ph, pw, scale, ratio):
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(2, 3, 7, 9, generator=g, dtype=torch.float64)
    img_h, img_w = 7 / scale, 9 / scale
    xy = torch.rand(12, 2, generator=g, dtype=torch.float64) * torch.tensor([img_w, img_h]) * 1.4 - 0.2 * img_w
    wh = torch.rand(12, 2, generator=g, dtype=torch.float64) * torch.tensor([img_w, img_h]) * 0.8
    wh[0] = 0.0                                                        # degenerate box
    boxes = torch.cat([torch.tensor([0, 1] * 6, dtype=torch.float64)[:, None], xy, xy + wh], dim=1)
    got = roi_align(feats, boxes, (ph, pw), spatial_scale=scale, sampling_ratio=ratio, aligned=aligned)
    want = _reference(feats, boxes, ph, pw, scale, ratio, aligned)
    assert got.shape == (12, 3, ph, pw)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def test_gradcheck_features_and_boxes():
    g = torch.Generator().manual_seed(1)
    feats = torch.randn(2, 2, 4, 5, generator=g, dtype=torch.float64, requires_grad=True)
    x1y1 = torch.rand(3, 2, generator=g, dtype=torch.float64) * 4
    wh = 0.5 + torch.rand(3, 2, generator=g, dtype=torch.float64) * 3
    coords = torch.cat([x1y1, x1y1 + wh], dim=1).requires_grad_(True)   # (x1, y1, x2, y2), some past the border
    index = torch.tensor([[0.0], [1.0], [1.0]], dtype=torch.float64)

    def fn(f, c):
        return roi_align(f, torch.cat([index, c], dim=1), (2, 2), spatial_scale=0.8, sampling_ratio=2)

    assert torch.autograd.gradcheck(fn, (feats, coords), eps=1e-6, atol=1e-7)


def test_float32_and_empty_boxes():
    feats = torch.randn(1, 4, 8, 6)
    out = roi_align(feats, torch.zeros(0, 5), (7, 7), spatial_scale=1 / 32)
    assert out.shape == (0, 4, 7, 7) and out.dtype == torch.float32


def test_bad_input_errors():
    feats = torch.zeros(2, 3, 4, 4)
    with pytest.raises(InputError, match=r"boxes.*\(3, 4\).*\(K, 5\)"):
        roi_align(feats, torch.zeros(3, 4), 2)
    with pytest.raises(InputError, match=r"batch index.*\[2, 2\].*\[0, 1\]"):
        roi_align(feats, torch.tensor([[2.0, 0, 0, 1, 1]]), 2)
    with pytest.raises(InputError, match="sampling_ratio"):
        roi_align(feats, torch.tensor([[0.0, 0, 0, 1, 1]]), 2, sampling_ratio=0)
    with pytest.raises(InputError, match="features"):
        roi_align(torch.zeros(3, 4, 4), torch.tensor([[0.0, 0, 0, 1, 1]]), 2)
