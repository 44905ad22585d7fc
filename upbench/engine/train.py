"""The task-agnostic train and evaluation loops of one cell.

The loops know nothing of a task: a split gives ``(inputs, targets)`` batches, the model gives its
losses (``training_losses``) and predictions (``predict``), the evaluator accumulates
(``update``/``compute``). The data order (a seeded permutation per epoch) and the random flips
come from one generator seeded by the cell's seed, so every upsampler of a suite sees the same
batches in the same order.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn


class Diverged(RuntimeError):
    """The training loss became NaN or infinite."""


def make_optimizer(model: nn.Module, cfg) -> torch.optim.Optimizer:
    """AdamW / Adam / SGD (momentum) from a suite's TrainConfig; no weight decay on norms/biases."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.dim() <= 1 else decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(groups, lr=cfg.lr)
    return torch.optim.AdamW(groups, lr=cfg.lr)


def lr_factor(it: int, cfg) -> float:
    """Multiplier of the base lr at iteration ``it`` (linear warm-up, then the schedule)."""
    if cfg.warmup_iters and it < cfg.warmup_iters:
        return (it + 1) / cfg.warmup_iters
    t = (it - cfg.warmup_iters) / max(1, cfg.iterations - cfg.warmup_iters)
    if cfg.schedule == "poly":
        return (1 - min(t, 1.0)) ** 0.9
    if cfg.schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))
    return 1.0


def to_device(obj: Any, device: torch.device) -> Any:
    """Tensors inside tuples, lists and dicts moved to ``device`` (other values as they are)."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(v, device) for v in obj)
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    return obj


def batches(split, batch_size: int, gen: torch.Generator, flip: bool = False,
            shuffle: bool = True) -> Iterator[tuple[tuple[torch.Tensor, ...], Any]]:
    """Endless seeded batches ``(inputs, targets)`` (a new permutation per epoch); one pass in
    order with ``shuffle=False``."""
    n = len(split)
    if n == 0:
        raise ValueError("the split is empty: no samples to batch")
    while True:
        order = torch.randperm(n, generator=gen) if shuffle else torch.arange(n)
        # training drops the last partial batch (unless the split is smaller than one batch)
        stop = n - batch_size + 1 if shuffle and n >= batch_size else n
        for i in range(0, stop, batch_size):
            idx = order[i:i + batch_size]
            f = (torch.rand(len(idx), generator=gen) < 0.5) if flip else None
            yield split.batch(idx, f)
        if not shuffle:
            return


class FitPasses:
    """A re-iterable ordered pass over the training split, for upsamplers' ``fit`` steps (each
    ``iter()`` starts a new pass, so a two-pass fit works); yields ``(inputs, targets)``."""

    def __init__(self, split, batch_size: int) -> None:
        self.split, self.batch_size = split, batch_size

    def __iter__(self) -> Iterator[tuple[tuple[torch.Tensor, ...], Any]]:
        return batches(self.split, self.batch_size, torch.Generator(), shuffle=False)

    def __len__(self) -> int:
        return math.ceil(len(self.split) / self.batch_size)


def _total(losses: dict[str, torch.Tensor]) -> torch.Tensor:
    if not losses:
        raise RuntimeError("the model returned no loss terms")
    it = iter(losses.values())
    total = next(it)
    for v in it:
        total = total + v
    return total


def train(model: nn.Module, split, cfg, seed: int, device: torch.device,
          on_iter: Callable[[int, int, float], None] | None = None) -> dict[str, Any]:
    """Train a task model on ``split`` for ``cfg.iterations`` iterations.

    Each iteration minimises the sum of ``model.training_losses(inputs, targets)``.

    Raises:
        Diverged: the loss became NaN/inf (with the iteration).
    """
    gen = torch.Generator().manual_seed(seed)
    model.to(device).train()
    t_fit = time.perf_counter()
    model.fit(FitPasses(split, cfg.batch_size))
    fit_time = time.perf_counter() - t_fit
    opt = make_optimizer(model, cfg)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda it: lr_factor(it, cfg))
    data = batches(split, cfg.batch_size, gen, flip=cfg.flip)
    curve, loss_v, terms = [], math.nan, {}
    every = max(1, cfg.iterations // 50)
    t0 = time.perf_counter()
    for it in range(cfg.iterations):
        inputs, targets = next(data)
        losses = model.training_losses(to_device(inputs, device), to_device(targets, device))
        loss = _total(losses)
        loss_v = float(loss.detach())
        if not math.isfinite(loss_v):
            raise Diverged(f"loss became {loss_v} at iteration {it + 1}/{cfg.iterations}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        if it % every == 0 or it == cfg.iterations - 1:
            curve.append([it + 1, loss_v])
            terms = {k: float(v.detach()) for k, v in losses.items()}
        if on_iter is not None:
            on_iter(it + 1, cfg.iterations, loss_v)
    train_time = time.perf_counter() - t0
    return {"iterations": cfg.iterations, "batch_size": cfg.batch_size, "time_s": train_time,
            "fit_time_s": fit_time, "final_loss": loss_v, "final_loss_terms": terms,
            "loss_curve": curve,
            "iters_per_s": cfg.iterations / train_time if train_time > 0 else None}


@torch.no_grad()
def evaluate(model: nn.Module, split, evaluator, batch_size: int,
             device: torch.device) -> dict[str, Any]:
    """Run ``model`` over ``split`` in order, feed ``model.predict`` of every batch to the
    evaluator and return ``evaluator.compute()``."""
    model.eval()
    try:
        for inputs, targets in batches(split, batch_size, torch.Generator(), shuffle=False):
            outputs = model(*to_device(inputs, device))
            evaluator.update(to_device(model.predict(outputs), torch.device("cpu")), targets)
    finally:
        model.train()
    return evaluator.compute()
