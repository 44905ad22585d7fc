"""COCO AP through pycocotools on hand-made cases whose AP can be stated."""

from __future__ import annotations

import pytest
import torch

from upbench.metrics import CocoEvaluator


def _target(image_id, boxes, labels, crowd=None):
    b = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    return {"boxes": b, "labels": torch.tensor(labels),
            "iscrowd": torch.tensor(crowd or [0] * len(labels)),
            "area": (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]), "image_id": torch.tensor(image_id)}


def _pred(boxes, labels, scores):
    return {"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            "labels": torch.tensor(labels), "scores": torch.tensor(scores)}


GT = [_target(1, [[10, 10, 30, 30], [40, 40, 90, 90]], [1, 2]),
      _target(2, [[5, 5, 25, 25]], [1])]


def test_perfect_detections_score_100_and_ids_map_back():
    ev = CocoEvaluator([3, 7])  # labels 1, 2 are the dataset's category ids 3 and 7
    ev.update([_pred([[10, 10, 30, 30], [40, 40, 90, 90]], [1, 2], [0.9, 0.8]),
               _pred([[5, 5, 25, 25]], [1], [0.7])], GT)
    r = ev.compute()
    assert r["AP"] == pytest.approx(100) and r["AP50"] == pytest.approx(100)
    assert r["APs"] == pytest.approx(100) and r["APm"] == pytest.approx(100)
    assert r["APl"] is None  # no large ground truth: n/a, not -100
    gt = ev.ground_truth()
    assert [a["id"] for a in gt["annotations"]] == [1, 2, 3]  # ids >= 1
    assert {a["category_id"] for a in gt["annotations"]} == {3, 7}
    assert {d["category_id"] for d in ev.artifacts()["detections.json"]} == {3, 7}
    assert ev.artifacts()["detections.json"][0]["bbox"] == [10.0, 10.0, 20.0, 20.0]


def test_one_class_missed_halves_the_mean_ap():
    ev = CocoEvaluator([1, 2])
    ev.update([_pred([[10, 10, 30, 30]], [1], [0.9]), _pred([[5, 5, 25, 25]], [1], [0.7])], GT)
    r = ev.compute()
    assert r["AP"] == pytest.approx(50)  # class 1 perfect, class 2 (its only box) missed
    assert r["APm"] == pytest.approx(0)  # the medium box is class 2's


def test_no_detections_is_ap_zero_with_a_note_not_a_crash():
    ev = CocoEvaluator([1, 2])
    ev.update([_pred([], [], []), _pred([], [], [])], GT)
    r = ev.compute()
    assert r["AP"] == 0 and r["APs"] == 0 and r["APm"] == 0 and r["APl"] is None
    assert "no detections" in r["eval_note"]


def test_crowd_regions_are_ignored_in_the_evaluation():
    gt = [_target(1, [[10, 10, 30, 30], [50, 50, 70, 70]], [1, 1], crowd=[0, 1])]
    ev = CocoEvaluator([1])
    ev.update([_pred([[10, 10, 30, 30], [50, 50, 70, 70]], [1, 1], [0.9, 0.8])], gt)
    assert ev.compute()["AP"] == pytest.approx(100)  # the detection on the crowd is not a FP
