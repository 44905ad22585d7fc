"""Composition-1k alphas and trimaps at full bit depth; trimap codings checked (issue 30: 16-bit
mattes were clipped to 8 bits, 16-bit trimaps read as all-unknown, 0/1/2 trimaps accepted)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from upbench.data.composition1k import DEFAULT_LAYOUT, Composition1kTest, stack_items
from upbench.data.imagecheck import DataError
from upbench.metrics.matting import MattingMetrics

H, W = 40, 48


def _alpha16():
    _, xx = np.mgrid[0:H, 0:W]
    a = np.clip((xx - 12) / 24.0, 0, 1) * 65535  # a smooth ramp: values 8 bits cannot hold
    return np.rint(a).astype(np.uint16)


def _trimap8(alpha16):
    a = alpha16 / 65535.0
    tri = np.where(a >= 1, 255, np.where(a <= 0, 0, 128)).astype(np.uint8)
    tri[:, 8:12] = 128  # a band beyond the transition
    return tri


def _dataset(root, alpha, trimap):
    for key in ("test_merged", "test_alpha", "test_trimap"):
        (root / DEFAULT_LAYOUT[key]).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (H, W, 3), dtype=np.uint8)).save(
        root / DEFAULT_LAYOUT["test_merged"] / "t.png")
    Image.fromarray(alpha).save(root / DEFAULT_LAYOUT["test_alpha"] / "t.png")
    Image.fromarray(trimap).save(root / DEFAULT_LAYOUT["test_trimap"] / "t.png")
    return Composition1kTest(root, DEFAULT_LAYOUT, (H, W))


def _metrics(ds):
    b = stack_items([ds.item(0)])
    m = MattingMetrics()
    pred = torch.full_like(b["alpha"], 0.5)
    m.update(pred, b["alpha"], b["trimap"].float())
    return m.compute()


def test_16_bit_mattes_give_the_metrics_of_their_8_bit_equivalent(tmp_path):
    a16 = _alpha16()
    tri8 = _trimap8(a16)
    a8 = np.rint(a16 / 257.0).astype(np.uint8)  # the 8-bit quantisation of the same matte
    tri16 = (tri8.astype(np.uint32) * 257).astype(np.uint16)  # 0 / 32896 / 65535
    m8 = _metrics(_dataset(tmp_path / "8", a8, tri8))
    m16 = _metrics(_dataset(tmp_path / "16", a16, tri16))
    unknown = int((tri8 == 128).sum())
    # 8-bit rounding moves each alpha by at most 0.5/255: SAD (in thousands) and MSE by that
    assert m16["SAD"] == pytest.approx(m8["SAD"], abs=unknown * 0.5 / 255 / 1000 + 1e-9)
    assert m16["MSE"] == pytest.approx(m8["MSE"], abs=1.01 / 255)
    assert m16["SAD"] > 0
    # the trimap's classes are the same at either depth (16-bit is not read as all-unknown)
    t8, t16 = (ds.item(0)["trimap"] for ds in (_dataset(tmp_path / "t8", a8, tri8),
                                               _dataset(tmp_path / "t16", a16, tri16)))
    assert np.array_equal(t8, t16) and set(np.unique(t16)) == {0, 128, 255}


def test_exact_16_bit_copies_give_identical_metrics(tmp_path):
    a8 = (_alpha16() / 257).astype(np.uint8)
    tri8 = _trimap8(_alpha16())
    up = lambda x: (x.astype(np.uint32) * 257).astype(np.uint16)
    assert _metrics(_dataset(tmp_path / "a", a8, tri8)) == pytest.approx(
        _metrics(_dataset(tmp_path / "b", up(a8), up(tri8))))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("codes", [(0, 1, 2), (0, 1), (0, 2)])
def test_trimaps_coded_0_1_2_are_refused_naming_the_coding(tmp_path, dtype, codes):
    tri = np.zeros((H, W), dtype)
    for i, c in enumerate(codes):
        tri[:, i * 10:(i + 1) * 10] = c
    ds = _dataset(tmp_path, _alpha16(), tri)
    with pytest.raises(DataError, match=r"t\.png: trimap values \[0, .*\] look like a 0/1/2 class "
                                        r"coding; upbench reads trimaps coded 0 / 128 / 255"):
        ds.item(0)


def test_a_trimap_without_unknown_pixels_cannot_be_measured(tmp_path):
    tri = np.where(_alpha16() > 30000, 255, 0).astype(np.uint8)
    ds = _dataset(tmp_path, _alpha16(), tri)
    with pytest.raises(DataError, match=r"t\.png: the trimap has no unknown \(128\) pixels at the "
                                        r"input size 40×48"):
        ds.check_measurable(0)
    ok = _dataset(tmp_path / "ok", _alpha16(), _trimap8(_alpha16()))
    ok.check_measurable(0)


def test_an_all_background_trimap_is_read_as_such(tmp_path):
    ds = _dataset(tmp_path, _alpha16(), np.zeros((H, W), np.uint8))
    assert not ds.item(0)["trimap"].any()  # all 0 is a coding-free trimap: background
