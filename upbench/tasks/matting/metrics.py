"""The matting task's metrics (Composition-1k's MATLAB definitions, :mod:`upbench.metrics.matting`)."""

from __future__ import annotations

from typing import Any

import torch

from upbench.metrics.matting import MattingMetrics
from upbench.tasks.base import Metric

METRICS = (
    Metric("SAD", higher_is_better=False, digits=3, delta=True, tolerance_floor=0.05),
    Metric("MSE", higher_is_better=False, digits=5, delta=True, tolerance_floor=0.001),
    Metric("Grad", higher_is_better=False, digits=3, tolerance_floor=0.05),
    Metric("Conn", higher_is_better=False, digits=3, tolerance_floor=0.05),
)


class MattingEvaluator:
    """Composition-1k's evaluation over a split: predicted alpha (N, 1, H, W) against
    ``targets["alpha"]`` within ``targets["trimap"]``'s unknown region, known regions pasted."""

    def __init__(self) -> None:
        self.metrics = MattingMetrics()

    def update(self, predictions: torch.Tensor, targets: dict[str, Any]) -> None:
        self.metrics.update(predictions, targets["alpha"], targets["trimap"])

    def compute(self) -> dict[str, Any]:
        return self.metrics.compute()
