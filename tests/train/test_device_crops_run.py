"""A run with `data.crop_on = "device"`: the trainer's `step.to_device` cuts the crops from the decoded images, and
the run's numbers are those of the CPU crops up to the ≤ 2 intensity levels the two samplers differ by
(tests/data/test_device_crops.py)."""

from __future__ import annotations

import pytest

from hmr_bench.train import step, trainer
from hmr_bench.train.data import build_data
from tests.data.test_device_crops import needs_cv2_5
from tests.train import cache_fixture, synth_root_fixture, tiny_config  # noqa: F401


def test_device_crops_run_end_to_end_like_cpu_crops(cache):
    results = {}
    for where in ("cpu", "device"):
        cfg = tiny_config(train__epochs=1, train__backbone="train", data__input="rgb", data__crop_on=where)
        data = build_data(cfg)
        if where == "device":
            raw = data.train[0]
            assert "crops" not in raw and "image" in raw  # the workers hand over the decoded image
        results[where] = trainer.train_run(cfg, data, where, progress=False).test["synth-test"]
    for metric, value in results["cpu"].items():
        assert results["device"][metric] == pytest.approx(value, rel=2e-3, abs=0.5), metric


@needs_cv2_5
def test_to_device_gives_a_device_batch_the_cpu_batch_keys(cache):
    from hmr_bench.data.loader import collate_samples

    batches = {}
    for where in ("cpu", "device"):
        data = build_data(tiny_config(train__backbone="train", data__input="rgb", data__crop_on=where))
        batches[where] = step.to_device(collate_samples([data.train[i] for i in range(2)]), "cpu")
    assert set(batches["device"]) == set(batches["cpu"])
    assert (batches["device"]["crops"].int() - batches["cpu"]["crops"].int()).abs().max() <= 2
