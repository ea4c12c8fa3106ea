"""Weighted total (spec §4.7), loss configuration and the non-finite check."""

import dataclasses

import pytest
import torch

from hmr_bench.config import LossConfig
from hmr_bench.errors import HmrBenchError, InputError
from hmr_bench.losses.total import (
    LOSS_VARIANTS,
    LossWeights,
    NonFiniteLossError,
    check_finite,
    total_loss,
)

TERMS = {"keypoint": 0.2, "keypoint3d": 0.3, "vertex": 0.05, "pose": 0.7, "beta": 2.0, "cam": 0.011, "cont": 1.5}


def test_default_weights_are_spec_values():
    w = LossWeights()
    assert (w.keypoint, w.keypoint3d, w.vertex, w.pose, w.beta, w.cam, w.cont, w.scale) == \
        (5, 5, 1, 1, 0.001, 1, 0.1, 60)


def test_weighted_sum_equals_hand_sum():
    terms = {k: torch.tensor(v, dtype=torch.float64) for k, v in TERMS.items()}
    total, weighted = total_loss(terms)
    hand = 60 * (5 * 0.2 + 5 * 0.3 + 1 * 0.05 + 1 * 0.7 + 0.001 * 2.0 + 1 * 0.011 + 0.1 * 1.5)
    assert total.item() == pytest.approx(hand, rel=1e-12)
    assert weighted["cont"].item() == pytest.approx(60 * 0.1 * 1.5, rel=1e-12)
    assert sum(v.item() for v in weighted.values()) == pytest.approx(hand, rel=1e-12)
    custom = LossWeights(keypoint=1.0, cam=0.5, scale=1.0)
    total2, _ = total_loss({"keypoint": terms["keypoint"], "cam": terms["cam"]}, custom)
    assert total2.item() == pytest.approx(0.2 + 0.5 * 0.011, rel=1e-12)


def test_zero_weight_term_is_left_out_even_if_nan():
    terms = {"keypoint": torch.tensor(0.2), "cont": torch.tensor(float("nan"))}
    total, weighted = total_loss(terms, LossWeights(cont=0.0))
    assert "cont" not in weighted and total.item() == pytest.approx(60 * 5 * 0.2)


def test_unknown_term_and_nothing_weighted_are_errors():
    with pytest.raises(InputError, match="kp2d.*keypoint"):
        total_loss({"kp2d": torch.tensor(1.0)})
    with pytest.raises(InputError, match="non-zero weight"):
        total_loss({"cont": torch.tensor(1.0)}, LossWeights(cont=0.0))


def test_gradient_of_total_is_weighted():
    x = torch.tensor(0.3, requires_grad=True)
    total, _ = total_loss({"cam": x * x, "keypoint": x})
    total.backward()
    assert x.grad.item() == pytest.approx(60 * (1 * 2 * 0.3 + 5), rel=1e-6)


def test_check_finite_names_the_bad_terms():
    terms = {k: torch.tensor(v) for k, v in TERMS.items()}
    check_finite(terms)  # all finite: no error
    terms["cam"] = torch.tensor(float("nan"))
    terms["vertex"] = torch.tensor(float("inf"))
    with pytest.raises(NonFiniteLossError) as err:
        check_finite(terms)
    assert err.value.names == ["vertex", "cam"]
    assert "cam = nan" in str(err.value) and "vertex = inf" in str(err.value)
    assert "keypoint" not in err.value.names and isinstance(err.value, HmrBenchError)


def test_loss_config_validates_variants():
    cfg = LossConfig()
    assert (cfg.cam, cfg.cont, cfg.keypoint_weighting, cfg.reprojection_frame, cfg.vertex_norm) == \
        ("official", "official", "official", "crop", "l1")
    assert dataclasses.replace(cfg, cam="paper", cont="paper").cam == "paper"
    for name, valid in LOSS_VARIANTS.items():
        assert name in {f.name for f in dataclasses.fields(LossConfig)}
        for v in valid:
            LossConfig(**{name: v})
        with pytest.raises(InputError, match=".*".join(valid)):
            LossConfig(**{name: "nonsense"})
    with pytest.raises(InputError, match="spin"):
        LossConfig(openpose_weight=0.0)
    assert LossConfig(keypoint_weighting="spin", openpose_weight=0.0).openpose_weight == 0.0
    with pytest.raises(InputError, match="temperature"):
        LossConfig(temperature=0.0)
