"""upbench.ops.offset_bilinear: native vs reference vs grid_sample, gradients, both CPU modes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from upbench.ops import get_op, offset_bilinear
from upbench.ops.offset_bilinear import offset_bilinear_grid_sample, offset_bilinear_reference

# every test needs the native library; `kernel_mode` (tests/conftest.py) runs a test in both
# CPU kernel modes
pytestmark = pytest.mark.usefixtures("native")


def _gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("case", range(6))
def test_native_matches_reference_and_gradcheck(kernel_mode, case):
    spec = get_op("offset_bilinear")
    c = spec.check_cases(torch.float64, torch.device("cpu"), _gen(20 + case))[case]
    x, off, sh, sw, align = c.args
    torch.testing.assert_close(spec.run("native", *c.args), spec.run("reference", *c.args))
    x.requires_grad_(True)
    off.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda a, b: torch.ops.upbench.offset_bilinear(a, b, sh, sw, align), (x, off),
        fast_mode=True
    )
    go = torch.randn(x.shape[0], x.shape[1], off.shape[2], off.shape[3], generator=_gen(1),
                     dtype=torch.float64)
    got = torch.autograd.grad(spec.run("native", x, off, sh, sw, align), (x, off), go)
    ref = torch.autograd.grad(spec.run("reference", x, off, sh, sw, align), (x, off), go)
    for a, b in zip(got, ref, strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("m", [1, 16])
def test_official_lau_gradcheck_shape(kernel_mode, m):
    """Official gradcheck geometry: input (2, 16, 5, 5), k_h = 3, k_w = 2, float64."""
    g = _gen(7)
    x = torch.randn(2, 16, 5, 5, generator=g, dtype=torch.float64, requires_grad=True)
    off = (torch.rand(2, 2 * m, 15, 10, generator=g, dtype=torch.float64) - 0.5).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: offset_bilinear(a, b, (3, 2), impl="native"),
                                    (x, off), fast_mode=True)


@pytest.mark.parametrize(("m", "align"), [(1, True), (6, True), (1, False), (3, False)])
def test_matches_grid_sample(m, align):
    """Both alignments and offset groups against grid_sample with border padding."""
    g = _gen(3)
    x = torch.randn(2, 6, 7, 9, generator=g, dtype=torch.float64, requires_grad=True)
    off = (torch.randn(2, 2 * m, 14, 18, generator=g, dtype=torch.float64) * 0.8).requires_grad_()
    out = offset_bilinear(x, off, 2, align_corners=align, impl="native")
    peer = offset_bilinear_grid_sample(x, off, 2, 2, align)
    torch.testing.assert_close(out, peer)
    go = torch.randn_like(out)
    for a, b in zip(torch.autograd.grad(out, (x, off), go),
                    torch.autograd.grad(peer, (x, off), go), strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("case", range(6))
def test_aten_peer_on_check_cases(case):
    spec = get_op("offset_bilinear")
    c = spec.check_cases(torch.float64, torch.device("cpu"), _gen(30 + case))[case]
    x, off = c.args[:2]
    x.requires_grad_(True)
    off.requires_grad_(True)
    a, b = spec.run("native", *c.args), spec.run("aten", *c.args)
    torch.testing.assert_close(a, b)
    go = torch.randn_like(a)
    for ga, gb in zip(torch.autograd.grad(a, (x, off), go),
                      torch.autograd.grad(b, (x, off), go), strict=True):
        torch.testing.assert_close(ga, gb)


def test_zero_offsets_is_corner_aligned_sampling():
    """Zero offsets sample at i/s: rows ≤ (h−1)·s equal align_corners bilinear on the grid i/s."""
    g = _gen(4)
    x = torch.randn(1, 3, 4, 5, generator=g, dtype=torch.float64)
    out = offset_bilinear(x, torch.zeros(1, 2, 8, 10, dtype=torch.float64), 2, impl="native")
    torch.testing.assert_close(out[..., ::2, ::2], x)  # integer positions hit the pixels exactly
    mid = 0.5 * (x[..., :, :-1] + x[..., :, 1:])
    torch.testing.assert_close(out[..., ::2, 1:-1:2], mid)
    # beyond the last row/column the position is clamped: the border value repeats
    torch.testing.assert_close(out[..., -1, ::2], x[..., -1, :])


def test_offset_gradient_zero_where_clamped_and_one_sided_at_integers():
    x = torch.arange(16, dtype=torch.float64).view(1, 1, 4, 4).square()
    off = torch.zeros(1, 2, 8, 8, dtype=torch.float64)
    off[0, 0, 0, 0] = -1.0   # row position -1: clamped → zero gradient
    off[0, 1, 0, 0] = 0.0    # column position exactly 0 (an integer): one-sided derivative
    off.requires_grad_(True)
    out = offset_bilinear(x, off, 2, impl="native")
    (g,) = torch.autograd.grad(out[0, 0, 0, 0], off, retain_graph=True)
    assert g[0, 0, 0, 0] == 0
    assert g[0, 1, 0, 0] == x[0, 0, 0, 1] - x[0, 0, 0, 0]  # right neighbour minus left
    # at an interior integer position (row 1 exactly): rows 1 and 2 are used
    (g2,) = torch.autograd.grad(out[0, 0, 2, 0], off)
    assert g2[0, 0, 2, 0] == x[0, 0, 2, 0] - x[0, 0, 1, 0]


def test_backward_deterministic(kernel_mode):
    g = _gen(5)
    x = torch.randn(2, 8, 9, 9, generator=g, requires_grad=True)
    off = (torch.randn(2, 2, 18, 18, generator=g) * 2).requires_grad_()
    go = torch.randn(2, 8, 18, 18, generator=g)
    r1 = torch.autograd.grad(offset_bilinear(x, off, 2, impl="native"), (x, off), go)
    r2 = torch.autograd.grad(offset_bilinear(x, off, 2, impl="native"), (x, off), go)
    for a, b in zip(r1, r2, strict=True):
        assert torch.equal(a, b)


def test_non_contiguous_inputs():
    g = _gen(6)
    x = torch.randn(2, 5, 6, 3, generator=g, dtype=torch.float64).permute(0, 3, 1, 2)
    off = torch.randn(2, 10, 12, 2, generator=g, dtype=torch.float64).permute(0, 3, 1, 2)
    assert not x.is_contiguous() and not off.is_contiguous()
    torch.testing.assert_close(offset_bilinear(x, off, 2, impl="native"),
                               offset_bilinear_reference(x, off, 2, 2))


def test_opcheck():
    c = get_op("offset_bilinear").check_cases(torch.float64, torch.device("cpu"), _gen(8))[0]
    args = list(c.args)
    args[0].requires_grad_(True)
    args[1].requires_grad_(True)
    torch.library.opcheck(torch.ops.upbench.offset_bilinear.default, tuple(args))


def test_bench_case_and_macs():
    spec = get_op("offset_bilinear")
    c = spec.bench_case(gen=_gen(0))
    x, off, sh, sw, _align = c.args
    assert x.shape == (2, 256, 64, 64) and off.shape == (2, 2, 128, 128) and (sh, sw) == (2, 2)
    assert spec.macs(*c.args) == 2 * 256 * 128 * 128 * 4
    with torch.no_grad():
        torch.testing.assert_close(spec.run("native", *c.args), spec.run("aten", *c.args),
                                   atol=2e-4, rtol=1e-4)  # float32 grid normalisation


@pytest.mark.parametrize(
    "args, match",
    [
        ((torch.zeros(1, 4, 4, 4), torch.zeros(1, 3, 8, 8), 2), "2·M channels"),
        ((torch.zeros(1, 4, 4, 4), torch.zeros(1, 2, 8, 7), 2), "shape"),
        ((torch.zeros(1, 4, 4, 4), torch.zeros(1, 2, 8, 8), 0), "scale_factor"),
        ((torch.zeros(1, 4, 4, 4), torch.zeros(1, 2, 8, 8), (2, 2, 2)), "pair"),
    ],
)
def test_bad_input(args, match):
    with pytest.raises((ValueError, TypeError), match=match):
        offset_bilinear(*args)


def test_separate_scales_shape():
    x = torch.randn(1, 2, 3, 4)
    out = offset_bilinear(x, torch.zeros(1, 2, 9, 8), (3, 2), impl="native")
    assert out.shape == (1, 2, 9, 8)
    torch.testing.assert_close(out[..., ::3, ::2], x)
    assert F is not None


def test_half_pixel_zero_offsets_are_bilinear_interpolation():
    """With align_corners=False and Δ = 0 the op is F.interpolate's bilinear (half-pixel), as
    DySample's initial sampling positions are."""
    x = torch.randn(2, 4, 5, 7, generator=_gen(5), dtype=torch.float64)
    out = offset_bilinear(x, torch.zeros(2, 2, 10, 14, dtype=torch.float64), 2,
                          align_corners=False, impl="native")
    torch.testing.assert_close(out, F.interpolate(x, scale_factor=2, mode="bilinear",
                                                  align_corners=False))


def test_groups_must_divide_channels():
    x = torch.randn(1, 6, 3, 3)
    with pytest.raises(ValueError, match="M dividing C = 6"):
        offset_bilinear(x, torch.zeros(1, 8, 6, 6), 2)
    with pytest.raises(TypeError, match="align_corners"):
        offset_bilinear(x, torch.zeros(1, 2, 6, 6), 2, align_corners=1)
