"""The Composition-1k metrics (official MATLAB definitions) on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from upbench.metrics import MattingMetrics, matting_metrics
from upbench.metrics.matting import gaussgradient_kernel, paste_known


def _case(h=16, w=16):
    _, xx = np.mgrid[0:h, 0:w]
    gt = np.clip((xx - 4) / 8.0, 0, 1)  # a horizontal ramp
    tri = np.where(gt <= 0, 0, np.where(gt >= 1, 255, 128)).astype(np.uint8)
    tri[:, 3:5] = 128
    return gt, tri


def test_a_perfect_prediction_scores_zero():
    gt, tri = _case()
    m = matting_metrics(gt, gt, tri)
    assert m == {"SAD": 0.0, "MSE": 0.0, "Grad": 0.0, "Conn": 0.0}


def test_a_constant_offset_gives_the_sad_and_mse_one_can_state():
    gt = np.full((10, 10), 100 / 255)
    tri = np.zeros((10, 10), np.uint8)
    tri[2:8, 2:8] = 128  # 36 unknown pixels
    pred = np.full((10, 10), 120 / 255)  # 20 grey levels everywhere
    m = matting_metrics(pred, gt, tri)
    assert m["SAD"] == pytest.approx(36 * 20 / 255 / 1000)
    assert m["MSE"] == pytest.approx((20 / 255) ** 2)
    # both mattes are constant: mat2gray makes them 0, no gradient difference
    assert m["Grad"] == 0.0


def test_quantisation_to_8_bits_as_the_official_pngs():
    gt = np.full((4, 4), 0.5)
    tri = np.full((4, 4), 128, np.uint8)
    assert matting_metrics(gt + 0.001, gt, tri)["SAD"] == 0.0  # same 8-bit level


def test_gaussgradient_kernel_is_matlabs():
    hx = gaussgradient_kernel(1.4)
    assert hx.shape == (9, 9)  # half size ceil(1.4·√(−2·ln(√(2π)·1.4·0.01))) = 4
    assert float((hx * hx).sum()) == pytest.approx(1.0)
    assert np.allclose(hx, -hx[:, ::-1]) and np.allclose(hx, hx[::-1, :])  # odd in x, even in y
    # on a unit ramp along x, the convolution (flipped kernel) gives a positive x-derivative
    img = np.tile(np.arange(20, dtype=float), (20, 1))
    gx = ndimage.convolve(img, hx, mode="nearest")
    assert gx[10, 10] > 0 and abs(ndimage.convolve(img, hx.T, mode="nearest")[10, 10]) < 1e-9


def test_grad_and_conn_react_to_a_wrong_edge():
    gt, tri = _case()
    pred = np.clip((np.mgrid[0:16, 0:16][1] - 7) / 2.0, 0, 1)  # a sharper, shifted edge
    m = matting_metrics(pred, gt, tri)
    assert m["Grad"] > 0 and m["Conn"] > 0 and m["SAD"] > 0


def test_connectivity_hand_case():
    # two unknown pixels: p = g = 1 → both connected at every threshold → φ = 1 - (1 - 1)… = 1
    # an isolated prediction blob: p = 0.9 where g = 0 → l = 0 there, d_p = 0.9 ≥ 0.15 → φ_p = 0.1,
    # φ_g = 1 - 0 = 1 → |Δφ| = 0.9 at that pixel
    gt = np.zeros((5, 5))
    pred = np.zeros((5, 5))
    pred[2, 2] = 0.9
    gt[0, :] = pred[0, :] = 1.0
    tri = np.full((5, 5), 128, np.uint8)
    m = matting_metrics(pred, gt, tri)
    p8 = round(0.9 * 255) / 255
    assert m["Conn"] == pytest.approx(p8 / 1000)


def test_known_regions_are_pasted_and_images_averaged():
    gt, tri = _case()
    pred = torch.rand(1, 16, 16)
    pasted = paste_known(pred, torch.from_numpy(tri)[None])
    assert float(pasted[0][tri == 0].max()) == 0 and float(pasted[0][tri == 255].min()) == 1
    ev = MattingMetrics()
    g = torch.from_numpy(gt).float()[None, None]
    t = torch.from_numpy(tri).float()[None, None]
    ev.update(torch.cat([g, g + 0.1]), torch.cat([g, g]), torch.cat([t, t]))
    r = ev.compute()
    one = matting_metrics(paste_known(g[0] + 0.1, t[0]), g[0], t[0])
    assert r["images"] == 2 and r["SAD"] == pytest.approx(one["SAD"] / 2)
    assert math.isnan(matting_metrics(gt, gt, np.zeros_like(tri))["SAD"])
