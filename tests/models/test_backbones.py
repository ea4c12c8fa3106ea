"""Backbones: shapes at B·M crops, parameter/MAC counts against published figures, key layouts, init,
backward coverage, determinism and the crop-size error."""

import re

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from hmr_bench.errors import InputError
from hmr_bench.models.backbones import BACKBONES, build_backbone
from hmr_bench.registry import UnknownNameError

B, M = 2, 5



@pytest.fixture(scope="module")
def built():
    """get(name): each backbone built once per module (seed 0, eval mode); tests must not train it."""
    cache = {}

    def get(name: str) -> nn.Module:
        if name not in cache:
            torch.manual_seed(0)
            cache[name] = build_backbone(name).eval()
        return cache[name]

    return get


@pytest.fixture(scope="module")
def big_outputs(built):
    """One forward_features of resnet50 and hrnet_w48 on B·M = 10 rect crops (the expensive part, done once)."""
    torch.manual_seed(0)
    x_all = torch.randn(B, 3 * M, 256, 192)           # RoIs stacked on channels, as the model receives them
    crops = x_all.view(B * M, 3, 256, 192)            # sample-major (spec §3.1)
    with torch.no_grad():
        return {name: built(name).forward_features(crops) for name in ("resnet50", "hrnet_w48")}


def _n_params(module: nn.Module, keep=lambda name: True) -> int:
    return sum(p.numel() for n, p in module.named_parameters() if keep(n))


def _macs(module: nn.Module, hw) -> float:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(torch.zeros(1, 3, *hw))
    return counter.get_total_flops() / 2


def test_registry_holds_every_backbone():
    assert BACKBONES.names() == ["cnn-small", "cnn-tiny", "hrnet_w32", "hrnet_w48", "resnet18", "resnet50"]
    with pytest.raises(UnknownNameError, match="resnet50"):
        build_backbone("resnet5O")


@pytest.mark.parametrize("name,dim", [("resnet50", 2048), ("hrnet_w48", 720)])
def test_big_backbones_at_bm_crops(big_outputs, built, name, dim):
    feats = big_outputs[name]
    assert built(name).out_dim == dim
    assert feats.shape == (B * M, dim, 8, 6)          # stride 32 on 256×192
    assert torch.isfinite(feats).all() and feats.abs().sum() > 0


@pytest.mark.parametrize("name,dim", [("resnet18", 512), ("cnn-small", 256), ("cnn-tiny", 128)])
def test_small_backbones_at_bm_crops(built, name, dim):
    model = built(name)
    h, w = model.default_input
    torch.manual_seed(1)
    x = torch.randn(B, 3 * M, h, w).view(B * M, 3, h, w)
    with torch.no_grad():
        feats, pooled = model.forward_features(x), model(x)
    assert model.out_dim == dim and pooled.shape == (10, dim)
    assert feats.shape == (10, dim, -(-h // model.stride), -(-w // model.stride))
    torch.testing.assert_close(pooled, feats.mean(dim=(2, 3)))


@pytest.mark.parametrize("name", BACKBONES.names())
def test_attributes_agree_with_the_feature_map(built, name):
    model = built(name)
    h, w = model.default_input
    assert h * 3 == w * 4                                         # the paper's 3:4 crop aspect
    with torch.no_grad():
        feats = model.forward_features(torch.randn(2, 3, 64, 64))
        pooled = model(torch.randn(2, 3, *model.min_input))
    assert feats.shape == (2, model.out_dim, 64 // model.stride, 64 // model.stride)
    assert pooled.shape == (2, model.out_dim)


def test_default_inputs(built):
    assert built("resnet50").default_input == (256, 192) and built("hrnet_w48").default_input == (256, 192)
    assert built("cnn-small").default_input == (64, 48) and built("cnn-tiny").default_input == (48, 36)


def test_resnet_parameter_counts_match_torchvision(built):
    # torchvision resnet50: 25,557,032 incl. fc (2048·1000 + 1000); resnet18: 11,689,512 incl. fc (512·1000 + 1000)
    assert _n_params(built("resnet50")) == 25_557_032 - 2_049_000 == 23_508_032
    assert _n_params(built("resnet18")) == 11_689_512 - 513_000


def _official_hrnet_key(name: str) -> bool:
    """Keys the official COCO-pose HRNet has (ours minus the new head and the extra stage-4 outputs)."""
    return not name.startswith("downsample_stage") and not re.match(r"stage4\.2\.fuse_layers\.[123]\.", name)


@pytest.mark.parametrize("name,width,published_m", [("hrnet_w48", 48, 63.6), ("hrnet_w32", 32, 28.5)])
def test_hrnet_trunk_matches_published_pose_hrnet_size(built, name, width, published_m):
    """HRNet paper, COCO pose table: pose_hrnet_w32 28.5M, pose_hrnet_w48 63.6M parameters (with its
    final_layer, a 1×1 conv width → 17 joints)."""
    model = built(name)
    official = _n_params(model, _official_hrnet_key) + width * 17 + 17
    assert round(official / 1e6, 1) == published_m
    assert model.out_dim == 15 * width


def test_hrnet_w48_key_layout_follows_official_checkpoint(built):
    """Names and shapes of pose_hrnet_w48_256x192.pth (leoxiaobin/deep-high-resolution-net.pytorch)."""
    sd = built("hrnet_w48").state_dict()
    expected = {
        "conv1.weight": (64, 3, 3, 3), "conv2.weight": (64, 64, 3, 3), "bn2.running_var": (64,),
        "layer1.0.downsample.0.weight": (256, 64, 1, 1), "layer1.3.conv3.weight": (256, 64, 1, 1),
        "transition1.0.0.weight": (48, 256, 3, 3), "transition1.1.0.0.weight": (96, 256, 3, 3),
        "transition2.2.0.0.weight": (192, 96, 3, 3), "transition3.3.0.0.weight": (384, 192, 3, 3),
        "stage2.0.branches.1.3.conv2.weight": (96, 96, 3, 3),
        "stage2.0.fuse_layers.0.1.0.weight": (48, 96, 1, 1), "stage2.0.fuse_layers.1.0.0.0.weight": (96, 48, 3, 3),
        "stage3.3.fuse_layers.2.0.0.0.weight": (48, 48, 3, 3), "stage3.3.fuse_layers.2.0.1.0.weight": (192, 48, 3, 3),
        "stage3.3.fuse_layers.2.0.1.1.running_mean": (192,), "stage4.2.branches.3.3.bn2.weight": (384,),
        "stage4.2.fuse_layers.0.3.0.weight": (48, 384, 1, 1), "stage4.2.fuse_layers.0.3.1.weight": (48,),
        # PARE/Multi-RoI additions
        "stage4.2.fuse_layers.3.0.2.0.weight": (384, 48, 3, 3),
        "downsample_stage_1.6.weight": (48, 48, 3, 3), "downsample_stage_1.7.weight": (48,),
        "downsample_stage_2.3.weight": (96, 96, 3, 3), "downsample_stage_3.0.weight": (192, 192, 3, 3),
    }
    assert {k: tuple(sd[k].shape) for k in expected if k in sd} == expected
    assert "transition2.0.0.weight" not in sd and "final_layer.weight" not in sd and "fc.weight" not in sd
    assert not any(re.search(r"fuse_layers\.(\d)\.\1\.", k) for k in sd)       # fuse i ← i is the identity
    assert "downsample_stage_3.3.weight" not in sd and "downsample_stage_4.0.weight" not in sd


def test_resnet_key_layout_is_torchvision(built):
    sd = built("resnet50").state_dict()
    assert tuple(sd["layer1.0.downsample.0.weight"].shape) == (256, 64, 1, 1)
    assert tuple(sd["layer4.2.conv3.weight"].shape) == (2048, 512, 1, 1)
    assert "layer2.0.downsample.1.running_mean" in sd and "layer1.1.downsample.0.weight" not in sd
    assert "fc.weight" not in sd and not any(k.startswith("avgpool") for k in sd)
    assert tuple(built("resnet18").state_dict()["layer3.0.conv1.weight"].shape) == (256, 128, 3, 3)


def test_resnet50_macs_match_published_figure(built):
    """torchvision resnet50: 4.09 GFLOPs (multiply-accumulates) at 224×224; the fc adds only 2.05M."""
    assert _macs(built("resnet50"), (224, 224)) == pytest.approx(4.09e9 - 2.048e6, abs=0.006e9)


def test_small_cnn_sizes(built):
    # 4 stages (3×3 s2 conv cin→c, 3×3 conv c→c), each conv followed by a BN (2c parameters)
    def count(widths):
        cins = (3, *widths[:-1])
        return sum(9 * ci * c + 9 * c * c + 4 * c for ci, c in zip(cins, widths))

    assert _n_params(built("cnn-small")) == count((32, 64, 128, 256))
    assert 1.1e6 < count((32, 64, 128, 256)) < 1.3e6
    assert _n_params(built("cnn-tiny")) == count((16, 32, 64, 128))
    assert 0.25e6 < count((16, 32, 64, 128)) < 0.35e6


def test_init(built):
    r18 = built("resnet18")
    w = r18.layer4[0].conv2.weight                       # n = 3·3·512
    assert w.std().item() == pytest.approx((2 / (9 * 512)) ** 0.5, rel=0.02)
    assert (r18.bn1.weight == 1).all() and (r18.layer4[1].bn2.bias == 0).all()
    bns = [m for m in built("cnn-small").modules() if isinstance(m, nn.BatchNorm2d)]
    assert all((m.weight == 1).all() and (m.bias == 0).all() and m.momentum == 0.1 for m in bns)


def test_hrnet_init_and_bn_momentum(built):
    model = built("hrnet_w32")
    assert model.downsample_stage_1[0].weight.std().item() == pytest.approx(0.001, rel=0.05)
    assert model.stage3[1].branches[2][0].conv1.weight.std().item() == pytest.approx(0.001, rel=0.05)
    assert all(m.momentum == 0.1 for m in model.modules() if isinstance(m, nn.BatchNorm2d))


@pytest.mark.parametrize("name,hw", [("cnn-tiny", None), ("cnn-small", None), ("resnet18", (64, 64)),
                                     ("hrnet_w32", (64, 64))])
def test_backward_reaches_every_parameter(name, hw):
    torch.manual_seed(0)
    model = build_backbone(name).train()
    x = torch.randn(2, 3, *(hw or model.default_input))
    model(x).square().sum().backward()
    dead = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert dead == []


@pytest.mark.parametrize("name,hw", [("cnn-small", None), ("resnet18", (64, 64))])
def test_deterministic_for_a_seed(name, hw):
    outs = []
    for _ in range(2):
        torch.manual_seed(123)
        model = build_backbone(name).eval()
        x = torch.randn(3, 3, *(hw or model.default_input))
        with torch.no_grad():
            outs.append(model(x))
    assert torch.equal(outs[0], outs[1])
    torch.manual_seed(124)
    with torch.no_grad():
        assert not torch.equal(build_backbone(name).eval()(x), outs[0])


def test_channels_last_gives_the_same_features():
    torch.manual_seed(0)
    model = build_backbone("cnn-small").eval()
    x = torch.randn(4, 3, 64, 48)
    with torch.no_grad():
        ref = model(x)
        got = model.to(memory_format=torch.channels_last)(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-5)


def test_bad_crop_size_errors(built):
    with pytest.raises(InputError, match=r"resnet50.*\(1, 3, 16, 16\).*H ≥ 32, W ≥ 32.*\(256, 192\)"):
        built("resnet50")(torch.zeros(1, 3, 16, 16))
    with pytest.raises(InputError, match=r"hrnet_w48.*\(2, 3, 250, 192\).*multiples of 32"):
        built("hrnet_w48")(torch.zeros(2, 3, 250, 192))
    with pytest.raises(InputError, match=r"cnn-tiny.*\(2, 15, 48, 36\).*\(N, 3, H, W\)"):
        built("cnn-tiny").forward_features(torch.zeros(2, 15, 48, 36))
    with torch.no_grad():
        assert built("resnet50")(torch.zeros(1, 3, 40, 33)).shape == (1, 2048)   # ResNet takes any size ≥ 32
