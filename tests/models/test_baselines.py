"""HMR / CLIFF baselines: box inputs, shapes, and equivalence with Multi-RoI at M = 1."""

from __future__ import annotations

import pytest
import torch

from hmr_bench.errors import InputError
from hmr_bench.models.baselines import SingleRoIModel
from hmr_bench.models.common import MODELS, ModelOutput
from hmr_bench.models.multiroi import build_model

HW = (48, 36)



def _batch(B=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, 3, *HW, generator=g), torch.randn(B, 3, generator=g) * 0.3


@pytest.mark.parametrize("kind, box_input", [("hmr", "none"), ("cliff", "own")])
def test_build_and_shapes(kind, box_input):
    torch.manual_seed(0)
    model = MODELS.build(kind, backbone="cnn-tiny").eval()
    assert isinstance(model, SingleRoIModel)
    assert model.head.box_input == box_input and model.head.regressor.fc1.out_features == 1024
    assert model.head.in_dim == 128 + (3 if kind == "cliff" else 0) + 157
    crops, bbox = _batch()
    out = model(crops, bbox)
    assert isinstance(out, ModelOutput)
    assert out.rotmat.shape == (3, 1, 24, 3, 3) and out.betas.shape == (3, 1, 10) and out.cam.shape == (3, 1, 3)
    assert out.embedding is None and out.fusion_weights is None and torch.equal(out.fused, out.features)
    # (B, 1, 3, H, W) / (B, 1, 3) inputs are the same thing
    out5 = model(crops[:, None], bbox[:, None])
    assert torch.equal(out5.cam, out.cam)


def test_hmr_ignores_the_box_and_cliff_uses_it():
    torch.manual_seed(0)
    hmr = MODELS.build("hmr", backbone="cnn-tiny").eval()
    cliff = MODELS.build("cliff", backbone="cnn-tiny").eval()
    crops, bbox = _batch()
    assert torch.equal(hmr(crops, bbox).cam, hmr(crops, bbox + 1).cam)
    assert torch.equal(hmr(crops).cam, hmr(crops, bbox).cam)
    assert not torch.allclose(cliff(crops, bbox).cam, cliff(crops, bbox + 1).cam)


@pytest.mark.parametrize("kind, box_input", [("cliff", "own"), ("hmr", "none")])
@pytest.mark.parametrize("train", [False, True])
def test_multiroi_m1_with_baseline_state_dict_is_identical(kind, box_input, train):
    """Multi-RoI(M = 1, fusion none, same box input, fc1 1024, no projection) = the baseline."""
    torch.manual_seed(0)
    base = MODELS.build(kind, backbone="cnn-tiny")
    torch.manual_seed(99)  # different initial weights, replaced by the state dict below
    multi = build_model("cnn-tiny", fusion="none", head="ief", projection=None, num_rois=1, box_input=box_input,
                        fc1_dim=1024)
    multi.load_state_dict(base.state_dict(), strict=True)
    base.train(train)
    multi.train(train)
    crops, bbox = _batch()
    torch.manual_seed(5)
    a = base(crops, bbox)
    torch.manual_seed(5)
    b = multi(crops[:, None], bbox[:, None])
    for name in ("rotmat", "betas", "cam", "features"):
        assert torch.equal(getattr(a, name), getattr(b, name))


def test_box_input_all_equals_own_at_m1():
    torch.manual_seed(0)
    own = build_model("cnn-tiny", fusion="none", projection=None, num_rois=1, box_input="own", fc1_dim=1024)
    torch.manual_seed(1)
    every = build_model("cnn-tiny", fusion="none", projection=None, num_rois=1, box_input="all", fc1_dim=1024)
    every.load_state_dict(own.state_dict())
    crops, bbox = _batch()
    own.eval()
    every.eval()
    assert torch.equal(own(crops[:, None], bbox[:, None]).cam, every(crops[:, None], bbox[:, None]).cam)


def test_bad_inputs():
    cliff = MODELS.build("cliff", backbone="cnn-tiny")
    crops, bbox = _batch()
    with pytest.raises(InputError, match="bbox_info"):
        cliff(crops)
    with pytest.raises(InputError, match="bbox_info"):
        cliff(crops, bbox[:2])
    with pytest.raises(InputError, match="crops"):
        cliff(crops[:, :2], bbox)
    with pytest.raises(InputError, match="crops"):
        cliff(torch.stack([crops, crops], 1), bbox)  # M = 2 is not a single-RoI input
