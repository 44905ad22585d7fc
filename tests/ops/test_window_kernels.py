"""The vectorised CPU kernels at sizes that reach their register blocks and tails, in both CPU
kernel modes, forward and backward, against float64 references: CARAFE and SAPA similarity
(ops_cuda/common/upb_window_cpu.h: 64-column blocks, 16-column tails, every specialised scale of
expand_row), offset_bilinear (16-column gathers, channel blocks) and pixel_shuffle (every
scale path)."""

from __future__ import annotations

import pytest
import torch

from upbench.ops.carafe import carafe, carafe_reference, random_masks
from upbench.ops.sapa_similarity import sapa_similarity, sapa_similarity_reference

# (h, w, K, s): W = s*w spans one or two 64-column blocks plus a tail, or tails only
SHAPES = [(5, 37, 5, 2), (3, 45, 3, 3), (4, 70, 3, 1), (2, 17, 5, 4), (3, 9, 3, 5)]


def _grads(fn, inputs, go):
    inputs = [t.detach().requires_grad_() for t in inputs]
    out = fn(*inputs)
    return [out, *torch.autograd.grad(out, inputs, go)]


@pytest.mark.parametrize(("h", "w", "k", "s"), SHAPES)
@pytest.mark.parametrize("groups", [1, 2])
def test_carafe_blocks_match_reference(kernel_mode, h, w, k, s, groups):
    gen = torch.Generator().manual_seed(h * w + k + s)
    x = torch.randn(2, 6, h, w, generator=gen)
    m = random_masks(2, groups, k, h, w, s, torch.float32, "cpu", gen)
    go = torch.randn(2, 6, h * s, w * s, generator=gen)
    got = _grads(lambda a, b: carafe(a, b, k, groups, s, impl="native"), (x, m), go)
    want = _grads(lambda a, b: carafe_reference(a, b, k, groups, s),
                  (x.double(), m.double()), go.double())
    for g, r in zip(got, want, strict=True):
        torch.testing.assert_close(g.double(), r, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize(("h", "w", "k", "s"), SHAPES)
def test_sapa_blocks_match_reference(kernel_mode, h, w, k, s):
    gen = torch.Generator().manual_seed(h * w + k * s)
    q = torch.randn(2, 5, h * s, w * s, generator=gen)
    key = torch.randn(2, 5, h, w, generator=gen)
    go = torch.randn(2, k * k, h * s, w * s, generator=gen)
    got = _grads(lambda a, b: sapa_similarity(a, b, k, s, impl="native"), (q, key), go)
    want = _grads(lambda a, b: sapa_similarity_reference(a, b, k, s),
                  (q.double(), key.double()), go.double())
    for g, r in zip(got, want, strict=True):
        torch.testing.assert_close(g.double(), r, atol=1e-4, rtol=1e-4)


def test_sapa_out_of_map_taps_are_zero_even_for_non_finite_queries(native):
    q = torch.full((1, 2, 4, 6), float("inf"))
    key = torch.ones(1, 2, 2, 3)
    sim = sapa_similarity(q, key, 3, 2, impl="native")
    # tap (0, 0) of query pixel (0, 0) lies outside the key map: exactly 0, not 0 * inf = nan
    assert sim[0, 0, 0, 0].item() == 0.0
    assert sim[0, 0, :2].eq(0).all() and sim[0, :3, :2].eq(0).all()


@pytest.mark.parametrize("groups", [1, 2, 20])
@pytest.mark.parametrize("align", [True, False])
def test_offset_bilinear_blocks_match_reference(kernel_mode, groups, align):
    """16-column AVX-512 steps plus tail columns, 16-channel blocks, 8-channel gradient blocks."""
    from upbench.ops.offset_bilinear import _case, offset_bilinear_reference

    gen = torch.Generator().manual_seed(groups)
    x, off, sh, sw, _ = _case(2, 20, 6, 13, 2, 2, groups, torch.float32, "cpu", gen,
                              align=align).args
    go = torch.randn(2, 20, 12, 26, generator=gen)
    got = _grads(lambda a, b: torch.ops.upbench.offset_bilinear(a, b, sh, sw, align), (x, off), go)
    want = _grads(lambda a, b: offset_bilinear_reference(a, b, sh, sw, align),
                  (x.double(), off.double()), go.double())
    for g, r in zip(got, want, strict=True):
        torch.testing.assert_close(g.double(), r, atol=1e-4, rtol=1e-4)


def test_out_of_map_column_taps_ignore_non_finite_weights(kernel_mode):
    """A tap whose column lies outside the map is skipped whatever its weight: a NaN mask there
    (CARAFE forward) or a NaN similarity gradient there (SAPA query gradient) stays out."""
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(1, 4, 5, 40, generator=gen)
    m = random_masks(1, 1, 3, 5, 40, 2, torch.float32, "cpu", gen)
    m[0, 3, 4, 0] = float("nan")  # tap (i=1, j=0) of pixel (4, 0) reads column -1
    out = carafe(x, m, 3, 1, 2, impl="native")
    assert out.isfinite().all()
    torch.testing.assert_close(out, carafe_reference(x, m, 3, 1, 2), atol=1e-5, rtol=1e-5)
    q = torch.randn(1, 3, 10, 80, generator=gen, requires_grad=True)
    key = torch.randn(1, 3, 5, 40, generator=gen)
    go = torch.randn(1, 9, 10, 80, generator=gen)
    go[0, 3, 4, 0] = float("nan")
    (gq,) = torch.autograd.grad(sapa_similarity(q, key, 3, 2, impl="native"), (q,), go)
    assert gq.isfinite().all()


@pytest.mark.parametrize("s", [1, 2, 3, 4, 5])
def test_pixel_shuffle_every_scale_path_matches_aten(native, s):
    """The compile-time s = 2..4 interleaves and the runtime-s fallback (s = 1, 5)."""
    gen = torch.Generator().manual_seed(s)
    x = torch.randn(2, 3 * s * s, 4, 6, generator=gen)
    go = torch.randn(2, 3, 4 * s, 6 * s, generator=gen)
    got = _grads(lambda a: torch.ops.upbench.pixel_shuffle(a, s), (x,), go)
    want = _grads(lambda a: torch.nn.functional.pixel_shuffle(a, s), (x,), go)
    for g, r in zip(got, want, strict=True):
        assert torch.equal(g, r)
