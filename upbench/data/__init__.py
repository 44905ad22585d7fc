"""Datasets: the seeded synthetic scenes and on-disk loaders, behind one small interface.

:func:`make_split` returns an object with ``len()`` and ``batch(indices) → (images, labels)``.
"""

from __future__ import annotations

import torch

from upbench.data.folder import FolderSegmentation, find_pairs
from upbench.data.synthetic import class_layout, synthetic_split


class TensorSplit:
    """An in-memory split: images (N, 3, H, W) and labels (N, H, W)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return self.images.shape[0]

    def batch(self, indices) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.as_tensor(indices, dtype=torch.long)
        return self.images[idx], self.labels[idx]


def make_split(dataset, split: str, size: tuple[int, int]):
    """The ``train`` / ``val`` split of a suite's ``dataset`` config at input ``size``."""
    if dataset.kind == "synthetic":
        n = dataset.train_size if split == "train" else dataset.val_size
        x, y = synthetic_split(split, n, tuple(size), dataset.num_classes, dataset.seed,
                               dataset.max_things, dataset.small_objects)
        return TensorSplit(x, y)
    name = (dataset.train_split if split == "train" else dataset.val_split) or split
    limit = dataset.max_train if split == "train" else dataset.max_val
    return FolderSegmentation(dataset.root, dataset.format, name, dataset.num_classes, tuple(size),
                              dataset.reduce_zero_label, limit)


__all__ = ["FolderSegmentation", "TensorSplit", "class_layout", "find_pairs", "make_split",
           "synthetic_split"]
