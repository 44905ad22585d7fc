"""Task metrics, defined as in METRICS.md."""

from upbench.metrics.segmentation import SegMetrics, area_stats, iou_from_stats, trimap_band

__all__ = ["SegMetrics", "area_stats", "iou_from_stats", "trimap_band"]
