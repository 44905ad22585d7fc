"""The segmentation task's splits: seeded synthetic scenes, or an on-disk dataset."""

from __future__ import annotations

from typing import Any

from upbench.data import FolderSegmentation, TensorSplit, synthetic_split

IGNORE_INDEX = 255  # label value dropped by the loss and the metrics (mmseg's)


def make_split(dataset: Any, split: str, size: tuple[int, int] | list[int]):
    """The ``train`` / ``val`` split of a suite's ``dataset`` section at input ``size``."""
    if dataset.kind == "synthetic":
        n = dataset.train_size if split == "train" else dataset.val_size
        x, y = synthetic_split(split, n, tuple(size), dataset.num_classes, dataset.seed,
                               dataset.max_things, dataset.small_objects)
        return TensorSplit(x, y)
    name = (dataset.train_split if split == "train" else dataset.val_split) or split
    limit = dataset.max_train if split == "train" else dataset.max_val
    return FolderSegmentation(dataset.root, dataset.format, name, dataset.num_classes, tuple(size),
                              dataset.reduce_zero_label, limit)
