"""Small plain CNNs for the CPU profiles: `cnn-small` (≈1.2M parameters, d = 256) and `cnn-tiny` (≈0.3M, d = 128).

Four stages of (3×3 stride-2 conv + BN + ReLU, 3×3 conv + BN + ReLU), stride 16; only plain convolutions, so
they run well in channels_last. Default crops keep the paper's 3:4 aspect (256×192): 64×48 and 48×36.
"""

from __future__ import annotations

import torch
from torch import nn

from hmr_bench.errors import InputError
from hmr_bench.models.backbones.base import BACKBONES, Backbone, init_conv_bn


def _conv_bn_relu(cin: int, cout: int, stride: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class SmallCNN(Backbone):
    """Plain conv net. (N, in_chans, H, W) → (N, widths[-1], ⌈H/16⌉, ⌈W/16⌉)."""

    min_input = (16, 16)

    def __init__(self, widths: tuple[int, ...], name: str, default_input: tuple[int, int], in_chans: int = 3):
        super().__init__()
        self.name, self.default_input, self.in_chans = name, tuple(default_input), int(in_chans)
        self.stride = 2 ** len(widths)
        cins = (self.in_chans, *widths[:-1])
        self.stages = nn.Sequential(*[
            nn.Sequential(*_conv_bn_relu(cin, cout, 2), *_conv_bn_relu(cout, cout, 1))
            for cin, cout in zip(cins, widths)])
        self.out_dim = widths[-1]
        init_conv_bn(self)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(x)

    def split(self, tail_blocks: int) -> tuple[nn.Module, nn.Module]:
        """(head, tail): the conv blocks (conv + BN + ReLU, two per stage) but the last `tail_blocks`, and those,
        as Sequentials of this backbone's own modules; head(x) then tail gives `forward_features(x)`."""
        blocks = [nn.Sequential(*stage[i:i + 3]) for stage in self.stages for i in range(0, len(stage), 3)]
        if not 0 <= tail_blocks <= len(blocks):
            raise InputError(self.name, "tail_blocks", found=tail_blocks, expected=f"0..{len(blocks)} conv blocks")
        cut = len(blocks) - tail_blocks
        return nn.Sequential(*blocks[:cut]), nn.Sequential(*blocks[cut:])


@BACKBONES.register("cnn-small")
def cnn_small(**kw) -> SmallCNN:
    return SmallCNN((32, 64, 128, 256), name="cnn-small", default_input=kw.pop("default_input", (64, 48)), **kw)


@BACKBONES.register("cnn-tiny")
def cnn_tiny(**kw) -> SmallCNN:
    return SmallCNN((16, 32, 64, 128), name="cnn-tiny", default_input=kw.pop("default_input", (48, 36)), **kw)
