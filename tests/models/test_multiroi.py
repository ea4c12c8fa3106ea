"""The assembled Multi-RoI model (spec §3, §10): shapes, batching, gradients, training, shared backbone."""

from __future__ import annotations

import pytest
import torch

from hmr_bench.errors import InputError
from hmr_bench.models.backbones import BACKBONES
from hmr_bench.models.common import MODELS, select_eval_roi
from hmr_bench.models.fusion import FUSIONS
from hmr_bench.models.head import HEADS
from hmr_bench.models.multiroi import MultiRoIModel, build_model
from hmr_bench.models.roi_align import roi_align
from hmr_bench.registry import UnknownNameError

HW = (48, 36)  # cnn-tiny's default crop



def _batch(B=2, M=5, hw=HW, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, M, 3, *hw, generator=g), torch.randn(B, M, 3, generator=g) * 0.3


@pytest.mark.parametrize("backbone, d, reg_in, hw", [("resnet50", 2048, 2220, (256, 192)),
                                                     ("hrnet_w48", 720, 892, (64, 64))])
def test_spec_shapes_official_models(backbone, d, reg_in, hw):
    """Spec §10 at B = 2, M = 5. HR48 runs on 64×64 crops to keep the test short (its widths do not depend on
    the crop size); R50 on the rect crop 256×192."""
    torch.manual_seed(0)
    model = build_model(backbone, num_rois=5).eval()
    seen = {}
    model.backbone.register_forward_hook(lambda m, i, o: seen.update(bb_in=i[0].shape, h=o.shape))
    model.fusion.att.register_forward_hook(lambda m, i, o: seen.update(logits=o.shape))
    reg, iterate = model.head.regressor, model.head.regressor.iterate

    def recording_iterate(context, state, n_iter):  # the regressor's input x = [context, state...] per iteration
        seen["reg_in"] = (context.shape[0], context.shape[-1] + sum(state[n].shape[-1] for n in reg.names))
        return iterate(context, state, n_iter)

    reg.iterate = recording_iterate
    crops, bbox = _batch(hw=hw)
    with torch.no_grad():
        out = model(crops, bbox)
        seen["F"] = model.fusion.pair_features(out.features, bbox).shape
        seen["g"] = model.fusion.pair_projection(out.features, bbox).shape
    assert seen["bb_in"] == (10, 3, *hw) and seen["h"] == (10, d)
    assert seen["F"] == (2, 5, 5, d + 195)  # F[b, m, n] = [h_n, Γ(B_m − B_n)]
    assert seen["g"][-2:] == (5, 256) and seen["logits"].numel() == 10 * 5
    assert seen["reg_in"] == (10, reg_in) and reg.fc1.in_features == reg_in
    assert out.fused.reshape(10, -1).shape == (10, d) and out.features.shape == (2, 5, d)
    assert out.rotmat.reshape(10, 24, 3, 3).shape == (10, 24, 3, 3)
    assert out.betas.shape == (2, 5, 10) and out.cam.shape == (2, 5, 3) and out.embedding.shape == (2, 5, d)
    w = out.fusion_weights
    assert w.shape == (2, 5, 5) and (w >= 0.0327).all() and (w <= 0.6488).all()
    assert torch.allclose(w.sum(-1), torch.ones(2, 5), atol=1e-6)


def test_one_backbone_pass_sample_major():
    """All B·M crops in one backbone call, row b·M + m (so BatchNorm spans them); h[b, m] = backbone(crop[b, m])."""
    torch.manual_seed(0)
    model = build_model("cnn-tiny", num_rois=3)
    calls = []
    model.backbone.register_forward_hook(lambda m, i, o: calls.append(i[0].shape))
    crops, bbox = _batch(M=3)
    out = model(crops, bbox)
    assert calls == [(6, 3, *HW)]
    model.eval()
    out = model(crops, bbox)
    with torch.no_grad():
        for b in range(2):
            for m in range(3):
                assert torch.allclose(out.features[b, m], model.backbone(crops[b, m][None])[0], atol=1e-5)


@pytest.mark.parametrize("fusion", FUSIONS.names())
@pytest.mark.parametrize("head", HEADS.names())
def test_gradients_reach_every_parameter(fusion, head):
    torch.manual_seed(0)
    model = build_model("cnn-tiny", fusion=fusion, head=head, num_rois=3, fc1_dim=64,
                        projection="paper" if fusion == "mean" else "official")
    out = model(*_batch(M=3))
    g = torch.Generator().manual_seed(1)
    loss = sum((torch.randn(t.shape, generator=g) * t).sum() for t in (out.rotmat, out.betas, out.cam, out.embedding))
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.any())]
    assert not missing


def test_deterministic_for_fixed_seed():
    outs = []
    for _ in range(2):
        torch.manual_seed(123)
        model = build_model("cnn-tiny", num_rois=5)
        torch.manual_seed(7)  # dropout masks
        outs.append(model(*_batch()))
    for name in ("rotmat", "betas", "cam", "embedding", "fusion_weights"):
        assert torch.equal(getattr(outs[0], name), getattr(outs[1], name))


@pytest.mark.parametrize("fusion", FUSIONS.names())
def test_few_training_steps_decrease_loss(fusion):
    torch.manual_seed(0)
    model = build_model("cnn-tiny", fusion=fusion, num_rois=5, fc1_dim=256)
    crops, bbox = _batch(B=4)
    g = torch.Generator().manual_seed(2)
    # one target per sample (shared by its RoIs: `null`, `mean`, `absolute-pe` give every RoI the same u)
    target_cam = torch.randn(4, 1, 3, generator=g).expand(4, 5, 3)
    target_betas = torch.randn(4, 1, 10, generator=g).expand(4, 5, 10)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(8):
        out = model(crops, bbox)
        loss = torch.nn.functional.mse_loss(out.cam, target_cam) + torch.nn.functional.mse_loss(out.betas,
                                                                                                 target_betas)
        opt.zero_grad()
        loss.backward()
        opt.step()
        assert torch.isfinite(loss)
        losses.append(loss.item())
    assert sum(losses[-2:]) < 0.5 * sum(losses[:2])


def test_eight_rois():
    torch.manual_seed(0)
    model = build_model("cnn-tiny", num_rois=8)
    out = model(*_batch(M=8))
    assert out.rotmat.shape == (2, 8, 24, 3, 3) and out.fusion_weights.shape == (2, 8, 8)
    assert torch.allclose(out.fusion_weights.sum(-1), torch.ones(2, 8), atol=1e-6)


def test_select_eval_roi():
    torch.manual_seed(0)
    out = build_model("cnn-tiny", num_rois=5).eval()(*_batch())
    pred = select_eval_roi(out)
    assert torch.equal(pred.rotmat, out.rotmat[:, 0]) and torch.equal(pred.cam, out.cam[:, 0])
    assert pred.betas.shape == (2, 10)
    assert torch.equal(select_eval_roi(out, 3).cam, out.cam[:, 3])
    with pytest.raises(InputError, match="roi"):
        select_eval_roi(out, 5)


def test_no_projection_and_registry():
    model = build_model("cnn-tiny", projection=None, num_rois=2)
    assert model(*_batch(M=2)).embedding is None
    assert {"multiroi", "multiroi-shared", "hmr", "cliff"} <= set(MODELS.names())
    shared = MODELS.build("multiroi-shared", backbone="cnn-tiny", num_rois=2)
    assert isinstance(shared, MultiRoIModel) and shared.input_mode == "union"
    assert MODELS.build("multiroi", backbone="cnn-tiny", num_rois=2).input_mode == "crops"


def test_bad_inputs():
    model = build_model("cnn-tiny", num_rois=5)
    crops, bbox = _batch()
    with pytest.raises(InputError, match="bbox_info"):
        model(crops, bbox[:, :4])
    with pytest.raises(InputError, match="crops"):
        model(crops[:, :, :2], bbox)
    with pytest.raises(InputError, match="crops"):
        model(crops[:, 0], bbox)
    with pytest.raises(InputError, match=r"found shape \(2, 4, 128\).*built for M = 5 RoIs"):  # consistent, M = 4
        model(crops[:, :4], bbox[:, :4])
    with pytest.raises(UnknownNameError) as err:
        build_model("cnn-tiny", fusion="raf-offcial")
    assert "raf-official" in str(err.value) and "self-attention" in str(err.value)
    with pytest.raises(UnknownNameError, match="ief"):
        build_model("cnn-tiny", head="mesh")


# -------------------------------------------------------------------------------------------------------------
# shared-backbone (union image + RoIAlign) mode
# -------------------------------------------------------------------------------------------------------------

def _union_batch(B=2, M=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    image = torch.randn(B, 3, 96, 80, generator=g)
    x1 = torch.rand(B, M, generator=g) * 30
    y1 = torch.rand(B, M, generator=g) * 40
    boxes = torch.stack([x1, y1, x1 + 36 + 10 * torch.rand(B, M, generator=g), y1 + 48], dim=-1)
    return image, boxes, torch.randn(B, M, 3, generator=g) * 0.3


@pytest.mark.parametrize("M", [5, 8])
def test_shared_backbone_features_are_roi_aligned(M):
    torch.manual_seed(0)
    model = build_model("cnn-tiny", num_rois=M, shared_backbone=True).eval()
    assert model.roi_output_size == (3, 3)  # cnn-tiny (stride 16) on a 48×36 crop: 48→24→12→6→3, 36→…→3
    calls = []
    model.backbone.register_forward_hook(lambda m, i, o: calls.append("forward"))
    image, boxes, bbox = _union_batch(M=M)
    with torch.no_grad():
        out = model.forward_shared(image, boxes, bbox)
        feats = model.backbone.forward_features(image)
        assert not calls  # one forward_features pass, no per-crop pooled forward
        for b in range(2):
            for m in range(M):
                one = roi_align(feats[b:b + 1], torch.cat([torch.zeros(1), boxes[b, m]])[None], (3, 3),
                                spatial_scale=1 / 16, sampling_ratio=2, aligned=True)
                assert torch.allclose(out.features[b, m], one.mean(dim=(0, 2, 3)), atol=1e-5)
    assert out.rotmat.shape == (2, M, 24, 3, 3) and out.fusion_weights.shape == (2, M, M)
    # the rest of the model is the crop model's: decode(h) gives the same outputs
    with torch.no_grad():
        again = model.decode(out.features, bbox)
    assert torch.equal(again.cam, out.cam)


def test_shared_backbone_trains_and_roi_size_for_r50_crops():
    torch.manual_seed(0)
    model = build_model("cnn-tiny", num_rois=5, shared_backbone=True, fc1_dim=64)
    out = model.forward_shared(*_union_batch())
    (out.cam.square().sum() + out.embedding.square().sum()).backward()
    assert model.backbone.stages[0][0].weight.grad.any()

    class Stride32(torch.nn.Module):  # stands in for resnet50's attributes; never run
        out_dim, stride, default_input = 8, 32, (256, 192)

    assert build_model(Stride32(), num_rois=5).roi_output_size == (8, 6)


def test_shared_backbone_bad_inputs():
    model = build_model("cnn-tiny", num_rois=5, shared_backbone=True)
    image, boxes, bbox = _union_batch()
    with pytest.raises(InputError, match="roi_boxes"):
        model.forward_shared(image, boxes[..., :3], bbox)
    with pytest.raises(InputError, match="bbox_info"):
        model.forward_shared(image, boxes, bbox[:, :3])
    with pytest.raises(InputError, match="image"):
        model.forward_shared(image[:, :1], boxes, bbox)


def test_backbones_registered():
    assert {"cnn-tiny", "cnn-small", "resnet50", "hrnet_w48"} <= set(BACKBONES.names())
