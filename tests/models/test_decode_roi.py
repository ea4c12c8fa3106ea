"""Inference decodes one RoI (`decode(..., roi=k)`): the same prediction as decoding every RoI and keeping RoI k
(the second method), for every head, box input and fusion, in both input modes and for the baselines."""

import pytest
import torch

from hmr_bench.errors import InputError
from hmr_bench.models import MODELS
from hmr_bench.models.common import select_eval_roi
from hmr_bench.models.fusion import FUSIONS
from hmr_bench.models.multiroi import build_model

B, M, D = 3, 5, 16


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, M, D, generator=g), torch.randn(B, M, 3, generator=g) * 0.3


def _same(one, full, k):
    a, b = select_eval_roi(one, k), select_eval_roi(full, k)
    for name in ("rotmat", "betas", "cam"):
        torch.testing.assert_close(getattr(a, name), getattr(b, name), rtol=1e-5, atol=1e-6)


class _Flat(torch.nn.Module):
    """A stand-in backbone: (N, 3, H, W) → (N, D) by a fixed linear map of the mean colour."""

    out_dim, stride, in_chans, default_input = D, 32, 3, (64, 48)

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, D)

    def forward_features(self, x):
        return self.lin(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    def forward(self, x):
        return self.forward_features(x).mean(dim=(2, 3))


@pytest.mark.parametrize("head", ["ief", "shared-mesh"])
@pytest.mark.parametrize("box_input", ["all", "own", "none", "all-mixed"])
@pytest.mark.parametrize("roi", [0, 3])
def test_decode_one_roi_equals_selecting_it(head, box_input, roi):
    model = build_model(backbone=_Flat(), head=head, box_input=box_input, num_rois=M, fc1_dim=32,
                        init_seed=0).eval()
    h, bbox = _inputs()
    with torch.no_grad():
        one, full = model.decode(h, bbox, roi), model.decode(h, bbox)
    assert one.roi == roi and one.rotmat.shape == (B, 1, 24, 3, 3) and one.embedding is None
    assert full.roi is None and full.rotmat.shape == (B, M, 24, 3, 3)
    _same(one, full, roi)
    torch.testing.assert_close(one.fused[:, 0], full.fused[:, roi])


@pytest.mark.parametrize("fusion", sorted(FUSIONS.names()))
def test_every_fusion_mixes_all_rois_before_the_one_roi_head(fusion):
    model = build_model(backbone=_Flat(), fusion=fusion, num_rois=M, fc1_dim=32, init_seed=1).eval()
    h, bbox = _inputs(1)
    h2 = h.clone()
    h2[:, 4] += 1.0  # another RoI's features change RoI 0's prediction exactly when the fusion mixes RoIs
    with torch.no_grad():
        _same(model.decode(h, bbox, 0), model.decode(h, bbox), 0)
        moved = (model.decode(h2, bbox, 0).cam - model.decode(h, bbox, 0).cam).abs().max()
    assert (moved > 0) == (fusion not in ("none",))


def test_shared_backbone_and_crops_paths_decode_one_roi():
    model = build_model(backbone=_Flat(), num_rois=M, fc1_dim=32, init_seed=2).eval()
    g = torch.Generator().manual_seed(2)
    crops, bbox = torch.randn(B, M, 3, 64, 48, generator=g), torch.randn(B, M, 3, generator=g) * 0.3
    union = torch.randn(B, 3, 96, 96, generator=g)
    boxes = torch.tensor([[4.0, 4.0, 60.0, 90.0]]).repeat(B, M, 1) + torch.arange(M).view(1, M, 1)
    with torch.no_grad():
        _same(model(crops, bbox, 2), model(crops, bbox), 2)
        _same(model.forward_shared(union, boxes, bbox, 1), model.forward_shared(union, boxes, bbox), 1)


@pytest.mark.parametrize("name", ["hmr", "cliff"])
def test_single_roi_baselines_accept_roi_zero_only(name):
    model = MODELS.build(name, backbone=_Flat(), fc1_dim=32, init_seed=0).eval()
    crops, bbox = torch.randn(B, 1, 3, 64, 48), torch.randn(B, 1, 3)
    with torch.no_grad():
        _same(model(crops, bbox, 0), model(crops, bbox), 0)
        with pytest.raises(InputError, match="roi"):
            model(crops, bbox, 1)


def test_selecting_another_roi_than_the_decoded_one_is_an_error():
    model = build_model(backbone=_Flat(), num_rois=M, fc1_dim=32, init_seed=0).eval()
    h, bbox = _inputs()
    with torch.no_grad(), pytest.raises(InputError, match="the only RoI decoded"):
        select_eval_roi(model.decode(h, bbox, 2), 0)
    with pytest.raises(InputError, match="an index in"):
        model.decode(h, bbox, M)
