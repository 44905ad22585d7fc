"""Ops at the edges (issue 18, item 10): zero-size inputs give empty (or zero) outputs from the
references as from the native kernels, and NaN / ±inf placed in any input spread the same way
through the native kernels (both CPU kernel modes) and the pure-PyTorch references."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import cpu_kernel_mode
from upbench.ops import carafe, nrd_decode, offset_bilinear, sapa_similarity
from upbench.ops.carafe import random_masks
from upbench.ops.nrd_decode import nrd_num_params

SPECIALS = (float("nan"), float("inf"), float("-inf"))


def _gen():
    return torch.Generator().manual_seed(0)


def _carafe_inputs(n=1, c=4, h=4, w=5, k=3, g=2, s=2):
    gen = _gen()
    x = torch.randn(n, c, h, w, generator=gen, dtype=torch.float64)
    m = random_masks(n, g, k, h, w, s, torch.float64, "cpu", gen)
    return carafe, [x, m], (k, g, s), {}


def _sapa_inputs(n=1, d=3, h=4, w=5, k=3, s=2):
    gen = _gen()
    q = torch.randn(n, d, s * h, s * w, generator=gen, dtype=torch.float64)
    key = torch.randn(n, d, h, w, generator=gen, dtype=torch.float64)
    return sapa_similarity, [q, key], (k, s), {}


def _nrd_inputs(n=1, h=2, w=2, m=2, k=3, d=4, g=2):
    gen = _gen()
    p = torch.randn(n, nrd_num_params(k, d, m), h, w, generator=gen, dtype=torch.float64) * 0.5
    gd = torch.randn(n, m, h * g, w * g, generator=gen, dtype=torch.float64)
    return nrd_decode, [p, gd], (k, d, g), {}


def _offset_inputs(n=1, c=4, h=4, w=5, s=2, m=2, align=True):
    gen = _gen()
    x = torch.randn(n, c, h, w, generator=gen, dtype=torch.float64)
    off = torch.randn(n, 2 * m, s * h, s * w, generator=gen, dtype=torch.float64) * 0.7
    return offset_bilinear, [x, off], (s,), {"align_corners": align}


OPS = {
    "carafe": _carafe_inputs,
    "sapa_similarity": _sapa_inputs,
    "nrd_decode": _nrd_inputs,
    "offset_bilinear": _offset_inputs,
    "offset_bilinear-half-pixel": lambda: _offset_inputs(align=False),
}


def _placements(t: torch.Tensor) -> list[tuple[int, ...]]:
    """Positions to poison: the first and last element, and one in the middle of the map."""
    last = tuple(s - 1 for s in t.shape)
    mid = tuple(s // 2 for s in t.shape)
    return list(dict.fromkeys([(0,) * t.dim(), last, mid]))


def _assert_same_spread(a: torch.Tensor, b: torch.Tensor, what: str) -> None:
    assert a.shape == b.shape, what
    for name, fn in (("NaN", torch.isnan), ("+inf", lambda t: t == float("inf")),
                     ("-inf", lambda t: t == float("-inf"))):
        ma, mb = fn(a), fn(b)
        assert torch.equal(ma, mb), (f"{what}: {name} at {ma.sum().item()} native vs "
                                     f"{mb.sum().item()} reference positions")
    fin = torch.isfinite(a)
    torch.testing.assert_close(a[fin], b[fin], msg=what)


def _sweep():
    for op, make in OPS.items():
        _, tensors, _, _ = make()
        for i, t in enumerate(tensors):
            for pos in _placements(t):
                for v in SPECIALS:
                    yield pytest.param(op, i, pos, v, id=f"{op}-arg{i}-{pos}-{v}")


@pytest.mark.parametrize("mode", ["fast", "elementwise"])
@pytest.mark.parametrize("op,arg,pos,value", list(_sweep()))
def test_non_finite_spreads_as_the_reference(native, mode, op, arg, pos, value):
    fn, tensors, args, kw = OPS[op]()
    tensors[arg][pos] = value
    ref = fn(*tensors, *args, **kw, impl="reference")
    with cpu_kernel_mode(mode):
        out = fn(*tensors, *args, **kw, impl="native")
    _assert_same_spread(out, ref, f"{op} {mode}: input {arg}{list(pos)} = {value}")


def test_nrd_decode_nan_parameter_propagates(native):
    """The issue's case: ReLU written `a > 0 ? a : 0` turned a NaN weight into finite logits."""
    fn, (p, gd), args, _ = _nrd_inputs()
    p[0, 0, 0, 0] = float("nan")  # W1[0, 0] of cell (0, 0)
    for mode in ("fast", "elementwise"):
        with cpu_kernel_mode(mode):
            out = fn(p, gd, *args, impl="native")
        assert out[0, :, :2, :2].isnan().all(), mode  # every pixel and class of that cell
        assert out[0, :, 2:, :].isfinite().all(), mode  # other cells untouched


def test_offset_bilinear_nan_position_stays_in_bounds(native):
    """A NaN offset used to become an undefined (out-of-bounds) index; now the output is NaN."""
    fn, (x, off), args, kw = _offset_inputs()
    off[0, 0, 3, 4] = float("nan")
    for mode in ("fast", "elementwise"):
        with cpu_kernel_mode(mode):
            out = fn(x, off, *args, **kw, impl="native")
        assert out[0, :2, 3, 4].isnan().all() and out.isnan().sum() == 2, mode
    ref = fn(x, off, *args, **kw, impl="reference")
    assert ref[0, :2, 3, 4].isnan().all() and ref.isnan().sum() == 2


ZERO_SIZES = {
    "carafe": [{"n": 0}, {"c": 0}, {"h": 0}, {"w": 0}],
    "sapa_similarity": [{"n": 0}, {"d": 0}, {"h": 0}, {"w": 0}],
    "nrd_decode": [{"n": 0}, {"h": 0}, {"w": 0}, {"m": 0}],
    "offset_bilinear": [{"n": 0}],
}


@pytest.mark.parametrize("op,dims", [(op, d) for op, ds in ZERO_SIZES.items() for d in ds],
                         ids=lambda v: str(v))
def test_zero_size_inputs(native, op, dims):
    make = {"carafe": _carafe_inputs, "sapa_similarity": _sapa_inputs,
            "nrd_decode": _nrd_inputs, "offset_bilinear": _offset_inputs}[op]
    fn, tensors, args, kw = make(**dims)
    out = fn(*tensors, *args, **kw, impl="native")
    tensors = [t.clone().requires_grad_() for t in tensors]
    ref = fn(*tensors, *args, **kw, impl="reference")
    assert ref.shape == out.shape
    torch.testing.assert_close(ref.detach(), out)
    ref.sum().backward()  # the reference stays differentiable on empty inputs
    assert all(t.grad is not None and t.grad.shape == t.shape for t in tensors)
