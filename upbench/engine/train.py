"""Training and evaluation of one segmentation cell.

The data order (a seeded permutation per epoch) and the random flips come from one generator seeded
by the cell's seed, so every upsampler of a suite sees the same batches in the same order.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

IGNORE = 255


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


def batches(split, batch_size: int, gen: torch.Generator, flip: bool = False,
            shuffle: bool = True) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless seeded batches ``(images, labels)`` (a new permutation per epoch)."""
    n = len(split)
    while True:
        order = torch.randperm(n, generator=gen) if shuffle else torch.arange(n)
        # training drops the last partial batch (unless the split is smaller than one batch)
        stop = n - batch_size + 1 if shuffle and n >= batch_size else n
        for i in range(0, stop, batch_size):
            idx = order[i:i + batch_size]
            x, y = split.batch(idx)
            if flip:
                f = torch.rand(len(idx), generator=gen) < 0.5
                if f.any():
                    x, y = x.clone(), y.clone()
                    x[f], y[f] = x[f].flip(-1), y[f].flip(-1)
            yield x, y
        if not shuffle:
            return


class FitPasses:
    """A re-iterable ordered pass over the training split, for upsamplers' ``fit`` steps (each
    ``iter()`` starts a new pass, so a two-pass fit works)."""

    def __init__(self, split, batch_size: int) -> None:
        self.split, self.batch_size = split, batch_size

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return batches(self.split, self.batch_size, torch.Generator(), shuffle=False)

    def __len__(self) -> int:
        return math.ceil(len(self.split) / self.batch_size)


def train(model: nn.Module, split, cfg, seed: int, device: torch.device,
          on_iter: Callable[[int, int, float], None] | None = None) -> dict[str, Any]:
    """Train ``model`` on ``split`` for ``cfg.iterations`` iterations.

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
    curve, loss_v = [], math.nan
    every = max(1, cfg.iterations // 50)
    t0 = time.perf_counter()
    for it in range(cfg.iterations):
        x, y = next(data)
        x, y = x.to(device), y.to(device)
        logits = model(x)
        loss = F.cross_entropy(logits, y, ignore_index=IGNORE)
        extra = model.extra_losses(logits, y)
        for v in extra.values():
            loss = loss + v
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
        if on_iter is not None:
            on_iter(it + 1, cfg.iterations, loss_v)
    train_time = time.perf_counter() - t0
    return {"iterations": cfg.iterations, "batch_size": cfg.batch_size, "time_s": train_time,
            "fit_time_s": fit_time, "final_loss": loss_v, "loss_curve": curve,
            "iters_per_s": cfg.iterations / train_time if train_time > 0 else None}


@torch.no_grad()
def evaluate(model: nn.Module, split, metrics, batch_size: int,
             device: torch.device) -> dict[str, Any]:
    """Run ``model`` over ``split`` in order and return ``metrics.compute()``."""
    model.eval()
    for x, y in batches(split, batch_size, torch.Generator(), shuffle=False):
        logits = model(x.to(device))
        if logits.shape[-2:] != y.shape[-2:]:
            raise RuntimeError(f"model output {tuple(logits.shape)} does not match labels "
                               f"{tuple(y.shape)}")
        metrics.update(logits.argmax(1).cpu(), y)
    model.train()
    return metrics.compute()
