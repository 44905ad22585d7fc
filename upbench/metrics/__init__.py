"""Task metrics, defined as in docs/metrics.md (each function cites its reference definition)."""

from upbench.metrics.depth import DepthMetrics, depth_metrics
from upbench.metrics.detection import CocoEvaluator, coco_box_ap
from upbench.metrics.matting import MattingMetrics, matting_metrics
from upbench.metrics.segmentation import SegMetrics, area_stats, iou_from_stats, trimap_band

__all__ = [
    "CocoEvaluator",
    "DepthMetrics",
    "MattingMetrics",
    "SegMetrics",
    "area_stats",
    "coco_box_ap",
    "depth_metrics",
    "iou_from_stats",
    "matting_metrics",
    "trimap_band",
]
