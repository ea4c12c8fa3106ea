"""Shared fixtures of the model tests."""

import pytest


@pytest.fixture(autouse=True)
def _single_threaded(one_thread):
    """Every model test runs with one torch thread (`tests/conftest.py`)."""
