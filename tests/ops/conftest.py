"""The op tests run their kernels with two threads, also inside parallel test processes: the
CPU kernels' split of the work across threads is part of what they test."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _two_threads():
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(old)
