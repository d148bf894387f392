"""Fixtures shared by several test modules."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def one_thread():
    """Tiny kernels on a busy machine: torch's thread pool only adds barrier waits (up to 20x
    slower); the benchmark tests run at one thread (`pytestmark = usefixtures("one_thread")`)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
