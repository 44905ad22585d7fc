"""The training data stream: a seeded batch order, sharded across processes, loaded in workers.

The order is drawn in the training process from one generator seeded by the cell's seed (a
permutation per epoch, then one flip draw per batch), so it does not depend on how many loader
workers or processes there are, and a resumed run replays it up to its checkpoint's iteration.
A batch key is ``(indices, flips)``; the split turns it into a batch (``Split.batch``) in the
training process (``train.workers: 0``) or in ``torch.utils.data.DataLoader`` workers (pinned
memory on CUDA, persistent workers), which see the same keys and therefore give the same
batches. With ``train.devices: N`` every process draws the same global order and takes its
contiguous ``batch_size / N`` share of each batch.
"""

from __future__ import annotations

import functools
import itertools
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

BatchKey = tuple[torch.Tensor, "torch.Tensor | None"]


def batch_keys(n: int, batch_size: int, gen: torch.Generator, flip: bool = False,
               shuffle: bool = True) -> Iterator[BatchKey]:
    """Endless seeded batch keys ``(indices, flips)`` (a new permutation per epoch; training
    drops the last partial batch unless the split is smaller than one batch); one pass in order
    with ``shuffle=False``."""
    if n == 0:
        raise ValueError("the split is empty: no samples to batch")
    while True:
        order = torch.randperm(n, generator=gen) if shuffle else torch.arange(n)
        stop = n - batch_size + 1 if shuffle and n >= batch_size else n
        for i in range(0, stop, batch_size):
            idx = order[i:i + batch_size]
            f = (torch.rand(len(idx), generator=gen) < 0.5) if flip else None
            yield idx, f
        if not shuffle:
            return


def with_seeds(keys: Iterator[BatchKey], seed: int, start: int = 0) -> Iterator[tuple]:
    """Keys ``(indices, flips, sample seeds)``: every sample of iteration ``start + i`` gets
    its augmentation seed (:func:`upbench.data.augment.sample_seeds`)."""
    from upbench.data.augment import sample_seeds

    for it, (idx, f) in enumerate(keys, start):
        yield idx, f, sample_seeds(seed, it, len(idx))


def shard(keys: Iterator[tuple], rank: int, world: int) -> Iterator[tuple]:
    """Process ``rank``'s contiguous share of every batch key (``world`` equal shares)."""
    for key in keys:
        per = len(key[0]) // world
        sl = slice(rank * per, (rank + 1) * per)
        yield tuple(t[sl] if t is not None else None for t in key)


def _load(split: Any, key: tuple, augment: Any) -> Any:
    batch = split.batch(key[0], key[1])
    if augment is not None:
        batch = augment(batch, key[2])
    return batch


class _KeyedBatches(torch.utils.data.Dataset):
    """A split indexed by batch keys (what a DataLoader worker calls)."""

    def __init__(self, split: Any, augment: Any = None) -> None:
        self.split, self.augment = split, augment

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, key: tuple) -> Any:
        return _load(self.split, key, self.augment)


def _seed_worker(base: int, worker_id: int) -> None:
    """Seed a loader worker's global RNGs from the cell's seed and the worker id (randomness
    inside ``Split.batch`` should come from the batch key; this makes any other reproducible)."""
    s = (base * 1000003 + worker_id) % 2**32
    torch.manual_seed(s)
    np.random.seed(s)
    random.seed(s)


def _identity(batch: Any) -> Any:
    return batch


def stream(split: Any, keys: Iterator[tuple], workers: int, device: torch.device,
           seed: int, augment: Any = None) -> Iterator[Any]:
    """Batches ``(inputs, targets)`` for keys ``(indices, flips[, sample seeds])``, augmented by
    ``augment(batch, seeds)`` when given: read in this process (``workers == 0``, the plain
    loop) or by a DataLoader with ``workers`` processes."""
    if workers == 0:
        return (_load(split, key, augment) for key in keys)
    loader = torch.utils.data.DataLoader(
        _KeyedBatches(split, augment), batch_size=None, sampler=_Keys(keys), num_workers=workers,
        collate_fn=_identity, pin_memory=device.type == "cuda", persistent_workers=True,
        prefetch_factor=2, worker_init_fn=functools.partial(_seed_worker, seed),
        generator=torch.Generator().manual_seed(seed))
    return iter(loader)


class _Keys(torch.utils.data.Sampler):
    """An endless key iterator as a DataLoader sampler (iterated once)."""

    def __init__(self, keys: Iterator[BatchKey]) -> None:
        self.keys = keys

    def __iter__(self) -> Iterator[BatchKey]:
        return self.keys


def skip(keys: Iterator[BatchKey], n: int) -> Iterator[BatchKey]:
    """``keys`` after its first ``n`` (a resumed run replays the order up to its checkpoint)."""
    for _ in itertools.islice(keys, n):
        pass
    return keys


__all__ = ["BatchKey", "batch_keys", "shard", "skip", "stream", "with_seeds"]
