"""BTS's depth metrics (bts_eval.py) on hand-computed cases."""

from __future__ import annotations

import math

import pytest
import torch

from upbench.metrics import DepthMetrics, depth_metrics


def test_perfect_prediction():
    gt = torch.tensor([[1.0, 2.0], [4.0, 8.0]])
    m = depth_metrics(gt, gt)
    assert m["abs_rel"] == m["sq_rel"] == m["rmse"] == m["rmse_log"] == m["log10"] == 0
    assert m["silog"] == pytest.approx(0, abs=1e-6)
    assert m["d1"] == m["d2"] == m["d3"] == 1


def test_hand_computed_values():
    gt = torch.tensor([[2.0, 4.0]])
    pred = torch.tensor([[1.0, 5.0]])
    m = depth_metrics(pred, gt)
    assert m["abs_rel"] == pytest.approx((1 / 2 + 1 / 4) / 2)
    assert m["sq_rel"] == pytest.approx((1 / 2 + 1 / 4) / 2)
    assert m["rmse"] == pytest.approx(1.0)
    e = [math.log(1 / 2), math.log(5 / 4)]
    assert m["rmse_log"] == pytest.approx(math.sqrt((e[0] ** 2 + e[1] ** 2) / 2))
    assert m["log10"] == pytest.approx((abs(math.log10(0.5)) + math.log10(1.25)) / 2)
    mean = sum(e) / 2
    assert m["silog"] == pytest.approx(100 * math.sqrt((e[0] ** 2 + e[1] ** 2) / 2 - mean**2))
    # max(gt/p, p/gt) = 2 and 1.25: d1 counts < 1.25 strictly (none), d2 (< 1.5625) and
    # d3 (< 1.953) the second only
    assert (m["d1"], m["d2"], m["d3"]) == (0.0, 0.5, 0.5)


def test_clamping_invalid_pixels_and_eigen_crop():
    gt = torch.tensor([[0.0, 2.0, 12.0, 2.0]])  # 0 and beyond max_depth are not evaluated
    pred = torch.tensor([[5.0, float("nan"), 3.0, float("inf")]])
    m = depth_metrics(pred, gt, min_depth=1e-3, max_depth=10.0)
    # valid: gt 2 (pred nan → min 1e-3) and gt 2 (pred inf → max 10)
    want = (abs(2 - 1e-3) / 2 + abs(2 - 10) / 2) / 2
    assert m["abs_rel"] == pytest.approx(want)
    assert math.isnan(depth_metrics(pred, torch.zeros(1, 4))["rmse"])
    with pytest.raises(ValueError, match="480×640"):
        depth_metrics(pred, gt, eigen_crop=True)
    gt = torch.full((480, 640), 2.0)
    pred = gt.clone()
    pred[:45] = 4.0  # outside the crop: ignored with eigen_crop
    assert depth_metrics(pred, gt, eigen_crop=True)["abs_rel"] == 0
    assert depth_metrics(pred, gt)["abs_rel"] > 0


def test_dataset_mean_is_over_images_as_bts():
    gt = torch.tensor([[[[2.0, 2.0]]], [[[4.0, 4.0]]], [[[0.0, 0.0]]]])
    pred = torch.tensor([[[[1.0, 1.0]]], [[[4.0, 4.0]]], [[[1.0, 1.0]]]])
    ev = DepthMetrics()
    ev.update(pred, gt)
    r = ev.compute()
    assert r["abs_rel"] == pytest.approx((0.5 + 0.0) / 2)  # per-image means, then the mean
    assert r["images"] == 2 and r["images_without_valid_depth"] == 1
