"""The training loop's batches (:mod:`upbench.engine.train`): an empty split is an error, never
an endless loop."""

from __future__ import annotations

import pytest
import torch

from upbench.engine.train import batches


def test_empty_split_never_loops():
    class Empty:
        def __len__(self):
            return 0

    with pytest.raises(ValueError, match="empty"):
        next(batches(Empty(), 2, torch.Generator()))
