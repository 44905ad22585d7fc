"""COCO box AP through pycocotools (docs/metrics.md "Detection"): the matching is COCOeval's own.

:class:`CocoEvaluator` accumulates real COCO JSON — the ground truth of a split (every
annotation with an id ≥ 1, its ``area`` and ``iscrowd``; image ids as the dataset's) and the
detections in COCO's results format (``[x, y, w, h]`` boxes, ``score``, the dataset's
``category_id``) — and runs ``COCOeval(gt, dt, "bbox")``. AP, AP50, AP75, APs, APm, APl are
``stats[0..5]`` in percent. pycocotools' traps are handled: a size range without ground truth gives
-1 there, reported as None (n/a); ``loadRes([])`` raises, so a split without any detection
scores AP 0 with a note instead; only the ``max_detections`` best-scored detections per image
count (COCOeval's maxDets).
"""

from __future__ import annotations

import contextlib
import copy
import io
from typing import Any

import torch

KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl")


def xyxy_to_xywh(boxes: torch.Tensor) -> list[list[float]]:
    """(K, 4) x1, y1, x2, y2 → COCO's [x, y, w, h] lists."""
    b = boxes.detach().double().cpu()
    return [[float(x1), float(y1), float(x2 - x1), float(y2 - y1)] for x1, y1, x2, y2 in b]


def coco_box_ap(gt: dict[str, Any], detections: list[dict[str, Any]],
                max_detections: int = 100) -> dict[str, Any]:
    """COCOeval bbox AP of ``detections`` (results format) against ``gt`` (a COCO dataset dict).

    Returns:
        ``{AP, AP50, AP75, APs, APm, APl}`` in percent, None where a size range has no ground
        truth; ``eval_note`` explains an all-zero result without detections.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
    if not gt.get("annotations"):
        return {k: None for k in KEYS} | {"eval_note": "the split has no ground-truth boxes"}
    if not detections:
        # loadRes([]) raises; with no detection every range with ground truth has AP 0
        areas = [(0, 32**2), (32**2, 96**2), (96**2, float("inf"))]
        present = [any(lo <= a["area"] < hi and not a["iscrowd"] for a in gt["annotations"])
                   for lo, hi in areas]
        return ({"AP": 0.0, "AP50": 0.0, "AP75": 0.0}
                | {k: (0.0 if p else None) for k, p in zip(("APs", "APm", "APl"), present,
                                                           strict=True)}
                | {"eval_note": "no detections at all: AP 0"})
    with contextlib.redirect_stdout(quiet):
        coco_dt = coco_gt.loadRes(copy.deepcopy(detections))  # loadRes adds keys in place
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        ev.params.maxDets = [1, 10, max_detections]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {k: (100.0 * float(v) if v >= 0 else None) for k, v in zip(KEYS, ev.stats[:6],
                                                                        strict=True)}


class CocoEvaluator:
    """Accumulates a split's ground truth and detections as COCO JSON; :meth:`compute` runs
    :func:`coco_box_ap`, :meth:`artifacts` returns the detections in the results format.

    Args:
        category_ids: the dataset's category id of each label 1..K (label i → ids[i − 1]).
        max_detections: detections per image that count (the best-scored).
    """

    def __init__(self, category_ids: list[int], max_detections: int = 100) -> None:
        self.category_ids = list(category_ids)
        self.max_detections = max_detections
        self.images: list[dict[str, Any]] = []
        self.annotations: list[dict[str, Any]] = []
        self.detections: list[dict[str, Any]] = []

    def _cat(self, label: int) -> int:
        return self.category_ids[int(label) - 1]

    @torch.no_grad()
    def update(self, predictions: list[dict[str, torch.Tensor]],
               targets: list[dict[str, torch.Tensor]]) -> None:
        """Add a batch: torchvision-style predictions (boxes xyxy, labels, scores) and targets
        (boxes, labels, iscrowd, area, image_id)."""
        for pred, t in zip(predictions, targets, strict=True):
            image_id = int(t["image_id"])
            self.images.append({"id": image_id})
            for box, label, crowd, area in zip(xyxy_to_xywh(t["boxes"]), t["labels"].tolist(),
                                               t["iscrowd"].tolist(), t["area"].tolist(),
                                               strict=True):
                self.annotations.append({"id": len(self.annotations) + 1, "image_id": image_id,
                                         "category_id": self._cat(label), "bbox": box,
                                         "area": float(area), "iscrowd": int(crowd)})
            order = pred["scores"].argsort(descending=True)[: self.max_detections]
            for box, label, score in zip(xyxy_to_xywh(pred["boxes"][order]),
                                         pred["labels"][order].tolist(),
                                         pred["scores"][order].tolist(), strict=True):
                self.detections.append({"image_id": image_id, "category_id": self._cat(label),
                                        "bbox": box, "score": float(score)})

    def ground_truth(self) -> dict[str, Any]:
        """The split's ground truth as a COCO dataset dict."""
        return {"images": self.images, "annotations": self.annotations,
                "categories": [{"id": c, "name": str(c)} for c in self.category_ids]}

    def compute(self) -> dict[str, Any]:
        """AP, AP50, AP75, APs, APm, APl (percent; None = no ground truth in that range)."""
        return coco_box_ap(self.ground_truth(), self.detections, self.max_detections) | {
            "detections": len(self.detections), "images": len(self.images)}

    def artifacts(self) -> dict[str, Any]:
        """``detections.json``: the detections in COCO's results format."""
        return {"detections.json": self.detections}
