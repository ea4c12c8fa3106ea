"""Shared fixtures of the speed benchmarks: provenance, the body model, a small SynthHMR split; the model
benchmarks' options, cases (`hmr_bench.bench.plan`) and the run's speed-record file (`hmr_bench.bench.results`).

Every benchmark stores its figures as speed records, each with its case and provenance (device, settings, cores,
load average, versions, git sha), in ``benchmark.extra_info["records"]`` (`bench.results.records`); when
pytest-benchmark saves, they go to ``<bench dir>/speed_<run>.jsonl``. The machine may be shared: compare figures
taken in one run, and read ``load_avg_1min`` beside each.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import pytest


def provenance(**case) -> dict:
    """Where and how a data-path figure was measured (on the CPU, no model settings): `bench.results.provenance`
    with the numpy / numba / OpenCV versions, scope "data", plus the case."""
    import cv2
    import numba
    import numpy as np

    from hmr_bench.bench.results import provenance as prov

    return prov("cpu", scope="data", precision=None, memory_format=None, compile=None, numpy=np.__version__,
                numba=numba.__version__, opencv=cv2.__version__, **case)


@pytest.fixture(scope="session")
def body():
    from hmr_bench.body.model import load_body_model

    return load_body_model("free")


@pytest.fixture()
def one_torch_thread():
    """torch with one thread for the test, as in generation workers (restored afterwards)."""
    from hmr_bench.train.perf import threads

    with threads(1):
        yield


@pytest.fixture(scope="session")
def synth_split(tmp_path_factory):
    """A small SynthHMR dataset (256 train images at 256²) for the sample-assembly benchmark."""
    from hmr_bench.data.synth.generate import generate
    from hmr_bench.data.synth.scene import SynthConfig

    cfg = SynthConfig(image_size=(256, 256), n_train=256, n_val=0, n_test=0)
    return generate(cfg, root=tmp_path_factory.mktemp("synth_bench"), workers=1)


# ------------------------------------------------------------------------------------- model benchmarks
# Options of the model benchmarks (inference, training, params/MACs); the data benchmarks ignore them.
#   pytest benchmarks --benchmark-only --benchmark-autosave [--bench-device cuda] [--bench-scale quick]
#       [--bench-amp bf16] [--bench-channels-last on] [--bench-compile] [--bench-backbones resnet50,cnn-small]
#       [--bench-threads 2] [--bench-dir .benchmarks]
# Results: pytest-benchmark's own JSON (autosave) and, written from it, <bench dir>/speed_<run>.jsonl: every
# figure of the run as a speed record (`hmr_bench.bench.results`), what the report reads.


def pytest_addoption(parser):
    g = parser.getgroup("hmr-bench model benchmarks")
    g.addoption("--bench-device", default=None, help="cpu | cuda[:i] (default: cuda when available)")
    g.addoption("--bench-scale", default=None, choices=("tiny", "quick", "full"),
                help="cases and rounds (hmr_bench.bench.plan; default: full on CUDA, quick on CPU)")
    g.addoption("--bench-amp", default=None, choices=("off", "bf16", "fp16"),
                help="autocast (default: bf16 on CUDA, off on CPU)")
    g.addoption("--bench-channels-last", default=None, choices=("on", "off"),
                help="channels_last weights (default: on for CUDA, off on CPU)")
    g.addoption("--bench-compile", action="store_true", help="torch.compile the models (inductor)")
    g.addoption("--bench-backbones", default=None, help="comma-separated backbones (default: the scale's)")
    g.addoption("--bench-threads", type=int, default=None, help="torch threads (default: every available core)")
    g.addoption("--bench-dir", default=None, help="where the speed records go (default <repo>/.benchmarks)")


@dataclass(frozen=True)
class BenchOptions:
    """The model benchmarks' settings, from the command line."""

    device: str
    scale: str
    amp: str
    channels_last: bool
    compile: bool
    backbones: tuple[str, ...] | None
    threads: int | None
    bench_dir: str | None

    @property
    def settings(self) -> dict:
        return {"amp": self.amp, "channels_last": self.channels_last, "compile": self.compile}

    def config(self, case):
        """The RunConfig of a `plan.Case` under these settings."""
        from hmr_bench.bench.inputs import bench_config

        return bench_config(case.backbone, case.num_rois, case.crop_size, shared=case.mode == "shared",
                            batch_size=case.batch, **self.settings)

    @property
    def rounds(self) -> tuple[int, int]:
        from hmr_bench.bench.plan import rounds

        return rounds(self.scale)


def bench_options(config) -> BenchOptions:
    import torch

    from hmr_bench.bench.plan import default_scale

    device = config.getoption("--bench-device") or ("cuda" if torch.cuda.is_available() else "cpu")
    cuda = device.startswith("cuda")
    cl = config.getoption("--bench-channels-last") or ("on" if cuda else "off")
    backbones = config.getoption("--bench-backbones")
    scale = config.getoption("--bench-scale") or default_scale("cuda" if cuda else "cpu")
    return BenchOptions(device=device, scale=scale,
                        amp=config.getoption("--bench-amp") or ("bf16" if cuda else "off"), channels_last=cl == "on",
                        compile=bool(config.getoption("--bench-compile")),
                        backbones=tuple(b for b in backbones.split(",") if b) if backbones else None,
                        threads=config.getoption("--bench-threads"), bench_dir=config.getoption("--bench-dir"))


def pytest_generate_tests(metafunc):
    """inference_case / training_case / cost_case: the cases of `hmr_bench.bench.plan` for the chosen scale."""
    from hmr_bench.bench import plan

    wanted = {"inference_case": plan.inference_cases, "training_case": plan.training_cases,
              "cost_case": plan.cost_cases}
    for name, cases_of in wanted.items():
        if name in metafunc.fixturenames:
            opts = bench_options(metafunc.config)
            cases = cases_of(opts.scale, opts.backbones)
            metafunc.parametrize(name, cases, ids=[c.id for c in cases])


@pytest.fixture(scope="session")
def bench_opts(request) -> BenchOptions:
    return bench_options(request.config)


@pytest.fixture(scope="session")
def bench_threads(bench_opts):
    """torch threads of the model benchmarks (every available core unless --bench-threads), restored after."""
    from hmr_bench.train.perf import set_threads

    before = set_threads(bench_opts.threads)
    yield
    set_threads(before)


@pytest.fixture(scope="session")
def body_on_device(bench_opts):
    from hmr_bench.body.model import load_body_model

    return load_body_model("free").to(bench_opts.device)


class ModelCache:
    """Eval-mode models and synthetic batches shared by the inference benchmarks (the last few kept)."""

    def __init__(self, body, opts: BenchOptions, keep: int = 3):
        self.body, self.opts, self.keep = body, opts, keep
        self._models, self._batches = {}, {}

    @staticmethod
    def _key(cfg) -> str:
        return json.dumps(cfg.to_dict(), sort_keys=True, default=str)

    def model(self, cfg):
        from hmr_bench.bench.inputs import bench_model

        key = self._key(dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, batch_size=1)))
        if key not in self._models:
            if len(self._models) >= self.keep:
                self._models.pop(next(iter(self._models)))
            self._models[key] = bench_model(cfg, self.body, self.opts.device, train=False)
        return self._models[key]

    def batch(self, cfg, size: int) -> dict:
        from hmr_bench.bench.inputs import synthetic_batch

        key = (self._key(cfg), size)
        if key not in self._batches:
            if len(self._batches) >= self.keep:
                self._batches.pop(next(iter(self._batches)))
            self._batches[key] = synthetic_batch(cfg, size, device=self.opts.device)
        return self._batches[key]


@pytest.fixture(scope="session")
def model_cache(body_on_device, bench_opts) -> ModelCache:
    return ModelCache(body_on_device, bench_opts)


def pytest_benchmark_update_machine_info(config, machine_info):
    """The model benchmarks' device and settings in pytest-benchmark's machine_info."""
    machine_info["hmr_bench"] = _run_provenance(config)


def _run_provenance(config) -> dict:
    from hmr_bench.bench.inputs import bench_config
    from hmr_bench.bench.results import provenance
    from hmr_bench.train.perf import threads

    opts = bench_options(config)
    with threads(opts.threads):  # the thread count the model benchmarks ran with
        return provenance(opts.device, bench_config("cnn-tiny", **opts.settings), scale=opts.scale)


RUN_KEY = pytest.StashKey[str]()


def pytest_benchmark_update_json(config, benchmarks, output_json):
    """Whenever pytest-benchmark writes its JSON (--benchmark-autosave / --benchmark-save / --benchmark-json): the
    run's speed records to <bench dir>/speed_<run>.jsonl (one file per session, however often it saves)."""
    from hmr_bench.bench.results import records_from_pytest_benchmark, run_id, write_records

    meta = output_json["machine_info"].get("hmr_bench") or _run_provenance(config)
    if RUN_KEY not in config.stash:
        config.stash[RUN_KEY] = run_id("bench", meta, output_json.get("datetime"))
    write_records(records_from_pytest_benchmark(output_json), config.stash[RUN_KEY], bench_options(config).bench_dir)
