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
from pathlib import Path
from typing import Any

import torch
from torch import nn

from upbench.engine.checkpoint import CheckpointStore, rng_state, set_rng_state
from upbench.engine.loader import batch_keys, shard, skip, stream, with_seeds
from upbench.engine.precision import Precision, as_float32
from upbench.engine.trainlog import TrainLog


class Diverged(RuntimeError):
    """The training loss became NaN or infinite."""


def make_optimizer(model: nn.Module, cfg) -> torch.optim.Optimizer:
    """AdamW / Adam / SGD (momentum) from a suite's TrainConfig; no weight decay on norms/biases.

    ``cfg.lr_mult`` (``{name part: multiplier}``, e.g. ``{head: 10}`` as mmseg's
    ``custom_keys``) gives the parameters whose qualified name contains a key (the first that
    matches) ``lr × multiplier``.
    """
    mults = dict(getattr(cfg, "lr_mult", None) or {})
    groups: dict[tuple[bool, float], list[nn.Parameter]] = {(True, 1.0): [], (False, 1.0): []}
    for name, p in model.named_parameters():
        if p.requires_grad:
            mult = next((float(v) for k, v in mults.items() if k in name), 1.0)
            groups.setdefault((p.dim() > 1, mult), []).append(p)
    param_groups = []
    for (decay, mult), params in groups.items():
        if not params and mult != 1.0:
            continue
        group = {"params": params, "weight_decay": cfg.weight_decay if decay else 0.0}
        if mult != 1.0:
            group["lr"] = cfg.lr * mult
        param_groups.append(group)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(param_groups, lr=cfg.lr, momentum=cfg.momentum)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(param_groups, lr=cfg.lr)
    return torch.optim.AdamW(param_groups, lr=cfg.lr)


def lr_factor(it: int, cfg) -> float:
    """Multiplier of the base lr at iteration ``it``: linear warm-up over ``warmup_iters``
    (from ``(it + 1) / warmup_iters``, or from ``warmup_ratio`` as mmcv's linear warm-up), then
    the schedule: ``poly`` ((1 − t)^power), ``cosine``, ``step`` (× gamma at each of the
    ``milestones`` iterations) or ``constant``; poly and cosine end at ``min_lr_ratio``."""
    if cfg.warmup_iters and it < cfg.warmup_iters:
        ratio = getattr(cfg, "warmup_ratio", None)
        if ratio is None:
            return (it + 1) / cfg.warmup_iters
        return ratio + (1 - ratio) * it / cfg.warmup_iters
    t = (it - cfg.warmup_iters) / max(1, cfg.iterations - cfg.warmup_iters)
    floor = getattr(cfg, "min_lr_ratio", 0.0)
    if cfg.schedule == "poly":
        return floor + (1 - floor) * (1 - min(t, 1.0)) ** getattr(cfg, "power", 0.9)
    if cfg.schedule == "cosine":
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))
    if cfg.schedule == "step":
        return cfg.gamma ** sum(1 for m in cfg.milestones if it >= m)
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
    order with ``shuffle=False`` (the order of :func:`upbench.engine.loader.batch_keys`)."""
    for idx, f in batch_keys(len(split), batch_size, gen, flip, shuffle):
        yield split.batch(idx, f)


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


class _Losses(nn.Module):
    """``model.training_losses`` as a module's forward, so DistributedDataParallel wraps it."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: Any, targets: Any) -> dict[str, torch.Tensor]:
        return self.model.training_losses(inputs, targets)


def _check_devices(cfg, world: int) -> None:
    if cfg.batch_size % world:
        raise ValueError(f"train.batch_size ({cfg.batch_size}) must be a multiple of "
                         f"train.devices ({world})")


def train(model: nn.Module, split, cfg, seed: int, device: torch.device,
          on_iter: Callable[[int, int, float], None] | None = None, *,
          checkpoints: CheckpointStore | None = None, log_path: str | Path | None = None,
          on_log: Callable[[dict[str, Any]], None] | None = None, rank: int = 0,
          world: int = 1, augment: Callable[[Any, torch.Tensor], Any] | None = None
          ) -> dict[str, Any]:
    """Train a task model on ``split`` for ``cfg.iterations`` iterations.

    Each iteration minimises the sum of ``model.training_losses(inputs, targets)``, under the
    recipe's precision (:class:`~upbench.engine.precision.Precision`), on batches streamed by
    :func:`upbench.engine.loader.stream`. With ``checkpoints`` the run resumes from the newest
    checkpoint and saves one every ``cfg.checkpoint_every`` iterations and at the end; with
    ``log_path`` it writes its JSON-lines log (:class:`~upbench.engine.trainlog.TrainLog`),
    whose records also go to ``on_log``. ``rank``/``world`` > 1: one process of a
    DistributedDataParallel run (the process group is initialised by the caller; rank 0 alone
    writes checkpoints and the log). ``augment(batch, sample_seeds)``: the task's training
    augmentation (``train.augment``), applied where the batch is read.

    Raises:
        Diverged: the loss became NaN/inf (with the iteration).
        CheckpointMismatch: the newest checkpoint was written under another config.
    """
    gen = torch.Generator().manual_seed(seed)
    prec = Precision(getattr(cfg, "precision", "fp32"), device,
                     getattr(cfg, "channels_last", False))
    prec.prepare_model(model).train()
    t_fit = time.perf_counter()
    model.fit(FitPasses(split, cfg.batch_size))
    fit_time = time.perf_counter() - t_fit
    if world > 1:
        _check_devices(cfg, world)
        if getattr(cfg, "sync_bn", False):
            from upbench.engine.distributed import convert_sync_bn

            model = convert_sync_bn(model, device)
    opt = make_optimizer(model, cfg)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda it: lr_factor(it, cfg))
    curve, loss_v, terms, start, done_time = [], math.nan, {}, 0, 0.0
    state = checkpoints.load() if checkpoints is not None else None
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        prec.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        start = int(state["iteration"])
        rec = state["record"]
        curve, loss_v, terms = rec["loss_curve"], rec["final_loss"], rec["final_loss_terms"]
        done_time = rec["time_s"]
    keys = with_seeds(skip(batch_keys(len(split), cfg.batch_size, gen, flip=cfg.flip), start),
                      seed, start)
    if world > 1:
        keys = shard(keys, rank, world)
    data = stream(split, keys, getattr(cfg, "workers", 0), device, seed, augment)
    net: nn.Module = _Losses(model)
    if world > 1:
        net = nn.parallel.DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=True)
    log = TrainLog(log_path if rank == 0 else None, cfg.iterations, cfg.batch_size, start)
    every = max(1, cfg.iterations // 50)
    ckpt_every = getattr(cfg, "checkpoint_every", None)
    t0 = time.perf_counter()

    def record() -> dict[str, Any]:
        return {"iterations": cfg.iterations, "batch_size": cfg.batch_size,
                "time_s": done_time + time.perf_counter() - t0, "fit_time_s": fit_time,
                "final_loss": loss_v, "final_loss_terms": terms, "loss_curve": curve}

    try:
        for it in range(start, cfg.iterations):
            inputs, targets = next(data)
            inputs = prec.inputs(to_device(inputs, device))
            with prec.autocast():
                losses = net(inputs, to_device(targets, device))
                loss = _total(losses)
            loss_v = float(loss.detach())
            if world > 1:
                loss_v = _mean_across(loss.detach().float(), world)
            if not math.isfinite(loss_v):
                raise Diverged(f"loss became {loss_v} at iteration {it + 1}/{cfg.iterations}")
            opt.zero_grad(set_to_none=True)
            prec.backward_step(loss, opt, model.parameters(), cfg.grad_clip)
            lr = opt.param_groups[0]["lr"]
            sched.step()
            if it % every == 0 or it == cfg.iterations - 1:
                curve.append([it + 1, loss_v])
                terms = {k: float(v.detach()) for k, v in losses.items()}
            if log.due(it + 1):
                entry = log.record(it + 1, loss_v, {k: float(v.detach())
                                                    for k, v in losses.items()}, lr)
                if on_log is not None:
                    on_log(entry)
            if checkpoints is not None and rank == 0 and (
                    it + 1 == cfg.iterations or (ckpt_every and (it + 1) % ckpt_every == 0)):
                checkpoints.save(it + 1, {
                    "model": model.state_dict(), "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(), "scaler": prec.state_dict(),
                    "rng": rng_state(), "record": record()})
            if on_iter is not None:
                on_iter(it + 1, cfg.iterations, loss_v)
    finally:
        log.close()
    out = record()
    train_time = time.perf_counter() - t0
    out["iters_per_s"] = (cfg.iterations - start) / train_time if train_time > 0 else None
    if start:
        out["resumed_from"] = start
    if getattr(cfg, "precision", "fp32") != "fp32":
        out["precision"] = cfg.precision
    return out


def _mean_across(t: torch.Tensor, world: int) -> float:
    import torch.distributed as dist

    t = t.clone()
    dist.all_reduce(t)
    return float(t) / world


@torch.no_grad()
def evaluate(model: nn.Module, split, evaluator, batch_size: int,
             device: torch.device, precision: str = "fp32",
             channels_last: bool = False) -> dict[str, Any]:
    """Run ``model`` over ``split`` in order (under the training precision's autocast), feed
    ``model.predict`` of every batch, as float32, to the evaluator and return
    ``evaluator.compute()``."""
    prec = Precision(precision, device, channels_last)
    model.eval()
    try:
        for inputs, targets in batches(split, batch_size, torch.Generator(), shuffle=False):
            with prec.autocast():
                outputs = model(*prec.inputs(to_device(inputs, device)))
                predictions = model.predict(outputs)
            evaluator.update(as_float32(to_device(predictions, torch.device("cpu"))), targets)
    finally:
        model.train()
    return evaluator.compute()
