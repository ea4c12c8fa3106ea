"""HRNet-W48/W32 with the PARE/Multi-RoI downsample-and-concat head (spec §3.1, [C:models/hrnet_re.py]).

Trunk = the official HRNet pose network (leoxiaobin/deep-high-resolution-net.pytorch `PoseHighResolutionNet`),
with its parameter names, so `pose_hrnet_w48_256x192.pth` loads key for key:

    conv1, bn1, conv2, bn2             stem: two 3×3 stride-2 convs, 64 channels (stride 4)
    layer1.{0..3}                      4 Bottlenecks 64 → 256
    transition1..3                     `transitionK.i.0` (same resolution) or `transitionK.i.0.0` (new branch)
    stage2/3/4.{m}.branches.i.b        1 / 4 / 3 modules, 4 BasicBlocks per branch, widths (w, 2w, 4w, 8w)
    stage2/3/4.{m}.fuse_layers.i.j     HRNet fusion (1×1 conv + BN + nearest upsample, or 3×3 stride-2 chain)

Differences from the official pose network, both as in PARE / Multi-RoI:
- the last stage-4 module keeps all four outputs (`multi_scale_output=True`), so `stage4.2.fuse_layers.1..3`
  are not in the COCO-pose checkpoint; the pose head `final_layer` is absent;
- head: branch 1 passes 3, branch 2 passes 2 and branch 3 passes 1 (3×3 stride-2 conv + BN + ReLU) blocks
  (`downsample_stage_1..3`), and the results are concatenated with branch 4: 15w channels (w48: 720, w32: 480)
  at stride 32 (8×6 for a 256×192 crop).
Init as the official `init_weights`: every conv N(0, 0.001), BN γ = 1, β = 0. BN momentum 0.1 throughout.
"""

from __future__ import annotations

import torch
from torch import nn

from hmr_bench.models.backbones.base import BACKBONES, Backbone, init_conv_bn
from hmr_bench.models.backbones.resnet import BasicBlock, Bottleneck


def _conv_bn(cin: int, cout: int, kernel: int, stride: int, relu: bool) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(cout, momentum=0.1)]
    return nn.Sequential(*layers, nn.ReLU(inplace=True)) if relu else nn.Sequential(*layers)


def _fuse(widths: list[int], j: int, i: int) -> nn.Module:
    """Map branch j's features to branch i's resolution and width (official `_make_fuse_layers`)."""
    if j == i:
        return nn.Identity()
    if j > i:
        return nn.Sequential(*_conv_bn(widths[j], widths[i], 1, 1, relu=False),
                             nn.Upsample(scale_factor=2 ** (j - i), mode="nearest"))
    steps = [_conv_bn(widths[j], widths[j], 3, 2, relu=True) for _ in range(i - j - 1)]
    return nn.Sequential(*steps, _conv_bn(widths[j], widths[i], 3, 2, relu=False))


class HighResolutionModule(nn.Module):
    """Parallel branches of BasicBlocks, then the exchange across resolutions.

    forward: list of n tensors (N, widths[i], H/2^i, W/2^i) → list of the same shapes (or only the first one
    when multi_scale_output is False).
    """

    def __init__(self, widths: list[int], num_blocks: int = 4, multi_scale_output: bool = True):
        super().__init__()
        n = len(widths)
        self.branches = nn.ModuleList(
            nn.Sequential(*[BasicBlock(w, w) for _ in range(num_blocks)]) for w in widths)
        self.fuse_layers = nn.ModuleList(
            nn.ModuleList(_fuse(widths, j, i) for j in range(n)) for i in range(n if multi_scale_output else 1))
        self.relu = nn.ReLU(inplace=False)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        xs = [branch(x) for branch, x in zip(self.branches, xs)]
        out = []
        for fuse in self.fuse_layers:
            y = fuse[0](xs[0])
            for j in range(1, len(xs)):
                y = y + fuse[j](xs[j])
            out.append(self.relu(y))
        return out


def _transition(pre: list[int], cur: list[int]) -> nn.ModuleList:
    """Official `_make_transition_layer`: keep / re-width existing branches, create new ones by stride-2 convs."""
    layers: list[nn.Module] = []
    for i, w in enumerate(cur):
        if i < len(pre):
            layers.append(nn.Identity() if w == pre[i] else _conv_bn(pre[i], w, 3, 1, relu=True))
        else:
            n_new = i + 1 - len(pre)
            layers.append(nn.Sequential(*[
                _conv_bn(pre[-1], w if k == n_new - 1 else pre[-1], 3, 2, relu=True) for k in range(n_new)]))
    return nn.ModuleList(layers)


def _apply_transition(transition: nn.ModuleList, xs: list[torch.Tensor]) -> list[torch.Tensor]:
    """Existing branch i takes xs[i]; a new branch takes the lowest-resolution output xs[-1]."""
    return [t(xs[i] if i < len(xs) else xs[-1]) for i, t in enumerate(transition)]


def _downsample_head(num_layers: int, width: int) -> nn.Sequential:
    """num_layers × (3×3 stride-2 conv + BN + ReLU), flat, as [C:hrnet_re.py::_make_downsample_layer]."""
    return nn.Sequential(*[m for _ in range(num_layers) for m in _conv_bn(width, width, 3, 2, relu=True)])


class PoseHighResolutionNet(Backbone):
    """HRNet-W{width} trunk + downsample-and-concat head. (N, 3, H, W) → (N, 15·width, H/32, W/32)."""

    stride = 32
    min_input = (32, 32)
    size_multiple = 32  # the fusion upsamples by 2^k and must meet the stride-2 path exactly

    def __init__(self, width: int, name: str, default_input: tuple[int, int] = (256, 192)):
        super().__init__()
        self.name, self.default_input = name, tuple(default_input)
        w = [width, 2 * width, 4 * width, 8 * width]
        self.conv1 = nn.Conv2d(3, 64, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64, momentum=0.1)
        self.conv2 = nn.Conv2d(64, 64, 3, 2, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(64, momentum=0.1)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = nn.Sequential(Bottleneck(64, 64), *[Bottleneck(256, 64) for _ in range(3)])
        self.transition1 = _transition([256], w[:2])
        self.stage2 = nn.Sequential(*[HighResolutionModule(w[:2]) for _ in range(1)])
        self.transition2 = _transition(w[:2], w[:3])
        self.stage3 = nn.Sequential(*[HighResolutionModule(w[:3]) for _ in range(4)])
        self.transition3 = _transition(w[:3], w)
        self.stage4 = nn.Sequential(*[HighResolutionModule(w) for _ in range(3)])
        self.downsample_stage_1 = _downsample_head(3, w[0])
        self.downsample_stage_2 = _downsample_head(2, w[1])
        self.downsample_stage_3 = _downsample_head(1, w[2])
        self.out_dim = sum(w)
        init_conv_bn(self, conv_std=0.001)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer1(self.relu(self.bn2(self.conv2(x))))
        xs = self.stage2(_apply_transition(self.transition1, [x]))
        xs = self.stage3(_apply_transition(self.transition2, xs))
        xs = self.stage4(_apply_transition(self.transition3, xs))
        return torch.cat([self.downsample_stage_1(xs[0]), self.downsample_stage_2(xs[1]),
                          self.downsample_stage_3(xs[2]), xs[3]], dim=1)


@BACKBONES.register("hrnet_w32")
def hrnet_w32(**kw) -> PoseHighResolutionNet:
    return PoseHighResolutionNet(32, name="hrnet_w32", **kw)


@BACKBONES.register("hrnet_w48")
def hrnet_w48(**kw) -> PoseHighResolutionNet:
    return PoseHighResolutionNet(48, name="hrnet_w48", **kw)
