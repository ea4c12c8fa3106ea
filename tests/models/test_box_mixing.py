"""Spec §8 items 17–18 as named variants: the official self-attention model's box-code mixing (`all-mixed`)
beside the correct `all`, and Table 3's note that the official HRNet model always encodes the boxes."""

import pytest
import torch

from hmr_bench.config import RunConfig, apply_overrides
from hmr_bench.models.head import IEFHead, box_block
from hmr_bench.models.multiroi import build_model
from hmr_bench.tables import load_table

B, M = 3, 5
# HMR_msa: bbox_info_all (B, M·3).repeat(1, M, 1).view(M·B, -1) → row r = b·M + m holds sample r mod B.
# By hand for B = 3, M = 5: r = 0..4 → 0 1 2 0 1; r = 5..9 → 2 0 1 2 0; r = 10..14 → 1 2 0 1 2.
SOURCE = [[0, 1, 2, 0, 1],
          [2, 0, 1, 2, 0],
          [1, 2, 0, 1, 2]]


def coded_boxes(b: int = B) -> torch.Tensor:
    """(b, M, 3) with value 100·sample + 10·roi + coordinate, so every number says where it came from."""
    s, m, c = torch.meshgrid(torch.arange(b), torch.arange(M), torch.arange(3), indexing="ij")
    return (100 * s + 10 * m + c).float()


def codes_of(sample: int) -> torch.Tensor:
    """The 15 box codes of one sample in RoI order: 100·sample + 10·m + c."""
    return torch.tensor([100.0 * sample + 10 * m + c for m in range(M) for c in range(3)])


def test_all_mixed_pins_the_official_mixing_for_b3_m5():
    mixed = box_block(coded_boxes(), "all-mixed")
    correct = box_block(coded_boxes(), "all")
    assert mixed.shape == correct.shape == (B, M, 3 * M)
    for b in range(B):
        for m in range(M):
            assert torch.equal(mixed[b, m], codes_of(SOURCE[b][m])), (b, m)
            assert torch.equal(correct[b, m], codes_of(b)), (b, m)


def test_all_mixed_equals_all_for_one_sample():
    assert torch.equal(box_block(coded_boxes(1), "all-mixed"), box_block(coded_boxes(1), "all"))


def test_head_row_sees_another_samples_boxes_only_when_mixed():
    torch.manual_seed(0)
    u, boxes = torch.randn(B, M, 8), torch.randn(B, M, 3)
    moved = boxes.clone()
    moved[2] += 1.0  # change sample 2's boxes only
    for box_input in ("all", "all-mixed"):
        head = IEFHead(8, M, box_input=box_input).eval()
        base, after = head(u, boxes).cam, head(u, moved).cam
        mixed = box_input == "all-mixed"
        assert (not torch.allclose(base[0, 2], after[0, 2])) == mixed  # SOURCE[0][2] = 2: sample 2's codes
        assert (not torch.allclose(base[2, 0], after[2, 0])) == (not mixed)  # SOURCE[2][0] = 1: not its own


def test_as_run_self_attention_is_declared_and_builds():
    want = {"model.fusion": "self-attention", "model.box_input": "all-mixed"}
    for table in ("discrepancies", "fig8"):
        row = load_table(table).row("self-attention-as-run")
        assert row.overrides == want, table
    assert "§8.17" in load_table("discrepancies").row("self-attention-as-run").label
    cfg = apply_overrides(RunConfig(), want)
    model = build_model("cnn-tiny", fusion=cfg.model.fusion, box_input=cfg.model.box_input, num_rois=M,
                        fc1_dim=64).eval()
    out = model(torch.rand(B, M, 3, 64, 48), coded_boxes() / 100)
    assert out.rotmat.shape == (B, M, 24, 3, 3)


def test_table3_declares_that_null_is_resnet50_only_in_the_official_code():
    table = load_table("table3")
    assert "NULL exists only for ResNet-50" in table.paper_setting and "§8.18" in table.paper_setting
    assert "null" in [r.name for r in table.rows]


@pytest.mark.parametrize("box_input", ["all", "all-mixed"])
def test_both_box_inputs_have_the_official_width(box_input):
    assert IEFHead(2048, M, box_input=box_input).regressor.fc1.in_features == 2220
