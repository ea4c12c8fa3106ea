"""NeRF-style positional encoding Γ of box codes (spec §3.2, paper Eq. 1).

    Γ(x) = [x, (sin(ω_k x_0), sin(ω_k x_1), sin(ω_k x_2), cos(ω_k x_0), cos(ω_k x_1), cos(ω_k x_2)) for each k]

Frequency flavours:

- `official` [C:models/code.py::PositionalEncoding, pixelNeRF's]: ω_k = π·2^k for k = 0..L−1 (L bands);
  output 3 + 6L, i.e. 195 at L = 32. L = 0 gives the raw x only (Table 3 "L = 0").
- `paper` [P Eq. 1]: frequencies 2^0·π … 2^L·π, i.e. L + 1 bands (k = 0..L); output 3 + 6(L + 1), 201 at L = 32.
  Taken literally, so L = 0 still has one band (π); the paper does not say what its "L = 0" row encodes.

Precision (the argument ω_k·x reaches π·2^31 ≈ 6.7e9 at k = 31, where one float32 ulp is 512 rad):

- `float32`: bit-faithful to the official code. The argument is computed as one fused multiply-add
  `addcmul(φ, x, ω)` in float32 (φ = 0 for sin, float32(π/2) for cos, so cos(a) is sin(a + π/2)), exactly as
  pixelNeRF's code does. torch's CPU addcmul rounds once (a fused multiply-add; checked, and it differs
  from x·ω + φ in two roundings); CUDA kernels normally contract to an FMA too (not checked here, no GPU). For
  k ≳ 20 the sin/cos values are then deterministic but effectively pseudo-random functions of x, so the exact
  high-band values depend on the kernel: "bit-faithful" means the same operation sequence.
- `float64`: the argument and sin/cos are computed in float64, then cast to x's dtype: the exact
  sin/cos of π·2^k·x for the x given. This does NOT make the high bands meaningful, it changes how they fail.
  Box codes are float32 numbers, i.e. x = m·2^(e−23) with an integer m (|x| ∈ [2^e, 2^(e+1))), so 2^k·x is an
  even integer once k ≥ 24 − e and the band is then exactly (sin, cos) = (0, 1): for |x| ≥ 0.5 every band
  k ≥ 25 is a constant. Just below that (k ≈ 20–24 for |x| ~ 1) one float32 ulp of x moves the argument by
  ~π·2^k·1.2e-7 ≈ 0.4–6 rad, so those bands are a pseudo-random function of x's low bits in both modes.
  In short: float32 = pseudo-random high bands (official, bit-faithful); float64 = pseudo-random middle
  bands and constant top bands. The switch exists to measure whether that matters, not to "fix" Γ.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from hmr_bench.errors import InputError

PE_FLAVOURS = ("official", "paper")
PE_PRECISIONS = ("float32", "float64")


def pe_num_bands(num_freqs: int, flavour: str = "official") -> int:
    """Number of frequency bands: L (`official`) or L + 1 (`paper`)."""
    if flavour not in PE_FLAVOURS:
        raise InputError("positional encoding", "flavour", found=repr(flavour), expected=f"one of {PE_FLAVOURS}")
    if not isinstance(num_freqs, int) or num_freqs < 0:
        raise InputError("positional encoding", "num_freqs", found=repr(num_freqs), expected="an int ≥ 0")
    return num_freqs if flavour == "official" else num_freqs + 1


def pe_dim(num_freqs: int, flavour: str = "official", d_in: int = 3) -> int:
    """Output width of Γ: d_in·(1 + 2·bands), e.g. 195 for (32, official), 201 for (32, paper)."""
    return d_in * (1 + 2 * pe_num_bands(num_freqs, flavour))


class PositionalEncoding(nn.Module):
    """Γ on the last axis. forward(x: (..., d_in)) -> (..., out_dim), dtype of x.

    Layout: x (d_in values), then for each band k: d_in sines then d_in cosines. Γ(0) = [0,0,0, (0,0,0,1,1,1)×L].
    """

    def __init__(self, num_freqs: int = 32, flavour: str = "official", precision: str = "float32", d_in: int = 3):
        super().__init__()
        if precision not in PE_PRECISIONS:
            raise InputError("positional encoding", "precision", found=repr(precision),
                             expected=f"one of {PE_PRECISIONS}")
        self.num_freqs, self.flavour, self.precision, self.d_in = num_freqs, flavour, precision, d_in
        self.num_bands = pe_num_bands(num_freqs, flavour)
        self.out_dim = pe_dim(num_freqs, flavour, d_in)

    def _freqs(self, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(freqs32 (2K, 1), phases32 (2K, 1), freqs64 (K,)), made per call so that module.to(dtype) or
        .double() can never change them."""
        k = torch.arange(self.num_bands, dtype=torch.float64, device=device)
        # official: np.pi * 2.0 ** torch.arange(L) -> float32(π)·2^k exactly (a power-of-two scaling)
        freqs32 = torch.tensor(math.pi, dtype=torch.float32, device=device) * (2.0 ** k).float()
        phases32 = torch.tensor([0.0, math.pi / 2], dtype=torch.float32, device=device).repeat(self.num_bands)
        return freqs32.repeat_interleave(2).view(-1, 1), phases32.view(-1, 1), math.pi * 2.0 ** k

    def extra_repr(self) -> str:
        return f"num_freqs={self.num_freqs}, flavour={self.flavour}, precision={self.precision}, out={self.out_dim}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (..., d_in) -> (..., d_in·(1 + 2K))."""
        if x.shape[-1] != self.d_in:
            raise InputError("PositionalEncoding.forward", "x", found=f"shape {tuple(x.shape)}",
                             expected=f"shape (..., {self.d_in})")
        if self.num_bands == 0:
            return x
        lead = x.shape[:-1]
        freqs32, phases32, freqs64 = self._freqs(x.device)
        if self.precision == "float32":
            xe = x.float().unsqueeze(-2).expand(*lead, 2 * self.num_bands, self.d_in)
            enc = torch.sin(torch.addcmul(phases32, xe, freqs32))  # (..., 2K, d_in)
        else:
            arg = x.double().unsqueeze(-2) * freqs64.view(-1, 1)  # (..., K, d_in)
            enc = torch.stack([torch.sin(arg), torch.cos(arg)], dim=-2)  # (..., K, 2, d_in)
        return torch.cat([x, enc.reshape(*lead, -1).to(x.dtype)], dim=-1)
