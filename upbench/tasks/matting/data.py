"""The matting task's splits: seeded synthetic composites, or Adobe Composition-1k."""

from __future__ import annotations

from typing import Any

import torch

from upbench.data.batching import flip_samples
from upbench.data.composition1k import Composition1kTest, Composition1kTrain, stack_items
from upbench.data.imagenet import normalize_chw
from upbench.data.matting_synthetic import synthetic_matting_split

KEYS = ("image", "fg", "bg", "alpha", "trimap")


def matting_batch(arrays: dict[str, torch.Tensor], flip: torch.Tensor | None):
    """``((normalised image, trimap / 255), targets)`` from batched tensors (``image`` in [0, 1],
    ``trimap`` uint8 0/128/255, ``alpha`` and, for training, ``fg`` / ``bg``); flips mirror all."""
    keys = [k for k in KEYS if k in arrays]
    flipped = dict(zip(keys, flip_samples(flip, *(arrays[k] for k in keys)), strict=True))
    image = torch.from_numpy(normalize_chw(flipped["image"].numpy()))
    trimap = flipped["trimap"].float()
    targets = {k: (v.float() if k == "trimap" else v) for k, v in flipped.items()}
    return (image, trimap / 255.0), targets


class TensorMattingSplit:
    """An in-memory split of batched tensors (see :func:`matting_batch`)."""

    def __init__(self, arrays: dict[str, torch.Tensor]) -> None:
        self.arrays = arrays

    def __len__(self) -> int:
        return self.arrays["image"].shape[0]

    def batch(self, indices, flip: torch.Tensor | None = None):
        idx = torch.as_tensor(indices, dtype=torch.long)
        return matting_batch({k: v[idx] for k, v in self.arrays.items()}, flip)


class FolderMattingSplit:
    """A lazily read Composition-1k split (training composites or the test set)."""

    def __init__(self, source: Composition1kTrain | Composition1kTest) -> None:
        self.source = source

    def __len__(self) -> int:
        return len(self.source)

    def batch(self, indices, flip: torch.Tensor | None = None):
        return matting_batch(stack_items([self.source.item(int(i)) for i in indices]), flip)


def make_split(dataset: Any, split: str, size: tuple[int, int] | list[int]):
    """The ``train`` / ``val`` split of a suite's matting ``dataset`` section at ``size``."""
    if dataset.kind == "synthetic":
        n = dataset.train_size if split == "train" else dataset.val_size
        return TensorMattingSplit(synthetic_matting_split(split, n, tuple(size), dataset.seed,
                                                          dataset.val_kernel))
    if split == "train":
        return FolderMattingSplit(Composition1kTrain(dataset.root, dataset.layout, tuple(size),
                                                     dataset.bg_per_fg, dataset.seed,
                                                     dataset.max_train))
    return FolderMattingSplit(Composition1kTest(dataset.root, dataset.layout, tuple(size),
                                                dataset.max_val))
