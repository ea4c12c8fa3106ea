"""Fusion variants (spec §3.2, §3.4, §3.5, §10): naive-loop equivalence, weight bounds, shapes, errors."""

from __future__ import annotations

import math

import pytest
import torch

from hmr_bench.errors import InputError
from hmr_bench.models.encoding import PositionalEncoding
from hmr_bench.models.fusion import FUSIONS
from hmr_bench.registry import UnknownNameError

D = 16



def _inputs(B=2, M=5, d=D, seed=0):
    g = torch.Generator().manual_seed(seed)
    h = torch.rand(B, M, d, generator=g) * 2  # ≥ 0 like post-ReLU features
    bbox = torch.randn(B, M, 3, generator=g) * 0.3
    return h, bbox


@pytest.mark.parametrize("name", FUSIONS.names())
@pytest.mark.parametrize("M", [1, 5, 8])
def test_shapes_and_rows(name, M):
    torch.manual_seed(0)
    fusion = FUSIONS.build(name, dim=D, num_rois=M)
    h, bbox = _inputs(M=M)
    u, w = fusion(h, bbox)
    assert u.shape == (2, M, D) and torch.isfinite(u).all()
    if name == "none":
        assert w is None and torch.equal(u, h)
    else:
        assert w.shape == (2, M, M) and (w >= 0).all()
        assert torch.allclose(w.sum(-1), torch.ones(2, M), atol=1e-6)


def test_raf_official_equals_naive_loop():
    torch.manual_seed(1)
    M = 4
    f = FUSIONS.build("raf-official", dim=D, num_rois=M)
    h, bbox = _inputs(M=M)
    u, w = f(h, bbox)
    pe = PositionalEncoding(32)
    for b in range(2):
        for m in range(M):
            g = [f.fuse_fc(torch.cat([h[b, n], pe((bbox[b, m] - bbox[b, n])[None])[0]])) for n in range(M)]
            logits = f.att(torch.cat(g))  # MLP_att over [g_m0, ..., g_m(M-1)]
            wm = torch.exp(logits) / torch.exp(logits).sum()
            assert torch.allclose(w[b, m], wm, atol=1e-6)
            assert torch.allclose(u[b, m], sum(wm[n] * h[b, n] for n in range(M)), atol=1e-5)


def test_raf_official_weight_bounds_m5():
    """Tanh-bounded logits: w ∈ [1/(1+4e²), 1/(1+4e⁻²)] = [0.0327, 0.6488] (spec §3.2, §10), and attained."""
    torch.manual_seed(2)
    f = FUSIONS.build("raf-official", dim=D, num_rois=5)
    h, bbox = _inputs(B=8, M=5)
    _, w = f(h * 100, bbox * 10)
    assert (w >= 0.0327).all() and (w <= 0.6488).all()
    assert torch.allclose(w.sum(-1), torch.ones(8, 5), atol=1e-6)
    lo, hi = 1 / (1 + 4 * math.e ** 2), 1 / (1 + 4 * math.e ** -2)
    assert round(lo, 4) == 0.0327 and round(hi, 4) == 0.6488
    last = f.att[-2]
    with torch.no_grad():  # saturate: logits = tanh(±50) = ±1
        last.weight.zero_()
        last.bias.copy_(torch.tensor([50.0, -50, -50, -50, -50]))
        _, w = f(h, bbox)
        assert torch.allclose(w[..., 0], torch.full((8, 5), hi), atol=1e-6)
        last.bias.copy_(torch.tensor([-50.0, 50, 50, 50, 50]))
        _, w = f(h, bbox)
        assert torch.allclose(w[..., 0], torch.full((8, 5), lo), atol=1e-6)


def test_raf_paper_equals_naive_loop():
    torch.manual_seed(3)
    f = FUSIONS.build("raf-paper", dim=D, num_rois=5)
    h, bbox = _inputs(M=6)  # any M
    u, w = f(h, bbox)
    pe = PositionalEncoding(32)
    for b in range(2):
        for m in range(6):
            a = torch.stack([f.fc(torch.cat([h[b, n], pe(bbox[b, m][None])[0] - pe(bbox[b, n][None])[0]]))[0]
                             for n in range(6)])
            wm = torch.exp(a) / torch.exp(a).sum()
            assert torch.allclose(w[b, m], wm, atol=1e-6)
            assert torch.allclose(u[b, m], (wm[:, None] * h[b]).sum(0), atol=1e-5)


def test_self_attention_equals_loop_over_heads():
    torch.manual_seed(4)
    f = FUSIONS.build("self-attention", dim=D, num_rois=5, pe_freqs=2)  # P = 15, head size (16+15)//4 = 7
    assert f.head_size == 7 and f.query.out_features == 28 and f.value.in_features == 31
    h, bbox = _inputs(M=5)
    u, w = f(h, bbox)
    pe = PositionalEncoding(2)
    hs = 7
    for b in range(2):
        x = torch.cat([h[b], pe(bbox[b])], -1)  # (M, 31)
        xv = torch.cat([h[b], torch.zeros(5, 15)], -1)
        ctx, probs = [], []
        for i in range(4):
            rows = slice(i * hs, (i + 1) * hs)
            q = x @ f.query.weight[rows].T + f.query.bias[rows]
            k = x @ f.key.weight[rows].T + f.key.bias[rows]
            v = xv @ f.value.weight[rows].T + f.value.bias[rows]
            p = torch.softmax(q @ k.T / math.sqrt(hs), dim=-1)
            ctx.append(p @ v)
            probs.append(p)
        y = torch.cat(ctx, -1) @ f.out.weight.T + f.out.bias
        y = (y - y.mean(-1, keepdim=True)) / torch.sqrt(y.var(-1, unbiased=False, keepdim=True) + 1e-12)
        y = y * f.norm.weight + f.norm.bias
        assert torch.allclose(u[b], y, atol=1e-4)
        assert torch.allclose(w[b], torch.stack(probs).mean(0), atol=1e-6)
    assert f.norm.eps == 1e-12


def test_self_attention_official_sizes():
    """Spec §3.5: d = 2048 -> head size 560, Q/K/V Linear(2243 -> 2240), output Linear(2240 -> 2048)."""
    f = FUSIONS.build("self-attention", dim=2048, num_rois=5)
    assert f.head_size == 560
    assert (f.query.in_features, f.query.out_features) == (2243, 2240)
    assert (f.out.in_features, f.out.out_features) == (2240, 2048)


def test_self_attention_value_ignores_box_code():
    """Value input is [h, 0]: the PE columns of the value projection get no gradient."""
    f = FUSIONS.build("self-attention", dim=D, num_rois=5, pe_freqs=2)
    h, bbox = _inputs()
    f(h, bbox)[0].square().sum().backward()
    assert (f.value.weight.grad[:, D:] == 0).all() and (f.value.weight.grad[:, :D] != 0).any()


def test_mean_and_none():
    h, bbox = _inputs(M=3)
    u, w = FUSIONS.build("mean", dim=D, num_rois=3)(h, bbox)
    assert torch.allclose(u, h.mean(1, keepdim=True).expand(2, 3, D))
    assert torch.allclose(w, torch.full((2, 3, 3), 1 / 3))
    u, w = FUSIONS.build("none", dim=D, num_rois=3)(h, bbox)
    assert w is None and torch.equal(u, h)


@pytest.mark.parametrize("name, rows_equal", [("null", True), ("absolute-pe", True), ("absolute-pe-both", False),
                                               ("raf-official", False)])
def test_m_independence_of_absolute_codes(name, rows_equal):
    """F_mn = h_n or [h_n, Γ(B_n)] do not depend on m, so every row of the weights is the same."""
    torch.manual_seed(5)
    f = FUSIONS.build(name, dim=D, num_rois=4)
    _, w = f(*_inputs(M=4))
    same = torch.allclose(w, w[:, :1].expand_as(w), atol=1e-7)
    assert same == rows_equal


@pytest.mark.parametrize("name, L, width", [("raf-official", 32, D + 195), ("raf-official", 0, D + 3),
                                            ("raf-official", 64, D + 387), ("null", 32, D),
                                            ("absolute-pe", 32, D + 195), ("absolute-pe-both", 32, D + 390)])
def test_pair_feature_widths(name, L, width):
    f = FUSIONS.build(name, dim=D, num_rois=5, pe_freqs=L)
    assert f.fuse_fc.in_features == width
    assert f.pair_features(*_inputs()).shape == (2, 5, 5, width)


@pytest.mark.parametrize("name", ["raf-official", "null", "absolute-pe", "absolute-pe-both"])
def test_pair_projection_is_fc_fuse_of_the_pair_features(name):
    """g = FC_fuse([h_n, code_mn]) computed without the M² copies of h_n equals the Linear on the concatenation."""
    torch.manual_seed(6)
    f = FUSIONS.build(name, dim=D, num_rois=5)
    h, bbox = _inputs(M=5)
    torch.testing.assert_close(f.pair_projection(h, bbox), f.fuse_fc(f.pair_features(h, bbox)), rtol=1e-5,
                               atol=1e-6)


def test_raf_official_spec_shapes_r50():
    """Spec §10 at B = 2, M = 5, d = 2048: F (10, 5, 2243) -> g (10, 5, 256) -> logits (10, 5), u (10, 2048)."""
    f = FUSIONS.build("raf-official", dim=2048, num_rois=5)
    h, bbox = _inputs(M=5, d=2048)
    seen = {"F": f.pair_features(h, bbox).shape, "g": f.pair_projection(h, bbox).shape}
    f.att.register_forward_hook(lambda m, i, o: seen.update(att_in=i[0].shape, logits=o.shape))
    u, w = f(h, bbox)
    assert seen["F"] == (2, 5, 5, 2243)
    assert seen["g"][-2:] == (5, 256) and seen["att_in"] == (2, 5, 1280) and seen["logits"] == (2, 5, 5)
    assert u.reshape(10, 2048).shape == (10, 2048) and w.shape == (2, 5, 5)


def test_pe_precision_and_flavour_switches():
    h, bbox = _inputs()
    torch.manual_seed(6)
    a = FUSIONS.build("raf-official", dim=D, num_rois=5, pe_precision="float32")
    torch.manual_seed(6)
    b = FUSIONS.build("raf-official", dim=D, num_rois=5, pe_precision="float64")
    assert b.pe.precision == "float64"
    assert not torch.allclose(a(h, bbox)[1], b(h, bbox)[1], atol=1e-7)  # the high bands differ
    assert FUSIONS.build("raf-paper", dim=D, num_rois=5, pe_flavour="paper").fc.in_features == D + 201


def test_bad_inputs():
    f = FUSIONS.build("raf-official", dim=D, num_rois=5)
    h, bbox = _inputs(M=4)
    with pytest.raises(InputError, match="M = 4"):
        f(h, bbox)
    h, bbox = _inputs(M=5)
    with pytest.raises(InputError, match="bbox_info"):
        f(h, bbox[:, :3])
    with pytest.raises(InputError, match="h"):
        f(h[..., :8], bbox)
    with pytest.raises(UnknownNameError) as err:
        FUSIONS.build("raf", dim=D, num_rois=5)
    for name in ("raf-official", "raf-paper", "self-attention", "none"):
        assert name in str(err.value)
