"""Depth-to-space: (N, C·s², h, w) → (N, C, s·h, s·w), as ``torch.nn.functional.pixel_shuffle``
(the ATen peer in benchmarks)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from upbench.ops._autocast import autocast_frontend
from upbench.ops._checks import check_cpu_dtype, check_int, check_tensor
from upbench.ops._registry import OpCase, OpSpec, call_backward, register_op, run_op

OP = "pixel_shuffle"


@autocast_frontend(OP)
def pixel_shuffle(x: torch.Tensor, upscale_factor: int, *, impl: str = "auto") -> torch.Tensor:
    """Rearrange channels into space: ``out[n, c, h·s+i, w·s+j] = x[n, c·s²+i·s+j, h, w]``.

    Args:
        x: input (N, C·s², h, w).
        upscale_factor: integer s ≥ 1; the channels of ``x`` must be divisible by s².
        impl: ``"auto"``, ``"native"`` or ``"reference"``.
    """
    check_tensor(x, "x", OP)
    check_cpu_dtype(x, "x", OP)
    s = check_int(upscale_factor, "upscale_factor", OP)
    if x.shape[1] % (s * s):
        raise ValueError(
            f"{OP}: channels of `x` ({x.shape[1]}) must be divisible by upscale_factor² ({s * s})"
        )
    return run_op(OP, impl, x.device, x, s)


def pixel_shuffle_reference(x: torch.Tensor, upscale_factor: int) -> torch.Tensor:
    """Pure-PyTorch depth-to-space by reshape and permute."""
    n, cs, h, w = x.shape
    s = upscale_factor
    c = cs // (s * s)
    return x.reshape(n, c, s, s, h, w).permute(0, 1, 4, 2, 5, 3).reshape(n, c, h * s, w * s)


def pixel_shuffle_macs(x: torch.Tensor, upscale_factor: int) -> int:
    """A pure permutation: no multiply-accumulates."""
    return 0


def pixel_shuffle_backward_macs(grad_out, upscale_factor) -> int:
    """``_pixel_shuffle_backward``: the inverse permutation, no multiply-accumulates."""
    return 0


def _bytes(x, upscale_factor) -> int:
    return 2 * x.numel() * x.element_size()


def _case(n, c, h, w, s, dtype, device, gen) -> OpCase:
    x = torch.randn(n, c * s * s, h, w, generator=gen, dtype=dtype).to(device)
    return OpCase(f"x({n},{c * s * s},{h},{w}) s{s}", (x, s))


def _check_cases(dtype, device, gen) -> list[OpCase]:
    return [
        _case(2, 3, 7, 5, 2, dtype, device, gen),
        _case(1, 2, 5, 7, 3, dtype, device, gen),
        _case(1, 1, 1, 1, 4, dtype, device, gen),
    ]


def _bench_case(shape=(2, 256, 64, 64), scale=2, dtype=torch.float32, device="cpu", gen=None,
                **_) -> OpCase:
    n, c, h, w = shape
    return _case(n, c, h, w, scale, dtype, torch.device(device), gen)


def _register() -> None:
    @torch.library.register_fake("upbench::pixel_shuffle")
    def _fake(x, s):
        n, c, h, w = x.shape
        return x.new_empty((n, c // (s * s), h * s, w * s))

    @torch.library.register_fake("upbench::_pixel_shuffle_backward")
    def _fake_bwd(grad_out, s):
        n, c, hh, ww = grad_out.shape
        return grad_out.new_empty((n, c * s * s, hh // s, ww // s))

    def _setup(ctx, inputs, output):
        ctx.s = inputs[1]

    def _backward(ctx, grad):
        return call_backward(torch.ops.upbench._pixel_shuffle_backward, grad.contiguous(),
                             ctx.s), None

    torch.library.register_autograd("upbench::pixel_shuffle", _backward, setup_context=_setup)

    # the backward (depth-to-space's adjoint) is linear: its own backward is the forward
    def _backward2(ctx, gg):
        return torch.ops.upbench.pixel_shuffle(gg.contiguous(), ctx.s), None

    torch.library.register_autograd("upbench::_pixel_shuffle_backward", _backward2,
                                    setup_context=_setup)


SPEC = register_op(
    OpSpec(
        name=OP,
        schema="pixel_shuffle(Tensor x, int upscale_factor) -> Tensor",
        native=lambda *a: torch.ops.upbench.pixel_shuffle(*a),
        reference=pixel_shuffle_reference,
        macs=pixel_shuffle_macs,
        check_cases=_check_cases,
        bench_case=_bench_case,
        register=_register,
        grad_inputs=(0,),
        bytes_moved=_bytes,
        backward_macs=pixel_shuffle_backward_macs,
        aten=F.pixel_shuffle,
        aten_name="aten::pixel_shuffle",
    )
)
