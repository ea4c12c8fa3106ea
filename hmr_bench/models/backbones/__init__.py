"""Image backbones (spec §3.1): one crop (N, 3, H, W), ImageNet-normalised, → one feature vector (N, d).

    BACKBONES.build("resnet50")                      # d = 2048, default crop (256, 192)
    build_backbone("hrnet_w48", pretrained="pose_hrnet_w48_256x192.pth")   # d = 720

Every backbone is a `Backbone`: attributes `out_dim` (d), `stride` (feature-map stride), `min_input` and
`default_input` ((H, W) crop sizes), `forward_features(x) -> (N, d, h, w)` and `forward(x) -> (N, d)`, the
global average pool of the features. A crop the backbone cannot take raises `InputError` in `forward`.
"""

from hmr_bench.models.backbones import hrnet, resnet, small  # noqa: F401  (each registers its builders)
from hmr_bench.models.backbones.base import BACKBONES, Backbone, build_backbone, init_conv_bn, size_multiple

__all__ = ["BACKBONES", "Backbone", "build_backbone", "init_conv_bn", "size_multiple"]
