"""load_backbone_weights: mmpose / official-HRNet layouts, wrong architectures, pickle safety."""

import re

import pytest
import torch

from hmr_bench.errors import InputError
from hmr_bench.models.backbones import build_backbone
from hmr_bench.models.checkpoints import LoadReport, load_backbone_weights, read_state_dict


def _build(name: str, seed: int):
    torch.manual_seed(seed)
    return build_backbone(name).eval()


def test_mmpose_resnet50_checkpoint_roundtrip(tmp_path):
    src, dst = _build("resnet50", 0), _build("resnet50", 1)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert not torch.equal(src(x), dst(x))
    state = {f"backbone.{k}": v for k, v in src.state_dict().items()}
    state["keypoint_head.final_layer.weight"] = torch.zeros(17, 256, 1, 1)
    path = tmp_path / "pose_resnet.pth"
    torch.save({"meta": {"epoch": 210, "mmpose_version": "0.x"}, "state_dict": state}, path)

    report = load_backbone_weights(dst, path)
    assert isinstance(report, LoadReport)
    assert report.missing == [] and report.shape_mismatch == []
    assert report.unexpected == ["keypoint_head.final_layer.weight"]
    assert len(report.loaded) == len(src.state_dict())
    with torch.no_grad():
        assert torch.equal(src(x), dst(x))


def test_official_hrnet_pose_checkpoint_layout(tmp_path):
    """A fake pose_hrnet_w48_256x192.pth: the official keys (ours minus the downsample head and the extra
    stage-4 outputs) plus the pose head `final_layer` (17 joints)."""
    model = _build("hrnet_w48", 0)
    own = model.state_dict()
    new = re.compile(r"downsample_stage_\d\.|stage4\.2\.fuse_layers\.[123]\.")
    state = {k: torch.full_like(v, 0.25 + i % 7) if v.is_floating_point() else v
             for i, (k, v) in enumerate(own.items()) if not new.match(k)}
    state["final_layer.weight"], state["final_layer.bias"] = torch.zeros(17, 48, 1, 1), torch.zeros(17)
    path = tmp_path / "pose_hrnet_w48_256x192.pth"
    torch.save(state, path)

    report = load_backbone_weights(model, path)
    assert report.unexpected == ["final_layer.weight", "final_layer.bias"]
    missing = [k for k in own if new.match(k) and not k.endswith("num_batches_tracked")]
    assert report.missing == missing
    assert any(k.startswith("downsample_stage_1.") for k in missing)
    assert all(k.startswith(("downsample_stage_", "stage4.2.fuse_layers.")) for k in report.missing)
    after = model.state_dict()
    assert torch.equal(after["stage3.3.fuse_layers.2.0.1.0.weight"], state["stage3.3.fuse_layers.2.0.1.0.weight"])
    assert torch.equal(after["downsample_stage_1.0.weight"], own["downsample_stage_1.0.weight"])


def test_resnet18_checkpoint_into_resnet50_is_a_clear_error(tmp_path):
    path = tmp_path / "r18.pth"
    torch.save(_build("resnet18", 0).state_dict(), path)
    r50 = _build("resnet50", 0)
    before = r50.conv1.weight.clone()
    with pytest.raises(InputError) as e:
        load_backbone_weights(r50, path)
    msg = str(e.value)
    assert "r18.pth" in msg and "resnet50" in msg
    assert "layer1.0.conv1.weight: (64, 64, 3, 3) in the file vs (64, 64, 1, 1) in the model" in msg
    assert torch.equal(r50.conv1.weight, before)            # nothing was copied

    report = load_backbone_weights(r50, path, skip_mismatched=True)
    assert ("layer1.0.conv1.weight", (64, 64, 3, 3), (64, 64, 1, 1)) in report.shape_mismatch
    assert "conv1.weight" in report.loaded and "layer4.2.conv3.weight" in report.missing


def test_no_common_key_and_strict(tmp_path):
    model = _build("cnn-tiny", 0)
    path = tmp_path / "other.pt"
    torch.save({"model": {"encoder.weight": torch.zeros(3)}}, path)
    with pytest.raises(InputError, match=r"other\.pt.*no key in common with backbone 'cnn-tiny'.*encoder\.weight"):
        load_backbone_weights(model, path)
    good = tmp_path / "good.pt"
    torch.save({"backbone.extra": torch.zeros(1), **model.state_dict()}, good)
    assert load_backbone_weights(model, good).unexpected == ["extra"]
    with pytest.raises(InputError, match=r"unexpected keys \[extra\].*strict=True"):
        load_backbone_weights(model, good, strict=True)
    assert load_backbone_weights(model, good, prefix_map={}).unexpected == ["backbone.extra"]


def test_missing_file_and_non_checkpoint(tmp_path):
    model = _build("cnn-tiny", 0)
    with pytest.raises(InputError, match=r"nope\.pth.*no such file.*never downloads"):
        load_backbone_weights(model, tmp_path / "nope.pth")
    bad = tmp_path / "text.pth"
    bad.write_text("not a checkpoint")
    with pytest.raises(InputError, match=r"text\.pth"):
        load_backbone_weights(model, bad)
    torch.save([1, 2, 3], tmp_path / "list.pth")
    with pytest.raises(InputError, match=r"list\.pth.*no tensors"):
        read_state_dict(tmp_path / "list.pth")


class _Evil:
    """Unpickling this would create a file (a stand-in for running arbitrary code)."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_crafted_pickle_is_refused(tmp_path):
    target = tmp_path / "pwned.txt"
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"conv.weight": torch.zeros(1)}, "payload": _Evil(target)}, path)
    assert not target.exists()
    with pytest.raises(InputError, match=r"evil\.pth.*refused"):
        load_backbone_weights(_build("cnn-tiny", 0), path)
    assert not target.exists()
    torch.load(path, weights_only=False)                   # the payload is live: an unsafe load runs it
    assert target.exists()


def test_safetensors_and_build_backbone_pretrained(tmp_path):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    src = _build("cnn-small", 0)
    path = tmp_path / "small.safetensors"
    safetensors_torch.save_file({f"backbone.{k}": v.contiguous() for k, v in src.state_dict().items()}, str(path))
    torch.manual_seed(5)
    dst = build_backbone("cnn-small", pretrained=path).eval()
    assert dst.load_report.missing == [] and dst.load_report.unexpected == []
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        assert torch.equal(src(x), dst(x))
