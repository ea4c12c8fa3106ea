"""Frozen-backbone training (`train.backbone = "frozen"`): each split's backbone features computed once, cached,
and fed to fusion + head for as many steps as the budget allows.

    feats = cached_features(model.backbone, dataset, device)          # FeatureSet: features (N, M, d) + fields
    loader = FeatureLoader(feats, batch_size=32, shuffle=True, seed=0, drop_last=True)
    for batch in loader: ...                                           # like a DataLoader batch, "features"
                                                                       # in place of "crops"
Fusion, relation encoding, head, camera loss and M (what Tables 2–4 and Fig. 8 ablate) act after the backbone and
train normally; what is lost is every loss's gradient into the backbone. The contrastive loss then has no effect
at all: its embedding is computed from the frozen features and feeds nothing else, so a row without it is the
same run (the report marks such claims as not testable). `train.tail_blocks = n` keeps the last n conv blocks
training on cached inputs to them (cnn-* backbones), which gives it a path back; the cpu profile's card measures
both. The features are those of the un-augmented RoI crops (eval-mode backbone, BatchNorm running statistics), so
a frozen run sees each training sample the same way every epoch.

Cache: ``<cache>/features/<key>.pt``, key = sha256 of the dataset file, the sample layout (M, crop size, RoI and
rotation variants, input), the backbone's name and weights, and the code version; written atomically, read with
``weights_only=True``. The batch order is the normal loader's (`loader.EpochSampler`: (seed, epoch)), so a row
trains on the same batches as every other row of its seed.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import torch

from hmr_bench.body.source import file_sha256
from hmr_bench.data.images import normalize_crops
from hmr_bench.data.loader import EpochSampler, make_loader
from hmr_bench.errors import InputError
from hmr_bench.io import atomic_write
from hmr_bench.paths import cache_root

log = logging.getLogger(__name__)
IMAGE_KEYS = ("crops", "union", "roi_boxes_union", "smpl_vertices")  # not kept beside the features
BACKBONE_MODES = ("train", "frozen")


@dataclass
class FeatureSet:
    """A split as tensors: "features" (N, M, d) float32 and every other tensor field of its samples (N, ...);
    `lists`: the string fields (imgname, dataset, action, ...), N each."""

    tensors: dict[str, torch.Tensor]
    lists: dict[str, list]

    def __len__(self) -> int:
        return int(self.tensors["features"].shape[0])

    def batch(self, rows: torch.Tensor) -> dict:
        out = {k: v[rows] for k, v in self.tensors.items()}
        idx = rows.tolist()
        out.update({k: [v[i] for i in idx] for k, v in self.lists.items()})
        return out

    def to(self, device) -> FeatureSet:
        return FeatureSet({k: v.to(device) for k, v in self.tensors.items()}, self.lists)


class FeatureLoader:
    """Batches of a FeatureSet in the order a `make_loader` DataLoader would give (its `EpochSampler`)."""

    def __init__(self, feats: FeatureSet, batch_size: int, shuffle: bool, seed: int = 0, drop_last: bool = False):
        if batch_size < 1:
            raise InputError("FeatureLoader", "batch_size", found=batch_size, expected="a positive integer")
        self.feats, self.batch_size, self.drop_last = feats, int(batch_size), bool(drop_last)
        self.sampler = EpochSampler(len(feats), shuffle, seed)

    def __len__(self) -> int:
        n, b = len(self.feats), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self):
        rows = torch.tensor([k.index for k in self.sampler], dtype=torch.long)
        for i in range(len(self)):
            yield self.feats.batch(rows[i * self.batch_size:(i + 1) * self.batch_size])


def backbone_split(backbone: torch.nn.Module, tail_blocks: int) -> tuple[torch.nn.Module, torch.nn.Module | None]:
    """(frozen part, trained tail) of a backbone: the whole pooled backbone and None for tail_blocks = 0, else its
    `split` (conv blocks; the cnn-* backbones have one)."""
    if not tail_blocks:
        return backbone, None
    if not hasattr(backbone, "split"):
        raise InputError("config", "train.tail_blocks", found=f"{tail_blocks} with backbone {backbone.name!r}",
                         expected="0 (only the cnn-* backbones can be split into conv blocks)")
    return backbone.split(tail_blocks)


def decode_features(model: torch.nn.Module, features: torch.Tensor, bbox_info: torch.Tensor, tail_blocks: int,
                    roi: int | None = None):
    """ModelOutput of cached features: pooled (B, M, d) straight to fusion + head; the input maps of a trained tail
    (B, M, C, h, w) through the tail and the average pool first. `roi`: decode that RoI only (`model.decode`)."""
    if features.ndim == 5:
        B, M = features.shape[:2]
        tail = backbone_split(model.backbone, tail_blocks)[1]
        features = tail(features.flatten(0, 1).float()).mean(dim=(2, 3)).reshape(B, M, -1)
    return model.decode(features, bbox_info, roi)


def freeze_backbone(model: torch.nn.Module, cfg) -> None:
    """No gradients into `model.backbone` (it never runs during training: its features are cached) but into its
    last `train.tail_blocks` conv blocks. Raises InputError for a configuration a frozen backbone cannot serve."""
    if cfg.train.backbone not in BACKBONE_MODES:
        raise InputError("config", "train.backbone", found=repr(cfg.train.backbone),
                         expected=" | ".join(BACKBONE_MODES))
    if cfg.data.augment:
        raise InputError("config", "data.augment", found="true with train.backbone = 'frozen'",
                         expected="false: a frozen backbone's features are cached once, of the un-augmented crops")
    if cfg.model.shared_backbone:
        raise InputError("config", "train.backbone", found="'frozen' with model.shared_backbone = true",
                         expected="'train' (the shared-backbone mode RoIAligns a union image: nothing to cache)")
    model.backbone.requires_grad_(False)
    if cfg.train.tail_blocks:
        backbone_split(model.backbone, cfg.train.tail_blocks)[1].requires_grad_(True)


def feature_key(frozen: torch.nn.Module, dataset, tail_blocks: int = 0) -> str:
    """sha256 (16 hex) of what the features depend on (module docstring): `frozen` is the part that computes them."""
    from hmr_bench.config import code_version

    h = hashlib.sha256()
    h.update(file_sha256(dataset.npz_path).encode())
    h.update(repr(dataset.cfg).encode())
    h.update(f"{getattr(frozen, 'name', type(frozen).__name__)}|tail {tail_blocks}".encode())
    for k, v in sorted(frozen.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    h.update(code_version().encode())
    return h.hexdigest()[:16]


@torch.no_grad()
def extract_features(backbone: torch.nn.Module, dataset, device, batch_size: int = 64, workers: int | None = None,
                     progress=None, tail_blocks: int = 0) -> FeatureSet:
    """The backbone features (N, M, d) of every sample of `dataset` (as evaluated: no augmentation), and the
    sample's other fields; with `tail_blocks`, the input maps of the tail instead, (N, M, C, h, w) in float16.
    `progress`: a callable(done, total) or None."""
    backbone.eval()
    frozen, _ = backbone_split(backbone, tail_blocks)
    loader = make_loader(dataset, batch_size, shuffle=False, seed=0, workers=workers, device=device)
    parts: dict[str, list] = {}
    lists: dict[str, list] = {}
    done = 0
    for batch in loader:
        crops = batch["crops"].to(device)
        B, M = crops.shape[:2]
        x = normalize_crops(crops.reshape(B * M, *crops.shape[2:]))
        if tail_blocks:
            backbone.check_input(x)
            h = frozen(x).half()
        else:
            h = backbone(x).float()
        parts.setdefault("features", []).append(h.reshape(B, M, *h.shape[1:]).cpu())
        for k, v in batch.items():
            if k in IMAGE_KEYS:
                continue
            if torch.is_tensor(v):
                parts.setdefault(k, []).append(v)
            else:
                lists.setdefault(k, []).extend(v)
        done += B
        if progress is not None:
            progress(done, len(dataset))
    return FeatureSet({k: torch.cat(v) for k, v in parts.items()}, lists)


def cached_features(backbone: torch.nn.Module, dataset, device, batch_size: int = 64, workers: int | None = None,
                    progress=None, tail_blocks: int = 0) -> FeatureSet:
    """`extract_features`, cached under ``<cache>/features/`` (module docstring)."""
    key = feature_key(backbone_split(backbone, tail_blocks)[0], dataset, tail_blocks)
    path = cache_root() / "features" / f"{key}.pt"
    if path.exists():
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
            return FeatureSet(data["tensors"], data["lists"])
        except Exception as e:  # noqa: BLE001 (any unreadable cache file is recomputed, and said)
            log.warning("feature cache %s unreadable (%s): recomputing it", path, type(e).__name__)
    feats = extract_features(backbone, dataset, device, batch_size, workers, progress, tail_blocks)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda fh: torch.save({"tensors": feats.tensors, "lists": feats.lists}, fh))
    return feats


__all__ = ["BACKBONE_MODES", "FeatureLoader", "FeatureSet", "backbone_split", "cached_features", "decode_features",
           "extract_features", "feature_key", "freeze_backbone"]
