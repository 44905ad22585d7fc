"""Several devices for one cell (``train.devices: N``): DistributedDataParallel training.

The cell's process (the driver of the cell) spawns N processes with
``torch.multiprocessing.spawn`` — one per device, torchrun-style: rank ``r`` uses ``cuda:r``
(NCCL) or, on CPU, a share of the cores (gloo) — joined by a TCP rendezvous on the loopback
interface only. Every process rebuilds the cell's data and model from its config (same seed:
same initial weights), draws the same global batch order and trains on its ``batch_size / N``
share; DDP averages the gradients, so the run follows the same loss curve as one process with the
global batch (exactly so with ``sync_bn`` or a network without batch norm). Rank 0 writes the
checkpoints and the training log, and hands the trained weights and the training record back to
the cell's process, which evaluates, profiles and returns the record: results are written once,
by the driver, as for every cell.

``sync_bn: true`` converts the batch norms to synchronised ones: ``torch.nn.SyncBatchNorm`` on
CUDA, :class:`GlooSyncBatchNorm` on CPU (torch's own supports only accelerators).
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from upbench.engine.numerics import cpu_numerics


class _AllReduceSum(torch.autograd.Function):
    """Sum over the process group; the gradient of every rank's input is the sum of the ranks'
    output gradients (each rank's loss depends on the global sum)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        y = x.clone()
        dist.all_reduce(y)
        return y

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        g = grad.clone()
        dist.all_reduce(g)
        return g


class GlooSyncBatchNorm(nn.BatchNorm2d):
    """Batch norm whose training statistics are the whole global batch's: per-channel sums,
    sums of squares and counts are all-reduced (differentiably) across the process group.
    Evaluation and single-process training behave as ``nn.BatchNorm2d``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized()
                and dist.get_world_size() > 1):
            return super().forward(x)
        xf = x.float()
        count = torch.full((1,), xf.numel() / xf.shape[1], dtype=torch.float32, device=x.device)
        stats = torch.cat([xf.sum((0, 2, 3)), (xf * xf).sum((0, 2, 3)), count])
        stats = _AllReduceSum.apply(stats)
        c = x.shape[1]
        n = stats[-1]
        mean = stats[:c] / n
        var = (stats[c:2 * c] / n - mean * mean).clamp_min(0)
        tracked, r_mean, r_var = self.num_batches_tracked, self.running_mean, self.running_var
        if self.track_running_stats and tracked is not None and r_mean is not None \
                and r_var is not None:
            with torch.no_grad():
                tracked.add_(1)
                m = self.momentum if self.momentum is not None else 1.0 / float(tracked)
                r_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                r_var.mul_(1 - m).add_(var.detach() * (n / (n - 1).clamp_min(1)), alpha=m)
        y = (xf - mean[None, :, None, None]) * torch.rsqrt(var + self.eps)[None, :, None, None]
        if self.affine:
            y = y * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return y.to(x.dtype)


def convert_sync_bn(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` with every ``BatchNorm2d`` synchronised across the process group (in place
    for the CPU variant; parameters and buffers are kept)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    for name, child in list(model.named_children()):
        if type(child) is nn.BatchNorm2d:
            new = GlooSyncBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                    child.track_running_stats)
            new.load_state_dict(child.state_dict())
            ref = child.weight if child.weight is not None else child.running_mean
            if ref is not None:
                new.to(ref.device)
            new.train(child.training)
            setattr(model, name, new)
        else:
            convert_sync_bn(child, device)
    return model


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, cell: Any, out: str, threads: int,
            train_fn: Callable[..., tuple[Any, dict[str, Any]]]) -> None:
    """One process of the run: join the group, train its share (``train_fn``: the runner's
    ``cell_training``), rank 0 saves the result."""
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    suite = cell.suite_config()
    device = torch.device(f"cuda:{rank}") if suite.device == "cuda" else torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                            init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        with cpu_numerics(threads, suite.denormals):
            model, record = train_fn(cell, suite, device, rank=rank, world=world)
        if rank == 0:
            state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
            torch.save({"model": state, "record": record}, out)
        dist.barrier()
    finally:
        dist.destroy_process_group()


class _LogFollower:
    """New records of a growing JSON-lines training log (complete lines only)."""

    def __init__(self, path: Path | None) -> None:
        self.path, self.offset = path, path.stat().st_size if path and path.exists() else 0

    def new(self) -> list[dict[str, Any]]:
        if self.path is None or not self.path.exists():
            return []
        with self.path.open("rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        return [json.loads(line) for line in data[:end].splitlines() if line.strip()]


def train_distributed(cell: Any, world: int, threads: int | None = None,
                      on_log: Callable[[dict[str, Any]], None] | None = None, *,
                      train_fn: Callable[..., tuple[Any, dict[str, Any]]]
                      ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Train ``cell`` in ``world`` processes, each running
    ``train_fn(cell, suite, device, rank=, world=) -> (model, record)`` (the runner's
    ``cell_training``, passed in: this module sits below the runner); returns rank 0's model
    state (on CPU) and its training record. While they run, the records rank 0 appends to the
    cell's training log go to ``on_log`` (the console's progress). A failing process raises
    here (``ProcessRaisedException`` with its traceback)."""
    import torch.multiprocessing as mp

    per = threads or max(1, torch.get_num_threads() // world)
    log = Path(cell.workdir) / f"{cell.stem}.train.jsonl" if cell.workdir else None
    follow = _LogFollower(log)
    with tempfile.TemporaryDirectory(prefix="upbench-ddp-") as tmp:
        out = str(Path(tmp) / "rank0.pt")
        ctx = mp.spawn(_worker, args=(world, free_port(), cell, out, per, train_fn), nprocs=world,
                       join=False)
        done = False
        while not done:
            done = ctx.join(timeout=0.5)
            if on_log is not None:
                for entry in follow.new():
                    on_log(entry)
        saved = torch.load(out, map_location="cpu", weights_only=True)
    return saved["model"], saved["record"]


__all__ = ["GlooSyncBatchNorm", "convert_sync_bn", "free_port", "train_distributed"]
