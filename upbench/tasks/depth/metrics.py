"""The depth task's metrics (definitions in :mod:`upbench.metrics.depth`, BTS's evaluation)."""

from __future__ import annotations

from typing import Any

import torch

from upbench.metrics.depth import DepthMetrics
from upbench.tasks.base import Metric

METRICS = (
    Metric("abs_rel", higher_is_better=False, digits=4, delta=True, tolerance_floor=0.005),
    Metric("rmse", higher_is_better=False, unit="m", digits=4, delta=True,
           tolerance_floor=0.02),
    Metric("d1", higher_is_better=True, digits=4, tolerance_floor=0.005),
    Metric("sq_rel", higher_is_better=False, digits=4, shown=False, gated=False),
    Metric("rmse_log", higher_is_better=False, digits=4, shown=False, gated=False),
    Metric("log10", higher_is_better=False, digits=4, shown=False, gated=False),
    Metric("silog", higher_is_better=False, digits=3, shown=False, gated=False),
    Metric("d2", higher_is_better=True, digits=4, shown=False, gated=False),
    Metric("d3", higher_is_better=True, digits=4, shown=False, gated=False),
)


class DepthEvaluator:
    """BTS's evaluation over a split: predictions (N, 1, H, W) against ``targets["depth"]``."""

    def __init__(self, min_depth: float, max_depth: float, eigen_crop: bool) -> None:
        self.metrics = DepthMetrics(min_depth, max_depth, eigen_crop)

    def update(self, predictions: torch.Tensor, targets: dict[str, Any]) -> None:
        self.metrics.update(predictions, targets["depth"])

    def compute(self) -> dict[str, Any]:
        return self.metrics.compute()
