"""bilinear_upsample: same sampling as ATen's interpolate(align_corners=False)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from upbench import ops


@pytest.mark.parametrize("s", [1, 2, 3, 4, 8])
@pytest.mark.parametrize("impl", ["native", "reference"])
def test_matches_aten_interpolate(s, impl, native):
    x = torch.randn(2, 3, 7, 5, dtype=torch.float64)
    out = ops.bilinear_upsample(x, s, impl=impl)
    ref = F.interpolate(x, scale_factor=s, mode="bilinear", align_corners=False)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)


def test_gradient_matches_aten(kernel_mode):
    x = torch.randn(1, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    g = torch.randn(1, 2, 15, 18, dtype=torch.float64)
    (a,) = torch.autograd.grad(ops.bilinear_upsample(x, 3, impl="native"), x, g)
    (b,) = torch.autograd.grad(F.interpolate(x, scale_factor=3, mode="bilinear"), x, g)
    torch.testing.assert_close(a, b)


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="`x` must be 4-D"):
        ops.bilinear_upsample(torch.randn(3, 4, 4), 2)
    with pytest.raises(TypeError, match="scale_factor.*integer"):
        ops.bilinear_upsample(torch.randn(1, 1, 4, 4), 1.5)
    with pytest.raises(TypeError, match="float32 or float64.*int32"):
        ops.bilinear_upsample(torch.ones(1, 1, 4, 4, dtype=torch.int32), 2)
    with pytest.raises(TypeError, match="float32 or float64"):
        ops.bilinear_upsample(torch.ones(1, 1, 4, 4, dtype=torch.float16), 2)
