"""bench.flops: MACs of a small conv net against hand-computed values, per-module MACs, parameter counts, and a
Multi-RoI model's per-part cost adding up to its one-call count."""

import pytest
import torch
from torch import nn

from hmr_bench.bench.flops import conv2d_macs, count_macs, count_params, linear_macs, macs_by_module
from hmr_bench.errors import InputError


class SmallNet(nn.Module):
    """16×16 RGB → conv 3→8 (3×3, pad 1) → depthwise 8 (3×3, stride 2) → conv 8→16 (1×1) → fc 16·8·8 → 10."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.dw = nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8)
        self.pw = nn.Conv2d(8, 16, 1)
        self.fc = nn.Linear(16 * 8 * 8, 10)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = self.pw(self.dw(x))
        return self.fc(x.flatten(1))


# By hand: out positions × MACs per position (biases, ReLU and adds are not counted)
CONV1 = 8 * 16 * 16 * 3 * 3 * 3      # 55 296
DW = 8 * 8 * 8 * 1 * 3 * 3           # 4 608 (each output channel sees one input channel)
PW = 16 * 8 * 8 * 8                  # 8 192
FC = 1024 * 10                       # 10 240


def test_small_conv_net_macs_match_hand_values():
    net = SmallNet()
    assert count_macs(net, torch.zeros(1, 3, 16, 16)) == CONV1 + DW + PW + FC == 78_336
    assert count_macs(net, torch.zeros(3, 3, 16, 16)) == 3 * 78_336


def test_hand_formulas():
    assert conv2d_macs(3, 8, (3, 3), (16, 16)) == CONV1
    assert conv2d_macs(8, 8, (3, 3), (8, 8), groups=8) == DW
    assert linear_macs(1024, 10) == FC and linear_macs(1024, 10, rows=4) == 4 * FC


def test_macs_by_module():
    net = SmallNet()
    per = macs_by_module(net, torch.zeros(2, 3, 16, 16))
    assert per == {"": 2 * 78_336, "conv1": 2 * CONV1, "dw": 2 * DW, "pw": 2 * PW, "fc": 2 * FC}


def test_count_macs_of_a_callable_and_bad_input():
    w = torch.zeros(5, 7)
    assert count_macs(lambda: torch.zeros(4, 5) @ w) == 4 * 5 * 7
    with pytest.raises(InputError, match="count_macs"):
        count_macs(3)


def test_count_params_counts_shared_once():
    net = SmallNet()
    by_hand = (8 * 27 + 8) + (8 * 9 + 8) + (16 * 8 + 16) + (1024 * 10 + 10)
    assert count_params(net) == by_hand
    tied = nn.Sequential(net.fc, net.fc)
    assert count_params(tied) == 1024 * 10 + 10
    net.fc.weight.requires_grad_(False)
    assert count_params(net, trainable_only=True) == by_hand - 10240


@pytest.mark.parametrize("shared", [False, True], ids=["crops", "shared"])
def test_model_cost_parts_add_up(shared):
    from hmr_bench.bench.flops import model_cost
    from hmr_bench.bench.inputs import bench_config, bench_model, synthetic_batch
    from hmr_bench.body import load_body_model

    body = load_body_model("free")
    cfg = bench_config("cnn-tiny", 2, shared=shared, overrides={"model.fc1_dim": 32})
    model = bench_model(cfg, body)
    cost = model_cost(model, body, synthetic_batch(cfg, 2), cfg)
    m = cost["macs"]
    assert m["end_to_end"] == sum(v for k, v in m.items() if k != "end_to_end")
    # ... and they are the MACs of the inference the speed benchmarks time (counted here through its own callable,
    # on the uint8 batch): RoI 0 decoded, no projection
    from hmr_bench.bench.inference import inference_fn

    assert count_macs(inference_fn(model, body, synthetic_batch(cfg, 2), cfg, "end-to-end")) == m["end_to_end"]
    assert m["projection"] == 0
    assert cost["macs_per_sample"] == m["end_to_end"] // 2
    assert cost["params"]["total"] == sum(p.numel() for p in model.parameters())
    if not shared:  # 4 crops through the backbone: 4 × its MACs on one crop
        one = count_macs(model.backbone, torch.zeros(1, 3, 48, 36))
        assert m["backbone"] == 4 * one


def test_ief_head_macs_match_a_hand_count():
    """IEFHead (feat 16, M = 5 RoIs, box_input 'all', fc1 32, fc2 1024, 3 iterations) on u: (B, M, 16): fc1's
    context columns (u_m and the 3M box codes) run once, its state columns, fc2 and the three output layers every
    iteration, on all B·M RoIs; the 6D → matrix step has no matmul."""
    from hmr_bench.models.head import IEFHead

    B, M, d, fc1, fc2, n_iter = 2, 5, 16, 32, 1024, 3
    pose, shape, cam = 24 * 6, 10, 3
    in_dim = d + 3 * M + (pose + shape + cam)  # [u_m, bbox_info of all 5 RoIs, θ, β, C] = 16 + 15 + 157
    assert in_dim == 188
    context = d + 3 * M
    by_hand = B * M * (context * fc1 + n_iter * ((in_dim - context) * fc1 + fc1 * fc2 + fc2 * (pose + shape + cam)))
    head = IEFHead(d, M, box_input="all", fc1_dim=fc1, n_iter=n_iter).eval()
    assert count_macs(head, torch.randn(B, M, d), torch.rand(B, M, 3)) == by_hand == 10 * 992 + 30 * (5024 + 32768
                                                                                                      + 160768)


class StridedNet(nn.Module):
    """Odd 11×13 input, dense conv 3→4 with a 3×5 kernel, stride (2, 3), padding (1, 2) → 6×5; a 1×1 conv 4→2 with
    stride 2 (no padding) → 3×3."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, (3, 5), stride=(2, 3), padding=(1, 2))
        self.b = nn.Conv2d(4, 2, 1, stride=2)

    def forward(self, x):
        return self.b(self.a(x))


def test_strided_padded_conv_macs_match_hand_values():
    # output size floor((n + 2·pad − k) / stride) + 1: h (11 + 2 − 3) / 2 + 1 = 6, w (13 + 4 − 5) // 3 + 1 = 5;
    # then h (6 − 1) // 2 + 1 = 3, w (5 − 1) // 2 + 1 = 3
    a = 4 * 6 * 5 * 3 * 3 * 5  # (out channels × out positions = 4 × 6 × 5 = 120) × (in channels × kernel = 45)
    b = 2 * 3 * 3 * 4
    out = StridedNet()(torch.zeros(1, 3, 11, 13))
    assert tuple(out.shape) == (1, 2, 3, 3)
    assert count_macs(StridedNet(), torch.zeros(2, 3, 11, 13)) == 2 * (a + b) == 2 * (5400 + 72)
