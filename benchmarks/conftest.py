"""Shared fixtures of the speed benchmarks: provenance, the body model, a small SynthHMR split.

Every benchmark writes its provenance into ``benchmark.extra_info`` (cores, load average, library versions,
sizes), so a figure in a saved benchmark JSON says where and how it was measured. The machine may be shared:
compare figures taken in one run, and read ``load_avg_1min`` beside each.
"""

from __future__ import annotations

import os
import platform

import pytest


def provenance(**sizes) -> dict:
    """Where and how a figure was measured: cores, load, versions, plus the given sizes."""
    import cv2
    import numba
    import numpy as np
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cores": cores,
        "load_avg_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "opencv": cv2.__version__,
        **sizes,
    }


@pytest.fixture(scope="session")
def body():
    from hmr_bench.body.model import load_body_model

    return load_body_model("free")


@pytest.fixture()
def one_torch_thread():
    """torch with one thread for the test, as in generation workers (restored afterwards)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def synth_split(tmp_path_factory):
    """A small SynthHMR dataset (256 train images at 256²) for the sample-assembly benchmark."""
    from hmr_bench.data.synth.generate import generate
    from hmr_bench.data.synth.scene import SynthConfig

    cfg = SynthConfig(image_size=(256, 256), n_train=256, n_val=0, n_test=0)
    return generate(cfg, root=tmp_path_factory.mktemp("synth_bench"), workers=1)
