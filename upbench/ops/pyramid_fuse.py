"""Pyramid fuse ("Specialize and Fuse", Hsiao et al., ICCV 2021, Eq. 2).

Levels ℓ = 0 (coarsest) … L−1 (finest), each twice the previous in size (strides doubling
downwards, e.g. 32, 16, 8, 4). For every finest-level pixel the fused logits are those of the
coarsest level ℓ whose nearest-upsampled unity probability is ≥ τ (all coarser levels < τ); the
finest level is taken when no coarser one qualifies. A unity-cell at level ℓ therefore claims all
4^(L−1−ℓ) finest pixels below it. Also returns the chosen level per finest pixel (int64).
The gradient flows to the chosen level only (summed over the pixels a cell claims); the unity
maps get none (the choice is a hard threshold).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from upbench.ops._autocast import autocast_frontend
from upbench.ops._checks import check_cpu_dtype, check_same, check_tensor
from upbench.ops._registry import OpCase, OpSpec, call_backward, register_op, run_op
from upbench.utils.numbers import check_number

OP = "pyramid_fuse"
MAX_LEVELS = 8


def _validate(semantic, unity, tau) -> float:
    if not isinstance(semantic, (list, tuple)) or not isinstance(unity, (list, tuple)):
        raise TypeError(f"{OP}: `semantic` and `unity` must be lists of tensors")
    L = len(semantic)
    if not 1 <= L <= MAX_LEVELS:
        raise ValueError(f"{OP}: `semantic` must have 1..{MAX_LEVELS} levels, got {L}")
    if len(unity) != L - 1:
        raise ValueError(
            f"{OP}: `unity` must have one map per level except the finest ({L - 1}), got {len(unity)}"
        )
    for i, t in enumerate(semantic):
        check_tensor(t, f"semantic[{i}]", OP)
    for i, t in enumerate(unity):
        check_tensor(t, f"unity[{i}]", OP)
    check_same(OP, **{f"semantic[{i}]": t for i, t in enumerate(semantic)},
               **{f"unity[{i}]": t for i, t in enumerate(unity)})
    check_cpu_dtype(semantic[0], "semantic[0]", OP)
    n, k, h0, w0 = semantic[0].shape
    for i, t in enumerate(semantic):
        want = (n, k, h0 << i, w0 << i)
        if tuple(t.shape) != want:
            raise ValueError(f"{OP}: `semantic[{i}]` must be (N, K, h0·2^{i}, w0·2^{i}) = {want}; "
                             f"got {tuple(t.shape)}")
    for i, t in enumerate(unity):
        want = (n, 1, h0 << i, w0 << i)
        if tuple(t.shape) != want:
            raise ValueError(f"{OP}: `unity[{i}]` must be (N, 1, h_{i}, w_{i}) = {want}; got "
                             f"{tuple(t.shape)}")
    return float(check_number(tau, f"{OP}: `tau`", ge=0.0, le=1.0,
                              why="a threshold on the unity maps, which lie in [0, 1]"))


@autocast_frontend(OP)
def pyramid_fuse(
    semantic: Sequence[torch.Tensor],
    unity: Sequence[torch.Tensor],
    tau: float = 0.9,
    *,
    impl: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fuse a semantic pyramid by its unity pyramid.

    Args:
        semantic: L logit maps, coarsest first, level ℓ of shape (N, K, h0·2^ℓ, w0·2^ℓ).
        unity: L−1 unity probabilities (after the sigmoid), level ℓ of shape (N, 1, h0·2^ℓ, w0·2^ℓ).
        tau: unity threshold τ (0.9 in the paper).
        impl: ``"auto"``, ``"native"`` or ``"reference"``.

    Returns:
        (fused logits (N, K, H, W) at the finest level, chosen level (N, H, W) int64).
    """
    t = _validate(semantic, unity, tau)
    return run_op(OP, impl, semantic[0].device, list(semantic), list(unity), t)


def _choose(unity, L, size, tau):
    H, W = size
    n = unity[0].shape[0] if unity else None
    level = None
    for l in range(L - 2, -1, -1):  # finest-but-one to coarsest: the coarsest qualifying wins
        f = 1 << (L - 1 - l)
        hit = (unity[l][:, 0] >= tau).repeat_interleave(f, 1).repeat_interleave(f, 2)
        if level is None:
            level = torch.full((n, H, W), L - 1, dtype=torch.long, device=unity[0].device)
        level = torch.where(hit, torch.full_like(level, l), level)
    return level


def pyramid_fuse_reference(semantic, unity, tau=0.9):
    """Pure PyTorch: nearest upsampling by repeat_interleave and a ``torch.where`` chain."""
    L = len(semantic)
    fin = semantic[-1]
    if L == 1:
        return fin.clone(), torch.full((fin.shape[0], *fin.shape[2:]), 0, dtype=torch.long,
                                       device=fin.device)
    level = _choose(unity, L, fin.shape[2:], tau)
    out = fin
    for l in range(L - 2, -1, -1):
        f = 1 << (L - 1 - l)
        up = semantic[l].repeat_interleave(f, 2).repeat_interleave(f, 3)
        out = torch.where((level == l).unsqueeze(1), up, out)
    return out, level


def pyramid_fuse_aten(semantic, unity, tau=0.9):
    """The best pure-ATen formulation found: one nearest ``interpolate`` per coarser level and a
    ``torch.where`` chain from the finest-but-one to the coarsest level (coarsest wins)."""
    L = len(semantic)
    out = semantic[-1]
    size = out.shape[2:]
    level = torch.full((out.shape[0], *size), L - 1, dtype=torch.long, device=out.device)
    for l in range(L - 2, -1, -1):
        hit = F.interpolate((unity[l] >= tau).to(out.dtype), size=size, mode="nearest") > 0.5
        out = torch.where(hit, F.interpolate(semantic[l], size=size, mode="nearest"), out)
        level = torch.where(hit[:, 0], l, level)
    return out, level


def pyramid_fuse_macs(semantic, unity, tau=0.9) -> int:
    """A selection: no multiply-accumulates."""
    return 0


def pyramid_fuse_backward_macs(grad_out, level, num_levels) -> int:
    """``_pyramid_fuse_backward``: each pixel's gradient goes to its chosen level, summed over
    the pixels a cell claims: no multiply-accumulates."""
    return 0


def _bytes(semantic, unity, tau=0.9) -> int:
    fin = semantic[-1]
    total = sum(t.numel() for t in semantic) + sum(t.numel() for t in unity) + fin.numel()
    return total * fin.element_size() + fin.numel() // fin.shape[1] * 8


def random_pyramid(n, k, h0, w0, levels, dtype, device, gen):
    """Random logits and unity probabilities (uniform in [0, 1)) for ``levels`` levels."""
    sem = [torch.randn(n, k, h0 << i, w0 << i, generator=gen, dtype=dtype).to(device)
           for i in range(levels)]
    uni = [torch.rand(n, 1, h0 << i, w0 << i, generator=gen, dtype=dtype).to(device)
           for i in range(levels - 1)]
    return sem, uni


def _case(n, k, h0, w0, levels, tau, dtype, device, gen) -> OpCase:
    sem, uni = random_pyramid(n, k, h0, w0, levels, dtype, device, gen)
    return OpCase(f"L{levels} K{k} coarsest({n},{h0},{w0}) tau{tau}", (sem, uni, tau))


def _check_cases(dtype, device, gen) -> list[OpCase]:
    return [
        _case(2, 3, 2, 3, 3, 0.5, dtype, device, gen),
        _case(1, 2, 1, 1, 4, 0.7, dtype, device, gen),
        _case(2, 4, 3, 1, 2, 0.3, dtype, device, gen),
        _case(1, 3, 2, 2, 1, 0.9, dtype, device, gen),
    ]


def _bench_case(shape=None, levels=4, tau=0.9, dtype=torch.float32, device="cpu",
                gen=None, **_) -> OpCase:
    """Default: N=2, K=19, coarsest 16×16 (stride 32 of 512²), L=4 (finest 128×128), τ=0.9;
    ``shape`` is (N, K, h0, w0)."""
    shape = (2, 19, 16, 16) if shape is None else shape
    n, k, h0, w0 = shape
    return _case(n, k, h0, w0, levels, tau, dtype, torch.device(device), gen)


def _register() -> None:
    @torch.library.register_fake("upbench::pyramid_fuse")
    def _fake(semantic, unity, tau):
        fin = semantic[-1]
        return fin.new_empty(fin.shape), fin.new_empty((fin.shape[0], *fin.shape[2:]),
                                                       dtype=torch.long)

    @torch.library.register_fake("upbench::_pyramid_fuse_backward")
    def _fake_bwd(grad_out, level, num_levels):
        n, k, hh, ww = grad_out.shape
        return [grad_out.new_empty((n, k, hh >> (num_levels - 1 - i), ww >> (num_levels - 1 - i)))
                for i in range(num_levels)]

    def _setup(ctx, inputs, output):
        semantic, _unity, _tau = inputs
        ctx.save_for_backward(output[1])
        ctx.num_levels = len(semantic)
        ctx.num_unity = len(_unity)

    def _backward(ctx, grad_out, _grad_level):
        (level,) = ctx.saved_tensors
        if grad_out is None:
            return None, None, None
        grads = call_backward(torch.ops.upbench._pyramid_fuse_backward, grad_out.contiguous(),
                              level, ctx.num_levels)
        return list(grads), [None] * ctx.num_unity, None

    torch.library.register_autograd("upbench::pyramid_fuse", _backward, setup_context=_setup)

    # the backward is linear in grad_out: its adjoint gathers each pixel from its chosen level
    def _setup2(ctx, inputs, output):
        ctx.save_for_backward(inputs[1])
        ctx.num_levels = inputs[2]

    def _backward2(ctx, ggs):
        (level,) = ctx.saved_tensors
        out = None
        for i, gg in enumerate(ggs):
            if gg is None:
                continue
            f = 1 << (ctx.num_levels - 1 - i)
            up = gg.repeat_interleave(f, 2).repeat_interleave(f, 3) if f > 1 else gg
            part = up * (level == i).unsqueeze(1).to(up.dtype)
            out = part if out is None else out + part
        return out, None, None

    torch.library.register_autograd("upbench::_pyramid_fuse_backward", _backward2,
                                    setup_context=_setup2)


SPEC = register_op(
    OpSpec(
        name=OP,
        schema="pyramid_fuse(Tensor[] semantic, Tensor[] unity, float tau) -> (Tensor, Tensor)",
        native=lambda *a: torch.ops.upbench.pyramid_fuse(*a),
        reference=pyramid_fuse_reference,
        macs=pyramid_fuse_macs,
        check_cases=_check_cases,
        bench_case=_bench_case,
        register=_register,
        grad_inputs=(0,),
        bytes_moved=_bytes,
        backward_macs=pyramid_fuse_backward_macs,
        aten=pyramid_fuse_aten,
        aten_name="nearest interpolate + torch.where chain",
    )
)
