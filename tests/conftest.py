"""Fixtures shared by every test folder."""

import pytest

from hmr_bench.train.perf import threads


@pytest.fixture()
def one_thread():
    """torch with one intra-op thread for the test, restored afterwards: small tensor work on a 2-core machine is
    many times faster single-threaded, and deterministic."""
    with threads(1):
        yield
