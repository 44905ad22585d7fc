"""Helpers for building batches: in-memory splits and per-sample horizontal flips."""

from __future__ import annotations

import torch


def flip_samples(flip: torch.Tensor | None, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Mirror (last dimension) the samples where ``flip`` (bool, one per sample) is True, in
    every tensor alike; the inputs are not modified (a flipped batch is a copy)."""
    if flip is None or not bool(flip.any()):
        return tensors
    out = []
    for t in tensors:
        t = t.clone()
        t[flip] = t[flip].flip(-1)
        out.append(t)
    return tuple(out)


class TensorSplit:
    """An in-memory split (:class:`upbench.tasks.base.Split`) of images and dense targets.

    ``batch(indices, flip)`` → ``((images,), targets)``; a flip mirrors images and targets.
    """

    def __init__(self, images: torch.Tensor, targets: torch.Tensor) -> None:
        self.images, self.labels = images, targets

    def __len__(self) -> int:
        return self.images.shape[0]

    def batch(self, indices, flip: torch.Tensor | None = None
              ) -> tuple[tuple[torch.Tensor], torch.Tensor]:
        """The samples at ``indices`` (those with ``flip`` mirrored)."""
        idx = torch.as_tensor(indices, dtype=torch.long)
        x, y = flip_samples(flip, self.images[idx], self.labels[idx])
        return (x,), y
