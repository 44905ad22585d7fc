"""The segmentation task's metrics (definitions in :mod:`upbench.metrics.segmentation`)."""

from __future__ import annotations

from upbench.tasks.base import Metric

METRICS = (
    Metric("mIoU", higher_is_better=True, unit="%", delta=True),
    Metric("bIoU", higher_is_better=True, unit="%", delta=True),
    Metric("mAcc", higher_is_better=True, unit="%", shown=False),
    Metric("aAcc", higher_is_better=True, unit="%", shown=False),
)
