"""What every backbone shares: the `BACKBONES` registry, the `Backbone` base class (input check, pooled
`forward`), `build_backbone` (registry + optional weights) and the weight initialisation. The backbones themselves
(`resnet`, `hrnet`, `small`) register in `BACKBONES` where they are defined; the package imports them all.
"""

from __future__ import annotations

import logging
import typing
from os import PathLike

import torch
from torch import nn

from hmr_bench.errors import InputError
from hmr_bench.registry import Registry

logger = logging.getLogger(__name__)

BACKBONES = Registry("backbone")


class Backbone(nn.Module):
    """Base class: the input check and the pooled `forward`; subclasses implement `_features`.

    Subclasses set `name`, `out_dim`, `stride`, `min_input` (H, W), `default_input` (H, W) and
    `size_multiple` (H and W must be multiples of it; 1 = any size).
    """

    name: str = "backbone"
    out_dim: int
    stride: int
    min_input: tuple[int, int]
    default_input: tuple[int, int]
    size_multiple: int = 1
    in_chans: int = 3  # input channels: 3 (RGB) or 24 (proxy heatmaps, `data.proxy`) where a backbone takes them

    def check_input(self, x: torch.Tensor) -> None:
        """Raises `InputError` unless x is (N, in_chans, H, W) with a crop size this backbone accepts."""
        shape = tuple(x.shape)
        ok = len(shape) == 4 and shape[1] == self.in_chans
        if ok:
            h, w = shape[2:]
            ok = h >= self.min_input[0] and w >= self.min_input[1] and h % self.size_multiple == 0 \
                and w % self.size_multiple == 0
        if not ok:
            need = f"(N, {self.in_chans}, H, W) with H ≥ {self.min_input[0]}, W ≥ {self.min_input[1]}"
            if self.size_multiple > 1:
                need += f", H and W multiples of {self.size_multiple}"
            raise InputError(self.name, "x (input crops)", found=f"shape {shape}",
                             expected=f"{need}; default crop {self.default_input}")

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, 3, H, W) ImageNet-normalised crops. Returns (N, d, h, w), h ≈ H / stride."""
        self.check_input(x)
        return self._features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, 3, H, W). Returns (N, d): global average pool of `forward_features`."""
        return self.forward_features(x).mean(dim=(2, 3))


def build_backbone(name: str, pretrained: str | PathLike | None = None, **kwargs) -> Backbone:
    """`BACKBONES.build(name, **kwargs)`, then, if `pretrained` is a checkpoint path, its weights loaded.

    The `LoadReport` of the load is logged and kept as `backbone.load_report`.
    """
    model = BACKBONES.build(name, **kwargs)
    if pretrained is not None:
        from hmr_bench.models.checkpoints import load_backbone_weights

        model.load_report = load_backbone_weights(model, pretrained)
        logger.info("%s: loaded %s (%s)", name, pretrained, model.load_report.summary())
    return model


def size_multiple(name: str) -> int:
    """The multiple that backbone `name`'s input H and W must be (its class's `size_multiple`, e.g. 32 for HRNet),
    read from the return annotation of its registered builder."""
    cls = typing.get_type_hints(BACKBONES.get(name)).get("return")
    return int(getattr(cls, "size_multiple", 1))


def init_conv_bn(module: nn.Module, conv_std: float | None = None) -> None:
    """Initialises every Conv2d in `module` (bias 0) and sets BatchNorm γ = 1, β = 0.

    conv_std None: N(0, sqrt(2/n)), n = k_h·k_w·out_channels (SPIN/torchvision ResNet);
    a number: N(0, conv_std) (HRNet uses 0.001).
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            nn.init.normal_(m.weight, 0.0, (2.0 / n) ** 0.5 if conv_std is None else conv_std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
