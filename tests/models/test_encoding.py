"""Positional encoding Γ (spec §3.2, §10): layout, flavours, float32 faithfulness, float64 mode."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hmr_bench.errors import InputError
from hmr_bench.models.encoding import PositionalEncoding, pe_dim


@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_gamma_of_zero_layout(precision):
    out = PositionalEncoding(32, "official", precision)(torch.zeros(1, 3))[0]
    expected = [0.0] * 3 + [0.0, 0.0, 0.0, 1.0, 1.0, 1.0] * 32  # spec §10
    assert out.shape == (195,)
    assert torch.allclose(out, torch.tensor(expected), atol=1e-6)


@pytest.mark.parametrize("L, flavour, dim", [(32, "official", 195), (0, "official", 3), (64, "official", 387),
                                             (32, "paper", 201), (0, "paper", 9)])
def test_dims(L, flavour, dim):
    assert pe_dim(L, flavour) == dim
    assert PositionalEncoding(L, flavour)(torch.zeros(4, 3)).shape == (4, dim)


def test_l0_is_raw_input():
    x = torch.randn(5, 3)
    assert torch.equal(PositionalEncoding(0)(x), x)


def _naive_float32(x: np.ndarray, L: int) -> np.ndarray:
    """The official pixelNeRF code in plain numpy: argument ω·x + φ rounded ONCE to float32 (an FMA, as
    torch.addcmul does), then the true sin of that float32 argument."""
    x32 = x.astype(np.float32)
    half_pi = np.float64(np.float32(np.pi / 2))
    cols = [x32.astype(np.float64)]
    for k in range(L):
        w = np.float64(np.float32(np.pi) * np.float32(2.0 ** k))
        arg_sin = (x32.astype(np.float64) * w).astype(np.float32)
        arg_cos = (x32.astype(np.float64) * w + half_pi).astype(np.float32)
        cols += [np.sin(arg_sin.astype(np.float64)), np.sin(arg_cos.astype(np.float64))]
    return np.concatenate(cols, axis=-1)


def test_float32_equals_naive_float32_loop():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3)) * np.array([0.5, 0.5, 2.0])
    got = PositionalEncoding(32, "official", "float32")(torch.tensor(x, dtype=torch.float32)).double().numpy()
    want = _naive_float32(x, 32)
    # every band, including the pseudo-random high ones, to float32 sin accuracy
    np.testing.assert_allclose(got, want, atol=2e-6, rtol=0)


def test_float64_equals_float64_formula():
    rng = np.random.default_rng(1)
    x32 = rng.normal(size=(50, 3)).astype(np.float32)
    got = PositionalEncoding(32, "official", "float64")(torch.tensor(x32, dtype=torch.float64)).numpy()
    x = x32.astype(np.float64)
    for k in range(32):
        w = math.pi * 2.0 ** k
        np.testing.assert_allclose(got[:, 3 + 6 * k: 6 + 6 * k], np.sin(w * x), atol=1e-6, rtol=0)
        np.testing.assert_allclose(got[:, 6 + 6 * k: 9 + 6 * k], np.cos(w * x), atol=1e-6, rtol=0)


def test_precisions_agree_low_bands_and_alias_high_bands():
    """The documented caveat. x: float32 codes with |x| in [0.5, 4)."""
    torch.manual_seed(0)
    x = (torch.rand(2000, 3) * 3.5 + 0.5) * torch.sign(torch.randn(2000, 3))
    x_ulp = torch.nextafter(x, torch.full_like(x, math.inf))  # one float32 ulp further
    pe32, pe64 = PositionalEncoding(32, "official", "float32"), PositionalEncoding(32, "official", "float64")

    def band(e, k):
        return e[:, 3 + 6 * k: 9 + 6 * k]

    e32, e64 = pe32(x), pe64(x)
    for k in range(8):  # arguments < 2^8·π·4: float32 argument error ≲ 2e-4 rad
        assert (band(e32, k) - band(e64, k)).abs().max() < 1e-3
    # float32 (official): the top band is pseudo-random: one ulp of x changes it (mean |diff| of two
    # unrelated values in [-1, 1] would be ~0.85), and it is not the float64 value
    assert (band(e32, 31) - band(pe32(x_ulp), 31)).abs().mean() > 0.2
    assert (band(e32, 31) - band(e64, 31)).abs().mean() > 0.3
    # float64: 2^k·x is an even integer for k ≥ 25 here, so those bands are exactly (0, 0, 0, 1, 1, 1) ...
    const = torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    for k in range(25, 32):
        assert (band(e64, k) - const).abs().max() < 1e-5
    # ... while the bands just below are pseudo-random in x's last bits
    assert (band(e64, 22) - band(pe64(x_ulp), 22)).abs().mean() > 0.3


def test_paper_flavour_values():
    x = torch.tensor([[0.25, 0.5, 0.125]], dtype=torch.float64)
    out = PositionalEncoding(2, "paper", "float64")(x)[0]
    want = [0.25, 0.5, 0.125]
    for k in range(3):  # 2^0 π, 2^1 π, 2^2 π
        w = math.pi * 2 ** k
        want += [math.sin(w * v) for v in (0.25, 0.5, 0.125)] + [math.cos(w * v) for v in (0.25, 0.5, 0.125)]
    assert torch.allclose(out, torch.tensor(want, dtype=torch.float64), atol=1e-12)


def test_dtype_and_leading_dims():
    x = torch.randn(2, 4, 5, 3, dtype=torch.float64)
    out = PositionalEncoding(4)(x)
    assert out.shape == (2, 4, 5, 27) and out.dtype == torch.float64
    assert torch.equal(out[..., :3], x)


def test_bad_inputs():
    with pytest.raises(InputError, match="x"):
        PositionalEncoding(4)(torch.zeros(2, 4))
    with pytest.raises(InputError, match="flavour"):
        PositionalEncoding(4, "nerf")
    with pytest.raises(InputError, match="precision"):
        PositionalEncoding(4, "official", "float16")
    with pytest.raises(InputError, match="num_freqs"):
        PositionalEncoding(-1)


def test_module_dtype_casts_do_not_change_frequencies():
    x = torch.randn(50, 3)
    for precision in ("float32", "float64"):
        pe = PositionalEncoding(32, "official", precision)
        want = pe(x)
        assert torch.equal(pe.double()(x), want) and torch.equal(pe.float()(x), want)
