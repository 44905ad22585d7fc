"""Op front-ends check their numbers with the shared layer: a clear ValueError naming the op and
the argument, never an overflow inside a kernel (issue 30)."""

from __future__ import annotations

import pytest
import torch

from upbench.ops.bilinear import bilinear_upsample
from upbench.ops.pixel_shuffle import pixel_shuffle
from upbench.ops.pyramid_fuse import pyramid_fuse


@pytest.mark.parametrize("s, match", [
    (2**31, (r"the output \(1, 2, 8589934592, 8589934592\) would have .* elements, more than "
             r"a tensor can index")),
    (2**12, r"the output \(1, 2, 16384, 16384\) needs about 2 GiB .* but 1 GiB"),
    (0, r"`scale_factor` must be >= 1, got 0"), (-1, "`scale_factor` must be >= 1"),
    (2.5, "`scale_factor` must be an integer, got 2.5"),
    (float("nan"), "`scale_factor` must be a finite number"),
    (float("inf"), "`scale_factor` must be a finite"), (True, "`scale_factor` must be an integer"),
    ("2", "`scale_factor` must be an integer, got .2.")])
def test_bilinear_scale_factor(s, match, monkeypatch):
    from upbench.utils import numbers

    monkeypatch.setattr(numbers, "available_memory", lambda: 2**30)
    with pytest.raises(ValueError, match=r"bilinear_upsample: " + match):
        bilinear_upsample(torch.rand(1, 2, 4, 4), s)


def test_an_integral_float_scale_is_accepted():
    torch.testing.assert_close(bilinear_upsample(torch.rand(1, 2, 4, 4), 2.0).shape[-1], 8)


@pytest.mark.parametrize("s, match", [(0, "`upscale_factor` must be >= 1"),
                                      (float("nan"), "`upscale_factor` must be a finite"),
                                      (2**70, r"`upscale_factor` must be <= 2\*\*63 - 1")])
def test_pixel_shuffle_factor(s, match):
    with pytest.raises(ValueError, match="pixel_shuffle: .*" + match):
        pixel_shuffle(torch.rand(1, 4, 4, 4), s)


@pytest.mark.parametrize("tau, match", [
    (float("nan"), "must be a finite number, got nan"), (float("inf"), "must be a finite"),
    (-0.1, "must be >= 0"), (1.5, "must be <= 1"), ("0.9", "must be a number"),
    (None, "must be a number")])
def test_pyramid_fuse_tau(tau, match):
    sem = [torch.rand(1, 3, 2, 2), torch.rand(1, 3, 4, 4)]
    with pytest.raises(ValueError, match=r"pyramid_fuse: `tau` " + match):
        pyramid_fuse(sem, [torch.rand(1, 1, 2, 2)], tau=tau)
    assert pyramid_fuse(sem, [torch.rand(1, 1, 2, 2)], tau=1.0)[0].shape == (1, 3, 4, 4)
