"""The depth task's splits: seeded synthetic rooms, or NYU-Depth-v2 in BTS's layout."""

from __future__ import annotations

from typing import Any

import torch

from upbench.data.batching import flip_samples
from upbench.data.depth_synthetic import synthetic_depth_split
from upbench.data.nyu import FolderDepth


class TensorDepthSplit:
    """An in-memory split: ``batch(indices, flip)`` → ``((images,), {"depth": depth})``."""

    def __init__(self, images: torch.Tensor, depth: torch.Tensor) -> None:
        self.images, self.depth = images, depth

    def __len__(self) -> int:
        return self.images.shape[0]

    def batch(self, indices, flip: torch.Tensor | None = None):
        """The samples at ``indices`` (those with ``flip`` mirrored)."""
        idx = torch.as_tensor(indices, dtype=torch.long)
        x, d = flip_samples(flip, self.images[idx], self.depth[idx])
        return (x,), {"depth": d}


def make_split(dataset: Any, split: str, size: tuple[int, int] | list[int]):
    """The ``train`` / ``val`` split of a suite's depth ``dataset`` section at ``size``."""
    if dataset.kind == "synthetic":
        n = dataset.train_size if split == "train" else dataset.val_size
        return TensorDepthSplit(*synthetic_depth_split(split, n, tuple(size), dataset.seed,
                                                       dataset.max_depth))
    lst = dataset.train_list if split == "train" else dataset.val_list
    limit = dataset.max_train if split == "train" else dataset.max_val
    return FolderDepth(dataset.root, lst, tuple(size), limit)
