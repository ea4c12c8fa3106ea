"""`hmr-bench pretrain`: a CLIFF run trained end to end, its backbone exported (float16) with a record."""

from __future__ import annotations

import hashlib
import json

import torch

from hmr_bench.experiment.pretrain import pretrain
from hmr_bench.models.backbones import build_backbone
from hmr_bench.models.checkpoints import load_backbone_weights
from tests.train import cache_fixture, synth_root_fixture, tiny  # noqa: F401


def test_pretrain_exports_the_best_checkpoints_backbone(cache, tmp_path):
    out = tmp_path / "bb.pt"
    extra = {k: v for k, v in tiny().items() if k not in ("train.epochs",)}
    record = pretrain("smoke", out, input="proxy", n_train=32, epochs=2, lr=1e-3, batch_size=8,
                      store_url=f"sqlite:///{tmp_path / 'r.sqlite'}", extra=extra, progress=False)
    assert record["overrides"]["data.input"] == "proxy" and record["overrides"]["train.backbone"] == "train"
    assert json.loads(out.with_suffix(".pt.json").read_text()) == record
    assert record["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert len(record["val_per_epoch"]) == 2 and set(record["test"]) >= {"mpjpe", "pa_mpjpe"}
    best = torch.load(cache / "runs" / record["config_hash"] / "best.pt", weights_only=True)["model"]
    exported = torch.load(out, weights_only=True)
    assert set(exported) == {k for k in best if k.startswith("backbone.")}
    for k, v in exported.items():
        assert v.dtype == (torch.float16 if best[k].is_floating_point() else best[k].dtype)
        torch.testing.assert_close(v.float(), best[k].float().half().float(), atol=0, rtol=0)
    bb = build_backbone("cnn-tiny", in_chans=24)
    load_backbone_weights(bb, out)  # loads into a 24-channel (proxy) backbone
    assert bb.stages[0][0].weight.shape[1] == 24
