"""The datasets of a run: SynthHMR (rendered and cached here) or real SPIN-format files under a data root.

Assembled here, above `data` and `eval`, because a run's test sets are named by evaluation protocol (each protocol
reads its dataset, with the ground truth its `data.eval_gt` convention scores against, checked before training).
The union-image size of the shared-backbone mode is the model's input (`models.build.union_crop`). With
`data.crop_on = "device"` every split's samples carry the decoded image instead of crops, and
`data.device_crops.cut_crops` cuts them where the batch reaches the device (`train.step`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from hmr_bench.config import RunConfig
from hmr_bench.data.dataset import SpinDataset
from hmr_bench.errors import InputError, check_variant
from hmr_bench.models.build import union_crop


@dataclass
class RunData:
    train: object
    val: object
    test: dict[str, object]  # protocol name → dataset
    val_protocol: str
    key: str  # identifies the data (part of the run's config hash)


def synth_config(cfg: RunConfig):
    """The SynthHMR preset `cfg.data.synth_profile` with the sizes `cfg.data` sets (None: the preset's)."""
    from hmr_bench.data.synth.scene import SYNTH_PROFILES

    d = cfg.data
    if d.synth_profile not in SYNTH_PROFILES:
        raise InputError("config", "data.synth_profile", found=repr(d.synth_profile),
                         expected="one of " + ", ".join(SYNTH_PROFILES))
    over = {k: getattr(d, k) for k in ("n_train", "n_val", "n_test", "difficulty") if getattr(d, k) is not None}
    if d.image_size is not None:
        over["image_size"] = (d.image_size, d.image_size)
    return dataclasses.replace(SYNTH_PROFILES[d.synth_profile], **over)


def build_data(cfg: RunConfig, data_root: str | Path | None = None, progress=None) -> RunData:
    from hmr_bench.eval.gt_choice import EVAL_GT

    d = cfg.data
    check_variant(d.eval_gt, EVAL_GT, "config", "data.eval_gt")  # now, not at the first evaluation
    if d.crop_on == "device" and cfg.train.backbone == "frozen":
        raise InputError("config", "data.crop_on", found="'device' with train.backbone='frozen'",
                         expected="crop_on='cpu': a frozen backbone's features are computed once per split from "
                                  "CPU crops (train.features), so there are no per-step crops to move to the device")
    common = dict(num_rois=d.num_rois, crop_size=tuple(d.crop_size), roi_variant=d.roi_variant, rotation=d.rotation,
                  union_crop=union_crop(cfg), input=d.input, crop_on=d.crop_on)
    if d.source == "synth":
        from hmr_bench.data.synth.generate import generate

        ds = generate(synth_config(cfg), body_source=cfg.body_model, progress=progress)
        train = SpinDataset(ds.npz("train"), ds.image_root, train=d.augment, **common)
        val = SpinDataset(ds.npz("val"), ds.image_root, train=False, **common)
        test = {"synth-test": SpinDataset(ds.npz("test"), ds.image_root, train=False, **common)}
        return RunData(train, val, test, "synth-test", key=ds.root.name)
    if d.source == "real":
        from hmr_bench.data.dataset import MixedDataset
        from hmr_bench.data.real import TRAIN_MIX, real_train_mix, resolve_real_datasets, spin_mix_ratios
        from hmr_bench.eval.gt_choice import check_gt_available, eval_protocol

        if data_root is None:
            raise InputError("config", "data.source", found="'real' without --data-root",
                             expected="--data-root DIR holding the SPIN-format npz files and images")
        protocols = {name: eval_protocol(name, d.eval_gt) for name in d.test_sets}
        # every file of every requested dataset checked at once: one error lists all that are missing
        paths = resolve_real_datasets([*d.train_sets, d.val_set, *(p.dataset for p in protocols.values())],
                                      data_root)

        def spin(name: str, train: bool) -> SpinDataset:
            npz, img = paths[name]
            return SpinDataset(npz, img, train=train and d.augment, name=name, **common)

        if set(d.train_sets) == set(TRAIN_MIX):
            train = real_train_mix(data_root, seed=cfg.train.seed, **common)
        elif len(d.train_sets) == 1:
            train = spin(d.train_sets[0], True)
        else:
            members = {n: spin(n, True) for n in d.train_sets}
            ratios = spin_mix_ratios({n: len(m) for n, m in members.items()})
            train = MixedDataset(list(members.values()), [ratios[n] for n in members], seed=cfg.train.seed)
        test = {name: spin(p.dataset, False) for name, p in protocols.items()}
        val = spin(d.val_set, False)
        for name, ds in test.items():  # before training: no split is scored against GT it does not hold
            check_gt_available(protocols[name], ds)
        check_gt_available(protocols[d.test_sets[0]], val)  # validation is scored with the first test protocol
        return RunData(train, val, test, d.test_sets[0], key="real:" + ",".join(d.train_sets) + "|" + d.val_set)
    raise InputError("config", "data.source", found=repr(d.source), expected="'synth' or 'real'")
