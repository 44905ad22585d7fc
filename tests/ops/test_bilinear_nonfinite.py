"""Native bilinear and its reference on NaN/inf inputs: the same outputs as ATen's interpolate
(which multiplies every tap, so 0·inf is NaN where a zero-weight tap reads an infinity).

Exact for float32 at every scale (ATen's coordinates are fma(1/s, dst + 0.5, -0.5) in float). For
float64 ATen's compiled kernel rounds the coordinates of some scales differently from call site
to call site (neither the fused nor the unfused formula reproduces all of them), so float64 is
held to ATen at the scales where every rounding agrees (1, 2, 4) and elsewhere to the propagation
itself: every output with a non-zero weight on a non-finite input is non-finite."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from upbench.ops import get_op


def same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal NaN positions, equal infinities, close finite values."""
    if not torch.equal(a.isnan(), b.isnan()) or not torch.equal(a.isinf(), b.isinf()):
        return False
    fin = a.isfinite()
    return torch.equal(a[a.isinf()], b[b.isinf()]) and torch.allclose(a[fin], b[fin], atol=1e-6)


def nonfinite_input(dtype: torch.dtype, seed: int) -> torch.Tensor:
    x = torch.randn(2, 3, 7, 6, dtype=dtype, generator=torch.Generator().manual_seed(seed))
    x[0, 0, 2, 3] = float("nan")
    x[0, 1, 1, 1] = float("inf")
    x[1, 2, 6, 5] = -float("inf")
    x[1, 0, 0, 0] = float("nan")
    return x


CASES = [(torch.float32, s) for s in (1, 2, 3, 4, 5, 7)] + [(torch.float64, s) for s in (1, 2, 4)]


@pytest.mark.parametrize(("dtype", "scale"), CASES)
@pytest.mark.parametrize("impl", ["native", "reference"])
def test_nan_and_inf_reach_the_outputs_aten_gives(impl, scale, dtype):
    x = nonfinite_input(dtype, scale)
    want = F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)
    got = get_op("bilinear_upsample").run(impl, x, scale)
    assert same(got, want)


@pytest.mark.parametrize("scale", [3, 5])
@pytest.mark.parametrize("impl", ["native", "reference"])
def test_float64_propagates_to_every_output_that_reads_a_nonfinite_input(impl, scale):
    x = nonfinite_input(torch.float64, scale)
    got = get_op("bilinear_upsample").run(impl, x, scale)
    reads_bad = get_op("bilinear_upsample").run(impl, (~x.isfinite()).double(), scale) > 0
    assert not got[reads_bad].isfinite().any()
    ref = get_op("bilinear_upsample").run("reference", x, scale)
    assert torch.equal(got.isnan(), ref.isnan())
