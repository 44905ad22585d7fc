"""Segmentation metrics against hand-computed cases."""

from __future__ import annotations

import math

import pytest
import torch

from upbench.metrics import SegMetrics, trimap_band
from upbench.metrics.segmentation import boundary_dilation, mask_boundaries


def t(rows):
    return torch.tensor(rows).unsqueeze(0)


def test_miou_aacc_macc_hand_case():
    target = t([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 255, 255], [2, 2, 2, 2]])
    pred = t([[0, 0, 1, 1], [0, 1, 1, 1], [2, 2, 0, 0], [2, 2, 2, 1]])
    m = SegMetrics(4, trimap_widths=())
    m.update(pred, target)
    r = m.compute()
    # class 0: I=3, U=4; class 1: I=4, U=6; class 2: I=5, U=6; class 3 absent → NaN, dropped
    assert r["mIoU"] == pytest.approx(100 * (3 / 4 + 4 / 6 + 5 / 6) / 3)
    assert r["aAcc"] == pytest.approx(100 * 12 / 14)
    assert r["mAcc"] == pytest.approx(100 * (3 / 4 + 1 + 5 / 6) / 3)
    assert math.isnan(r["per_class_IoU"][3])


def test_dataset_level_sums_not_per_image_means():
    m = SegMetrics(2, trimap_widths=())
    m.update(t([[0, 0], [0, 0]]), t([[0, 0], [0, 1]]))  # class 1: I=0, U=1
    m.update(t([[1, 1], [1, 1]]), t([[1, 1], [1, 1]]))  # class 1: I=4, U=4
    r = m.compute()
    # class 0: I=3, U=4; class 1: summed I=4, U=5 (a per-image mean would give 0.5)
    assert r["per_class_IoU"] == pytest.approx([75.0, 80.0])


def test_boundary_iou_hand_case():
    assert boundary_dilation(4, 4) == 1
    assert boundary_dilation(512, 512) == 14
    target = torch.zeros(1, 4, 4, dtype=torch.long)
    pred = target.clone()
    pred[0, 1, 1] = 1
    bg = mask_boundaries(target, 2, 1)
    assert int(bg[0, 0].sum()) == 12  # the outer ring: the image edge counts as boundary
    m = SegMetrics(2, trimap_widths=())
    m.update(pred, target)
    r = m.compute()
    # class 0: B_G = ring (12), B_P = whole pred mask (15, erosion empties it) → 12/15;
    # class 1: B_G empty, B_P = the single pixel → 0/1
    assert r["per_class_bIoU"] == pytest.approx([80.0, 0.0])
    assert r["bIoU"] == pytest.approx(40.0)
    assert r["mIoU"] == pytest.approx(100 * (15 / 16 + 0) / 2)


def test_trimap_band_and_miou():
    target = torch.zeros(1, 5, 5, dtype=torch.long)
    target[0, :, 2:] = 1
    assert trimap_band(target, 0)[0].nonzero()[:, 1].unique().tolist() == [1, 2]
    assert trimap_band(target, 1)[0].nonzero()[:, 1].unique().tolist() == [0, 1, 2, 3]
    pred = torch.zeros_like(target)
    m = SegMetrics(2, trimap_widths=(0, 1))
    m.update(pred, target)
    r = m.compute()
    # w=0: class 0 I=5, U=10; class 1 I=0, U=5.  w=1: class 0 I=10, U=20; class 1 I=0, U=10.
    assert r["trimap_mIoU@0"] == pytest.approx(25.0)
    assert r["trimap_mIoU@1"] == pytest.approx(25.0)
    assert r["mIoU"] == pytest.approx(100 * (10 / 25 + 0) / 2)


def test_perfect_prediction_and_shape_check():
    target = torch.randint(0, 3, (2, 8, 8))
    m = SegMetrics(3)
    m.update(target, target)
    r = m.compute()
    for k in ("mIoU", "aAcc", "mAcc", "bIoU", "trimap_mIoU@2", "trimap_mIoU@4"):
        assert r[k] == pytest.approx(100.0)
    with pytest.raises(ValueError, match="differ"):
        m.update(target[:, :4], target)
