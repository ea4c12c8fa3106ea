"""Frozen-backbone training: cached features equal the backbone on the crops, batches come in the data loader's
order, only fusion + head train, and rows with the same seed start from the same head (common random numbers)."""

from __future__ import annotations

import math

import torch

from hmr_bench.body import load_body_model
from hmr_bench.data.images import normalize_crops
from hmr_bench.data.loader import collate_samples, make_loader
from hmr_bench.store import ResultsStore
from hmr_bench.train.data import build_data
from hmr_bench.train.features import FeatureLoader, cached_features
from hmr_bench.train.runner import run_table
from hmr_bench.train.trainer import build_model
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
