"""L_cont (spec §4.2, Eq. 17, §10) against naive per-anchor loops in plain python."""

import math
import random

import pytest
import torch

from hmr_bench.errors import InputError
from hmr_bench.losses.contrastive import contrastive_loss, same_sample_mask
from hmr_bench.losses.total import NonFiniteLossError

TAU = 0.5


def random_z(seed, B=3, M=4, d=6):
    rng = random.Random(seed)
    return [[[rng.gauss(0, 1) for _ in range(d)] for _ in range(M)] for _ in range(B)]


def cos(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def naive(z, variant):
    """Per-anchor loop: official = SupCon ×τ, mean; paper = negatives-only denominator, mean, no ×τ."""
    rows = [(i, m, v) for i, sample in enumerate(z) for m, v in enumerate(sample)]
    losses = []
    for i, m, v in rows:
        pos = [cos(v, w) / TAU for j, n, w in rows if j == i and n != m]
        neg = [cos(v, w) / TAU for j, n, w in rows if j != i]
        denom = sum(math.exp(x) for x in (pos + neg if variant == "official" else neg))
        losses.append(-sum(x - math.log(denom) for x in pos) / len(pos))
    mean = sum(losses) / len(losses)
    return TAU * mean if variant == "official" else mean


@pytest.mark.parametrize("variant", ["official", "paper"])
@pytest.mark.parametrize("shape", [(3, 4, 6), (2, 5, 3)])
def test_equals_naive_loop(variant, shape):
    z = random_z(seed=sum(shape), B=shape[0], M=shape[1], d=shape[2])
    loss = contrastive_loss(torch.tensor(z, dtype=torch.float64), variant=variant)
    assert loss.item() == pytest.approx(naive(z, variant), rel=1e-12)


def test_variants_differ():
    z = torch.tensor(random_z(seed=5), dtype=torch.float64)
    assert abs(contrastive_loss(z, "official").item() - contrastive_loss(z, "paper").item()) > 1e-3


def test_identical_embeddings_spec_value():
    B, M = 3, 5
    z = torch.ones(B, M, 8, dtype=torch.float64)
    # spec §10: every logit equals the row max, D = B·M − 1 terms of e^0: L_i = −log(1/(B·M − 1))·τ
    assert contrastive_loss(z, "official").item() == pytest.approx(-math.log(1 / (B * M - 1)) * TAU, rel=1e-12)
    # paper: the denominator has the (B − 1)·M negatives only, no ×τ
    assert contrastive_loss(z, "paper").item() == pytest.approx(math.log((B - 1) * M), rel=1e-12)


def test_reduction_and_temperature_overrides():
    B, M = 3, 4
    z = torch.tensor(random_z(seed=7, B=B, M=M), dtype=torch.float64)
    mean = contrastive_loss(z, "paper").item()
    assert contrastive_loss(z, "paper", reduction="sum").item() == pytest.approx(B * M * mean, rel=1e-12)
    assert contrastive_loss(z, "paper", scale_by_temperature=True).item() == pytest.approx(TAU * mean, rel=1e-12)
    off = contrastive_loss(z, "official").item()
    assert contrastive_loss(z, "official", scale_by_temperature=False).item() == pytest.approx(off / TAU, rel=1e-12)
    with pytest.raises(InputError, match="reduction"):
        contrastive_loss(z, reduction="none")


def test_mask_is_kron_identity_ones():
    B, M = 3, 5
    mask = same_sample_mask(B, M)
    assert mask.shape == (15, 15)
    for k in range(B * M):
        for l in range(B * M):
            assert bool(mask[k, l]) == (k // M == l // M)


def test_scale_invariant_and_gradients_reach_every_roi():
    z = torch.tensor(random_z(seed=9), dtype=torch.float64, requires_grad=True)
    for variant in ("official", "paper"):
        loss = contrastive_loss(z, variant)
        assert contrastive_loss(3.0 * z, variant).item() == pytest.approx(loss.item(), rel=1e-12)
        (g,) = torch.autograd.grad(loss, z)
        assert torch.isfinite(g).all() and (g.abs().sum(-1) > 0).all()
    assert torch.autograd.gradcheck(lambda x: contrastive_loss(x, "paper"), (z,))


def test_needs_two_samples_and_two_rois():
    with pytest.raises(InputError, match="B ≥ 2"):
        contrastive_loss(torch.randn(1, 5, 4))
    with pytest.raises(InputError, match="M ≥ 2"):
        contrastive_loss(torch.randn(4, 1, 4))
    with pytest.raises(InputError, match="official.*paper"):
        contrastive_loss(torch.randn(2, 2, 4), variant="infonce")


def test_a_nan_anywhere_in_the_embeddings_reaches_the_loss():
    """The loss itself does not check (no device wait per step): a NaN in any embedding of any RoI, for both
    variants, must make the loss NaN, so the step's finiteness check (`check_finite`) names "cont"."""
    from hmr_bench.losses import check_finite

    for variant in ("official", "paper"):
        for b in range(2):
            for m in range(3):
                z = torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(3 * b + m))
                z[b, m, (b + m) % 4] = float("nan")
                loss = contrastive_loss(z, variant=variant)
                assert torch.isnan(loss), (variant, b, m)
                with pytest.raises(NonFiniteLossError, match="cont") as err:
                    check_finite({"cont": loss})
                assert err.value.names == ["cont"]
