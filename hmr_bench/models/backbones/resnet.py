"""ResNet-18/50 without the classifier, in torchvision's parameter layout (spec §3.1).

Keys: conv1, bn1, layer1..layer4 (BasicBlock / Bottleneck, `downsample.0` conv + `downsample.1` BN); no fc, so
a torchvision or mmpose (`backbone.` prefix) ResNet checkpoint loads unchanged. Stride 32; at the rect crop
256×192 the feature map is 8×6 and its mean equals SPIN/Multi-RoI's AvgPool2d((8, 6)).
"""

from __future__ import annotations

import torch
from torch import nn

from hmr_bench.models.backbones.base import BACKBONES, Backbone, init_conv_bn


def _downsample(inplanes: int, planes: int, stride: int) -> nn.Sequential | None:
    if stride == 1 and inplanes == planes:
        return None
    return nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))


class BasicBlock(nn.Module):
    """Two 3×3 convs + identity (torchvision `BasicBlock`). (N, inplanes, H, W) → (N, planes, H/s, W/s)."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _downsample(inplanes, planes, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1×1 → 3×3 (stride here, torchvision "v1.5") → 1×1 ×4 + identity. (N, inplanes, H, W) → (N, 4·planes, ...)."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _downsample(inplanes, planes * 4, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet(Backbone):
    """ResNet trunk: conv1 7×7 s2, maxpool 3×3 s2, layer1..4 (strides 1, 2, 2, 2). d = 512·expansion."""

    stride = 32
    min_input = (32, 32)

    def __init__(self, block: type[BasicBlock] | type[Bottleneck], layers: tuple[int, int, int, int],
                 name: str, default_input: tuple[int, int] = (256, 192)):
        super().__init__()
        self.name, self.default_input = name, tuple(default_input)
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes = 64
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), layers)):
            blocks = []
            for b in range(n):
                blocks.append(block(inplanes, planes, stride=2 if (b == 0 and i > 0) else 1))
                inplanes = planes * block.expansion
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
        self.out_dim = inplanes
        init_conv_bn(self)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


@BACKBONES.register("resnet18")
def resnet18(**kw) -> ResNet:
    return ResNet(BasicBlock, (2, 2, 2, 2), name="resnet18", **kw)


@BACKBONES.register("resnet50")
def resnet50(**kw) -> ResNet:
    return ResNet(Bottleneck, (3, 4, 6, 3), name="resnet50", **kw)
