"""Frozen-backbone training: cached features equal the backbone on the crops, batches come in the data loader's
order, only fusion + head train, and rows with the same seed start from the same head (common random numbers)."""

from __future__ import annotations

import math

import torch

from hmr_bench.body import load_body_model
from hmr_bench.data.images import normalize_crops
from hmr_bench.data.loader import collate_samples, make_loader
from hmr_bench.experiment.runner import run_table
from hmr_bench.models.build import build_model
from hmr_bench.store import ResultsStore
from hmr_bench.train.data import build_data
from hmr_bench.train.features import FeatureLoader, cached_features
from tests.train import cache_fixture, synth_root_fixture, tiny, tiny_config  # noqa: F401


def test_cached_features_are_the_backbone_on_the_uncropped_samples(cache):
    cfg = tiny_config(**{"train.backbone": "frozen"})
    data = build_data(cfg)
    model = build_model(cfg, load_body_model(cfg.body_model)).eval()
    feats = cached_features(model.backbone, data.val, "cpu", batch_size=5, workers=0)
    assert len(list((cache / "features").glob("*.pt"))) == 1
    batch = collate_samples([data.val[i] for i in range(len(data.val))])  # index i = SampleKey(i): no augmentation
    B, M = batch["crops"].shape[:2]
    with torch.no_grad():
        h = model.backbone(normalize_crops(batch["crops"].reshape(B * M, *batch["crops"].shape[2:]))).reshape(B, M, -1)
    torch.testing.assert_close(feats.tensors["features"], h, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(feats.tensors["bbox_info"], batch["bbox_info"])
    assert feats.lists["imgname"] == batch["imgname"]
    again = cached_features(model.backbone, data.val, "cpu")  # read back from the cache file
    torch.testing.assert_close(again.tensors["features"], feats.tensors["features"], atol=0, rtol=0)


def test_feature_batches_come_in_the_data_loaders_order(cache):
    cfg = tiny_config(**{"train.backbone": "frozen"})
    data = build_data(cfg)
    model = build_model(cfg, load_body_model(cfg.body_model))
    feats = cached_features(model.backbone, data.train, "cpu", workers=0)
    ref = make_loader(data.train, 8, shuffle=True, seed=3, workers=0, drop_last=True)
    ours = FeatureLoader(feats, 8, shuffle=True, seed=3, drop_last=True)
    for epoch in (0, 2):
        ref.sampler.set_epoch(epoch)
        ours.sampler.set_epoch(epoch)
        assert [k.index for k in ref.sampler] == [int(i) for b in ours for i in b["index"]]
    assert len(ours) == len(ref) == 4


def test_frozen_run_trains_fusion_and_head_only(cache):
    url = f"sqlite:///{cache / 'r.sqlite'}"
    over = tiny(**{"train.backbone": "frozen"})
    [outcome] = run_table("table2", "smoke", variants=["full"], store_url=url, overrides=over, progress=False)
    assert outcome.status == "finished"
    cfg = tiny_config(**{"train.backbone": "frozen"})
    start = build_model(cfg, load_body_model(cfg.body_model)).state_dict()  # the run's initial weights (seeded)
    trained = torch.load(cache / "runs" / outcome.config_hash / "best.pt", weights_only=True)["model"]
    for k, v in trained.items():
        if k.startswith("backbone."):
            torch.testing.assert_close(v, start[k], atol=0, rtol=0)
    assert any(not torch.equal(v, start[k]) for k, v in trained.items() if k.startswith("head."))
    metrics = {r["name"]: r["value"] for r in ResultsStore(url).metrics(split="test", status=None)}
    assert all(math.isfinite(metrics[k]) for k in ("mpjpe", "pa_mpjpe", "pve"))


def test_rows_with_one_seed_start_from_one_head():
    """The head's initial weights depend on the seed only, not on which fusion (and its parameters) the row has."""
    body = load_body_model("free")

    def head(fusion: str, seed: int) -> dict:
        cfg = tiny_config(**{"model.fusion": fusion, "train.seed": seed})
        return {k: v for k, v in build_model(cfg, body).state_dict().items() if k.startswith("head.")}

    a, b, c = head("raf-official", 0), head("none", 0), head("raf-official", 1)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_split_backbone_recomposes_and_a_trained_tail_sees_its_cached_inputs(cache):
    """head(x) → tail = forward_features(x); with train.tail_blocks = 1 the cache holds the tail's float16 input
    maps, decoding them equals the model on the crops (to float16 rounding), and only the tail's backbone
    parameters train (with their own learning rate)."""
    from hmr_bench.train.features import decode_features, freeze_backbone
    from hmr_bench.train.trainer import make_optimizer

    cfg = tiny_config(**{"train.tail_blocks": 1, "train.tail_lr_scale": 0.1})
    data = build_data(cfg)
    model = build_model(cfg, load_body_model(cfg.body_model)).eval()
    x = torch.randn(3, 24, 48, 36)
    head, tail = model.backbone.split(1)
    torch.testing.assert_close(tail(head(x)), model.backbone.forward_features(x), atol=0, rtol=0)
    assert len(list(tail.parameters())) == 3  # conv weight, BN weight and bias: one block

    feats = cached_features(model.backbone, data.val, "cpu", workers=0, tail_blocks=1)
    f = feats.tensors["features"]
    assert f.dtype == torch.float16 and f.ndim == 5 and f.shape[:2] == (len(data.val), cfg.data.num_rois)
    batch = collate_samples([data.val[i] for i in range(4)])
    with torch.no_grad():
        ref = model(normalize_crops(batch["crops"]), batch["bbox_info"])
        got = decode_features(model, f[:4], batch["bbox_info"], 1)
    torch.testing.assert_close(got.cam, ref.cam, atol=2e-2, rtol=2e-2)

    freeze_backbone(model, cfg)
    trained = {n for n, p in model.backbone.named_parameters() if p.requires_grad}
    assert trained == {"stages.3.3.weight", "stages.3.4.weight", "stages.3.4.bias"}
    groups = make_optimizer(model, cfg).param_groups
    assert [g["lr"] for g in groups] == [cfg.train.lr, cfg.train.lr * 0.1] and len(groups[1]["params"]) == 3
