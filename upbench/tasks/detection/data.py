"""The detection task's splits: seeded synthetic scenes, or COCO-format folders."""

from __future__ import annotations

from typing import Any

import torch

from upbench.data.coco import CocoDetection, flip_detection_batch
from upbench.data.detection_synthetic import synthetic_detection_split


class TensorDetectionSplit:
    """An in-memory split: ``batch(indices, flip)`` → ``((images,), [target dicts])``."""

    def __init__(self, images: torch.Tensor, targets: list[dict[str, torch.Tensor]],
                 category_ids: list[int]) -> None:
        self.images, self.targets, self.category_ids = images, targets, category_ids

    def __len__(self) -> int:
        return self.images.shape[0]

    def batch(self, indices, flip: torch.Tensor | None = None):
        """The samples at ``indices`` (those with ``flip`` mirrored, boxes too)."""
        idx = [int(i) for i in indices]
        return flip_detection_batch(self.images[idx], [self.targets[i] for i in idx], flip)


def make_split(dataset: Any, split: str, size: tuple[int, int] | list[int]):
    """The ``train`` / ``val`` split of a suite's detection ``dataset`` section at ``size``; its
    ``category_ids`` map labels 1..K back to the dataset's category ids."""
    if dataset.kind == "synthetic":
        n = dataset.train_size if split == "train" else dataset.val_size
        images, targets = synthetic_detection_split(split, n, tuple(size), dataset.num_classes,
                                                    dataset.seed, dataset.max_objects)
        return TensorDetectionSplit(images, targets, list(range(1, dataset.num_classes + 1)))
    train = CocoDetection(dataset.train_ann, dataset.train_images, tuple(size), dataset.max_train)
    if split == "train":
        return train
    return CocoDetection(dataset.val_ann, dataset.val_images, tuple(size), dataset.max_val,
                         category_ids=train.category_ids)
