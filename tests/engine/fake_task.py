"""A tiny task for the engine tests: dense regression with one ×2 upsampler slot.

The engine must run it knowing nothing of it: its own config sections, a lower-is-better primary
metric (``err``) and a higher-is-better one (``acc``), a loss that is not cross-entropy and a
model with two inputs (an image and a mask), so tests catch any segmentation assumption left in
the engine, compare or the gate.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from upbench.models import make_upsampler
from upbench.tasks import TASKS, BaselineInfo, Metric, Task, TaskModel
from upbench.utils.schema import ConfigError


@dataclass
class FakeData:
    """Synthetic samples: ``size`` of them, targets = a blurred channel of the image."""

    train_size: int = 16
    val_size: int = 8
    seed: int = 0

    def validate(self, file: str, prefix: str) -> None:
        if self.train_size < 1:
            raise ConfigError(file, f"{prefix}.train_size", "must be >= 1")


@dataclass
class FakeModel:
    """Width of the tiny network."""

    width: int = 4


@dataclass
class FakeMetrics:
    """Threshold of ``acc``."""

    threshold: float = 0.25


class FakeSplit:
    def __init__(self, n: int, size: list[int], seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 3, *size, generator=g)
        self.mask = (torch.rand(n, 1, *size, generator=g) > 0.1).float()
        self.y = F.avg_pool2d(self.x[:, :1], 3, 1, 1)

    def __len__(self) -> int:
        return self.x.shape[0]

    def batch(self, indices, flip=None):
        idx = torch.as_tensor(indices)
        x, m, y = self.x[idx], self.mask[idx], self.y[idx]
        if flip is not None and flip.any():
            x, m, y = x.clone(), m.clone(), y.clone()
            x[flip], m[flip], y[flip] = x[flip].flip(-1), m[flip].flip(-1), y[flip].flip(-1)
        return (x, m), {"target": y, "mask": m}


class FakeNet(TaskModel):
    def __init__(self, upsampler: str, hparams: dict[str, Any], width: int, impl: str,
                 seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.down = nn.Conv2d(4, width, 3, 2, 1)
        self.up = make_upsampler(upsampler, width, 2, hparams, impl, guide_channels=4)
        self.out = nn.Conv2d(self.up.out_channels, 1, 3, 1, 1)
        self.slots = ["up"]

    def forward(self, x, mask):
        inp = torch.cat((x, mask), 1)
        f = torch.relu(self.down(inp))
        return self.out(self.up(f, inp if self.up.guided else None))

    def loss(self, outputs, targets):
        d = (outputs - targets["target"]) * targets["mask"]
        return {"l2": (d**2).mean()}

    def predict(self, outputs):
        return outputs


class FakeEvaluator:
    def __init__(self, threshold: float) -> None:
        self.t, self.err, self.hit, self.n = threshold, 0.0, 0.0, 0

    def update(self, pred, targets):
        d = (pred - targets["target"]).abs()
        self.err += float(d.sum())
        self.hit += float((d < self.t).sum())
        self.n += d.numel()

    def compute(self):
        return {"err": self.err / self.n, "acc": 100 * self.hit / self.n}


class FakeTask(Task):
    name = "fake"
    baselines = (BaselineInfo("tiny", "a 1×1-conv encoder and one upsampler slot"),)
    reference = "nearest"
    metrics = (Metric("err", higher_is_better=False, digits=4, delta=True, tolerance_floor=0.01),
               Metric("acc", higher_is_better=True, unit="%"))
    dataset_config = FakeData
    model_config = FakeModel
    metrics_config = FakeMetrics
    input_multiple = 2

    def splits(self, suite):
        d = suite.dataset
        return (FakeSplit(d.train_size, suite.input_size, d.seed),
                FakeSplit(d.val_size, suite.input_size, d.seed + 1))

    def build_model(self, suite, upsampler, hparams, placement, seed, decode_stride=None):
        return FakeNet(upsampler, hparams, suite.model.width, suite.impl, seed)

    def evaluator(self, suite):
        return FakeEvaluator(suite.metrics.threshold)

    def example_inputs(self, suite, size, device="cpu", batch=1):
        return (torch.randn(batch, 3, *size, device=device),
                torch.ones(batch, 1, *size, device=device))


FAKE = FakeTask()

SUITE = """\
name: fake-suite
task: fake
input_size: [16, 16]
dataset: {train_size: 8, val_size: 4}
train: {iterations: 3, batch_size: 4, eval_batch_size: 4}
upsamplers: [nearest, bilinear, sapa-b]
threads: 1
profile: {latency_repeats: 2, latency_warmup: 1, memory: false}
"""


@contextlib.contextmanager
def registered():
    """The fake task in :data:`upbench.tasks.TASKS` for the duration of the block."""
    TASKS[FAKE.name] = FAKE
    try:
        yield FAKE
    finally:
        TASKS.pop(FAKE.name, None)
