"""upbench.ops.dupsample: channel ordering, peer agreement, errors (generic checks:
test_registry_ops.py)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from upbench import ops
from upbench.ops.dupsample import dupsample_aten, dupsample_reference


def test_channel_ordering_is_conv1x1_then_pixel_shuffle():
    g = torch.Generator().manual_seed(1)
    f = torch.randn(2, 6, 3, 5, generator=g, dtype=torch.float64)
    w = torch.randn(4 * 9, 6, generator=g, dtype=torch.float64)
    b = torch.randn(36, generator=g, dtype=torch.float64)
    out = ops.dupsample(f, w, b, 3, impl="native")
    peer = F.pixel_shuffle(F.conv2d(f, w[:, :, None, None], b), 3)
    torch.testing.assert_close(out, peer)
    torch.testing.assert_close(dupsample_aten(f, w, b, 3), dupsample_reference(f, w, b, 3))
    # row o = (c*r + i)*r + j reconstructs class c at sub-pixel (i, j)
    o = (2 * 3 + 1) * 3 + 2
    w2 = torch.zeros_like(w)
    w2[o, 0] = 1.0
    f2 = torch.zeros_like(f)
    f2[0, 0, 1, 4] = 5.0
    out2 = ops.dupsample(f2, w2, None, 3, impl="native")
    assert out2[0, 2, 1 * 3 + 1, 4 * 3 + 2] == 5.0 and out2.abs().sum() == 5.0


def test_bad_arguments_name_the_argument():
    f = torch.randn(1, 4, 2, 2)
    with pytest.raises(ValueError, match="weight"):
        ops.dupsample(f, torch.randn(8, 3), torch.zeros(8), 2)
    with pytest.raises(ValueError, match="bias"):
        ops.dupsample(f, torch.randn(8, 4), torch.zeros(7), 2)
    with pytest.raises(ValueError, match="weight"):
        ops.dupsample(f, torch.randn(6, 4), torch.zeros(6), 2)
