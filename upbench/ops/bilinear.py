"""Bilinear upsampling by an integer factor, half-pixel centres (``align_corners=False``).

The same sampling as ``torch.nn.functional.interpolate(x, scale_factor=s, mode="bilinear")``,
which is this op's ATen peer in benchmarks.
"""

from __future__ import annotations

import functools
from fractions import Fraction

import numpy as np
import torch
import torch.nn.functional as F

from upbench.ops._autocast import autocast_frontend
from upbench.ops._checks import check_cpu_dtype, check_int, check_output, check_tensor
from upbench.ops._registry import OpCase, OpSpec, call_backward, register_op, run_op

OP = "bilinear_upsample"


@autocast_frontend(OP)
def bilinear_upsample(x: torch.Tensor, scale_factor: int, *, impl: str = "auto") -> torch.Tensor:
    """Upsample ``x`` (N, C, h, w) bilinearly to (N, C, s·h, s·w).

    Args:
        x: input features.
        scale_factor: integer s ≥ 1.
        impl: ``"auto"``, ``"native"`` or ``"reference"``.
    """
    check_tensor(x, "x", OP)
    check_cpu_dtype(x, "x", OP)
    s = check_int(scale_factor, "scale_factor", OP)
    n, c, h, w = x.shape
    check_output(OP, (n, c, h * s, w * s), x)
    return run_op(OP, impl, x.device, x, s)


@functools.lru_cache(maxsize=512)
def source_positions(size: int, s: int, double: bool) -> tuple[float, ...]:
    """Source coordinates of the ``size·s`` outputs along one axis, rounded as ATen's compiled
    kernel rounds them: ``fma(1/s, dst + 0.5, -0.5)`` with ``1/s`` rounded to the accumulation
    type (float32, or float64 for double inputs) and one rounding of the fused result — computed
    exactly here and rounded once. The exact zero weights (and so where 0·inf makes NaN) follow."""
    if s == 1:
        return tuple(float(d) for d in range(size))
    scale = Fraction(1.0 / s) if double else Fraction(float(np.float32(1.0 / s)))
    exact = (scale * (Fraction(2 * d + 1, 2)) - Fraction(1, 2) for d in range(size * s))
    if double:
        return tuple(float(v) for v in exact)  # float(Fraction) rounds correctly
    # products of a 24-bit scale and a short index are exact in double: one rounding to float32
    return tuple(float(np.float32(float(v))) for v in exact)


def bilinear_reference(x: torch.Tensor, scale_factor: int) -> torch.Tensor:
    """Pure-PyTorch bilinear upsampling by explicit gathers and lerps (no ATen interpolate), with
    ATen's source coordinates (:func:`source_positions`); at a scale of 1 each output reads its
    own input with weights 1 and 0, as in ATen (so an infinity becomes NaN there too)."""
    _n, _c, h, w = x.shape
    s = scale_factor

    def axis(size: int):
        pos = source_positions(size, s, x.dtype == torch.float64)
        src = torch.tensor(pos, dtype=x.dtype, device=x.device).clamp_min(0)
        i0 = src.floor().long().clamp_max(size - 1)
        i1 = i0 if s == 1 else (i0 + 1).clamp_max(size - 1)
        lam = (src - i0.to(x.dtype)).clamp(0, 1)
        return i0, i1, lam

    y0, y1, ly = axis(h)
    x0, x1, lx = axis(w)
    rows0, rows1 = x[:, :, y0, :], x[:, :, y1, :]
    ly = ly.view(-1, 1)
    top = rows0[..., x0] * (1 - lx) + rows0[..., x1] * lx
    bot = rows1[..., x0] * (1 - lx) + rows1[..., x1] * lx
    return top * (1 - ly) + bot * ly


def bilinear_aten(x: torch.Tensor, scale_factor: int) -> torch.Tensor:
    """ATen's interpolate with the same convention (the speed peer)."""
    return F.interpolate(x, scale_factor=scale_factor, mode="bilinear", align_corners=False)


def bilinear_macs(x: torch.Tensor, scale_factor: int) -> int:
    """Multiply-accumulates: 4 taps per output element (fvcore counts interpolate likewise)."""
    return 4 * x.numel() * scale_factor**2


def bilinear_backward_macs(grad_out, h, w, scale_factor) -> int:
    """``_bilinear_upsample_backward``: each output gradient is scattered to its 4 taps, 4 per
    element of grad_out (the forward's count)."""
    return 4 * grad_out.numel()


def _bytes(x, scale_factor) -> int:
    return x.numel() * (1 + scale_factor**2) * x.element_size()


def _case(n, c, h, w, s, dtype, device, gen) -> OpCase:
    x = torch.randn(n, c, h, w, generator=gen, dtype=dtype).to(device)
    return OpCase(f"x({n},{c},{h},{w}) s{s}", (x, s))


def _check_cases(dtype, device, gen) -> list[OpCase]:
    return [
        _case(2, 3, 7, 5, 2, dtype, device, gen),
        _case(1, 4, 5, 7, 3, dtype, device, gen),
        _case(1, 2, 1, 1, 4, dtype, device, gen),
        _case(2, 2, 4, 3, 1, dtype, device, gen),
    ]


def _bench_case(shape=(2, 256, 64, 64), scale=2, dtype=torch.float32, device="cpu", gen=None,
                **_) -> OpCase:
    n, c, h, w = shape
    return _case(n, c, h, w, scale, dtype, torch.device(device), gen)


def _register() -> None:
    @torch.library.register_fake("upbench::bilinear_upsample")
    def _fake(x, scale_factor):
        n, c, h, w = x.shape
        return x.new_empty((n, c, h * scale_factor, w * scale_factor))

    @torch.library.register_fake("upbench::_bilinear_upsample_backward")
    def _fake_bwd(grad_out, h, w, scale_factor):
        return grad_out.new_empty((grad_out.shape[0], grad_out.shape[1], h, w))

    def _setup(ctx, inputs, output):
        x, s = inputs
        ctx.args = (x.shape[2], x.shape[3], s)

    def _backward(ctx, grad):
        return call_backward(torch.ops.upbench._bilinear_upsample_backward, grad.contiguous(),
                             *ctx.args), None

    torch.library.register_autograd("upbench::bilinear_upsample", _backward, setup_context=_setup)

    # the backward is linear in grad_out: its own backward (double backward) is the forward
    def _setup2(ctx, inputs, output):
        ctx.s = inputs[3]

    def _backward2(ctx, gg):
        return torch.ops.upbench.bilinear_upsample(gg.contiguous(), ctx.s), None, None, None

    torch.library.register_autograd("upbench::_bilinear_upsample_backward", _backward2,
                                    setup_context=_setup2)


SPEC = register_op(
    OpSpec(
        name=OP,
        schema="bilinear_upsample(Tensor x, int scale_factor) -> Tensor",
        native=lambda *a: torch.ops.upbench.bilinear_upsample(*a),
        reference=bilinear_reference,
        macs=bilinear_macs,
        check_cases=_check_cases,
        bench_case=_bench_case,
        register=_register,
        grad_inputs=(0,),
        bytes_moved=_bytes,
        backward_macs=bilinear_backward_macs,
        aten=bilinear_aten,
        aten_name="aten::upsample_bilinear2d",
        source_folder="bilinear",
    )
)
