"""Shared fixtures of the model tests."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """Small tensor work on a 2-core machine is many times faster single-threaded (and deterministic)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
