"""The detection task's metrics: COCO box AP by pycocotools (:mod:`upbench.metrics.detection`)."""

from __future__ import annotations

from upbench.tasks.base import Metric

METRICS = (
    Metric("AP", higher_is_better=True, unit="%", delta=True, tolerance_floor=0.5),
    Metric("AP50", higher_is_better=True, unit="%", tolerance_floor=0.5),
    Metric("AP75", higher_is_better=True, unit="%", shown=False, tolerance_floor=0.5),
    Metric("APs", higher_is_better=True, unit="%", tolerance_floor=0.5),
    Metric("APm", higher_is_better=True, unit="%", tolerance_floor=0.5),
    Metric("APl", higher_is_better=True, unit="%", shown=False, gated=False),
)
