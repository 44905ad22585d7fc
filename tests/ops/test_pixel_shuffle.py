"""pixel_shuffle: same layout as torch.nn.functional.pixel_shuffle."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from upbench import ops


@pytest.mark.parametrize("s", [1, 2, 3])
@pytest.mark.parametrize("impl", ["native", "reference"])
def test_matches_aten(s, impl, native):
    x = torch.randn(2, 3 * s * s, 5, 7)
    assert torch.equal(ops.pixel_shuffle(x, s, impl=impl), F.pixel_shuffle(x, s))


def test_backward_is_pixel_unshuffle(native):
    x = torch.randn(1, 8, 3, 5, requires_grad=True)
    g = torch.randn(1, 2, 6, 10)
    (gx,) = torch.autograd.grad(ops.pixel_shuffle(x, 2, impl="native"), x, g)
    assert torch.equal(gx, F.pixel_unshuffle(g, 2))


def test_channels_must_divide():
    with pytest.raises(ValueError, match="divisible by upscale_factor"):
        ops.pixel_shuffle(torch.randn(1, 6, 3, 3), 2)
