"""HMR / CLIFF baselines: presets of the Multi-RoI builder at M = 1 — box inputs, shapes, state-dict layout."""

from __future__ import annotations

import pytest
import torch

from hmr_bench.errors import InputError
from hmr_bench.models.common import MODELS, ModelOutput
from hmr_bench.models.fusion import NoFusion
from hmr_bench.models.multiroi import MultiRoIModel, build_model

HW = (48, 36)


def _batch(B=3, seed=0):
    """(B, 1, 3, H, W) crops and (B, 1, 3) box codes: one RoI per sample."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, 1, 3, *HW, generator=g), torch.randn(B, 1, 3, generator=g) * 0.3


@pytest.mark.parametrize("kind, box_input", [("hmr", "none"), ("cliff", "own")])
def test_build_and_shapes(kind, box_input):
    torch.manual_seed(0)
    model = MODELS.build(kind, backbone="cnn-tiny").eval()
    assert isinstance(model, MultiRoIModel) and model.num_rois == 1
    assert isinstance(model.fusion, NoFusion) and model.projection is None
    assert model.head.box_input == box_input and model.head.regressor.fc1.out_features == 1024
    assert model.head.in_dim == 128 + (3 if kind == "cliff" else 0) + 157  # h, own box, θ_6d 144 + β 10 + C 3
    crops, bbox = _batch()
    out = model(crops, bbox)
    assert isinstance(out, ModelOutput)
    assert out.rotmat.shape == (3, 1, 24, 3, 3) and out.betas.shape == (3, 1, 10) and out.cam.shape == (3, 1, 3)
    assert out.embedding is None and out.fusion_weights is None and torch.equal(out.fused, out.features)


def test_hmr_ignores_the_box_and_cliff_uses_it():
    torch.manual_seed(0)
    hmr = MODELS.build("hmr", backbone="cnn-tiny").eval()
    cliff = MODELS.build("cliff", backbone="cnn-tiny").eval()
    crops, bbox = _batch()
    assert torch.equal(hmr(crops, bbox).cam, hmr(crops, bbox + 1).cam)
    assert not torch.allclose(cliff(crops, bbox).cam, cliff(crops, bbox + 1).cam)


@pytest.mark.parametrize("kind, box_input", [("cliff", "own"), ("hmr", "none")])
def test_a_preset_is_the_builder_call_it_names_and_keeps_the_baseline_state_dict_layout(kind, box_input):
    """Same init seed → the same weights as the explicit `build_model` call; the state dict holds the backbone and
    the head only (CLIFF's layout, and that of the checkpoints written before the baselines became presets)."""
    preset = MODELS.build(kind, backbone="cnn-tiny", init_seed=3)
    explicit = build_model("cnn-tiny", fusion="none", head="ief", projection=None, num_rois=1, box_input=box_input,
                           fc1_dim=1024, init_seed=3)
    a, b = preset.state_dict(), explicit.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert {k.split(".")[0] for k in a} == {"backbone", "head"}
    torch.manual_seed(7)
    other = build_model("cnn-tiny", fusion="none", projection=None, num_rois=1, box_input=box_input, fc1_dim=1024)
    other.load_state_dict(a, strict=True)  # loads into a model of other initial weights
    crops, bbox = _batch()
    preset.eval(), other.eval()
    assert torch.equal(preset(crops, bbox).cam, other(crops, bbox).cam)


def test_box_input_all_equals_own_at_m1():
    torch.manual_seed(0)
    own = build_model("cnn-tiny", fusion="none", projection=None, num_rois=1, box_input="own", fc1_dim=1024)
    torch.manual_seed(1)
    every = build_model("cnn-tiny", fusion="none", projection=None, num_rois=1, box_input="all", fc1_dim=1024)
    every.load_state_dict(own.state_dict())
    crops, bbox = _batch()
    own.eval()
    every.eval()
    assert torch.equal(own(crops, bbox).cam, every(crops, bbox).cam)


def test_bad_inputs():
    cliff = MODELS.build("cliff", backbone="cnn-tiny")
    crops, bbox = _batch()
    with pytest.raises(InputError, match="bbox_info"):
        cliff(crops, bbox[:2])
    with pytest.raises(InputError, match="crops"):
        cliff(crops[:, 0], bbox)  # (B, 3, H, W): the RoI axis is missing
    with pytest.raises(InputError, match=r"built for M = 1 RoIs"):
        cliff(torch.cat([crops, crops], 1), torch.cat([bbox, bbox], 1))  # M = 2 is not a single-RoI input
