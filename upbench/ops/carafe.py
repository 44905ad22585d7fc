"""CARAFE reassembly (Wang et al., ICCV 2019) with mmcv's semantics.

``out[n,c,p,q] = sum_{i,j<K} masks[n, g(c)K² + iK + j, p, q] · x[n, c, ⌊p/s⌋+i−r, ⌊q/s⌋+j−r]``,
r = K // 2, g(c) = c // (C/G). Taps outside ``x`` are skipped (whatever their mask) and the masks are not
renormalised: they arrive already normalised (softmax over the K² taps), shape (N, G·K², s·h, s·w).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from upbench.ops._autocast import autocast_frontend
from upbench.ops._checks import check_cpu_dtype, check_int, check_same, check_tensor
from upbench.ops._registry import (
    OpCase,
    OpSpec,
    register_backward_op,
    register_op,
    run_op,
)

OP = "carafe"


def _validate(features, masks, kernel_size, group_size, scale_factor) -> tuple[int, int, int]:
    check_tensor(features, "features", OP)
    check_tensor(masks, "masks", OP)
    check_same(OP, features=features, masks=masks)
    check_cpu_dtype(features, "features", OP)
    k = check_int(kernel_size, "kernel_size", OP, odd=True)
    g = check_int(group_size, "group_size", OP)
    s = check_int(scale_factor, "scale_factor", OP)
    n, c, h, w = features.shape
    if c % g:
        raise ValueError(f"{OP}: channels of `features` ({c}) must be divisible by group_size ({g})")
    want = (n, g * k * k, s * h, s * w)
    if tuple(masks.shape) != want:
        raise ValueError(
            f"{OP}: `masks` must have shape (N, group_size·K², s·h, s·w) = {want} for features "
            f"{tuple(features.shape)}, K={k}, group_size={g}, scale_factor={s}; got "
            f"{tuple(masks.shape)}"
        )
    return k, g, s


@autocast_frontend(OP)
def carafe(
    features: torch.Tensor,
    masks: torch.Tensor,
    kernel_size: int,
    group_size: int = 1,
    scale_factor: int = 2,
    *,
    impl: str = "auto",
) -> torch.Tensor:
    """Content-aware reassembly of features.

    Args:
        features: low-resolution features (N, C, h, w).
        masks: normalised reassembly kernels (N, group_size·K², s·h, s·w).
        kernel_size: K, odd.
        group_size: G; channel c uses kernel group c // (C / G).
        scale_factor: integer s ≥ 1.
        impl: ``"auto"`` (native, else the reference with a warning), ``"native"``, ``"reference"``.

    Returns:
        The reassembled features (N, C, s·h, s·w).
    """
    k, g, s = _validate(features, masks, kernel_size, group_size, scale_factor)
    return run_op(OP, impl, features.device, features, masks, k, g, s)


def carafe_reference(features, masks, kernel_size, group_size=1, scale_factor=2) -> torch.Tensor:
    """Pure-PyTorch CARAFE: unfold the K×K windows at low resolution, contract with the masks.

    The windows are gathered once per low-res location (N, C·K², h·w) and contracted with the s²
    sub-pixel kernels by einsum, so no high-resolution copy of the windows is made.
    """
    n, c, h, w = features.shape
    k, g, s = kernel_size, group_size, scale_factor
    if features.numel() == 0:  # unfold rejects empty maps; the output is empty (or all zeros)
        return _empty_like_output(features, masks, (n, c, h * s, w * s))
    win = F.unfold(features, k, padding=k // 2).view(n, g, c // g, k * k, h, w)
    m = masks.view(n, g, k * k, h, s, w, s)
    # taps outside x are skipped (as the native kernels), so a non-finite mask value there
    # does not reach the output through the zero padding
    inside = F.unfold(features.new_ones(1, 1, h, w), k, padding=k // 2).view(1, 1, k * k, h, 1, w, 1)
    m = torch.where(inside > 0, m, m.new_zeros(()))
    out = torch.einsum("ngckhw,ngkhawb->ngchawb", win, m)
    return out.reshape(n, c, h * s, w * s)


def _empty_like_output(a: torch.Tensor, b: torch.Tensor, shape) -> torch.Tensor:
    """Zeros of ``shape`` still connected to the (empty) inputs for autograd."""
    return a.new_zeros(shape) + (a.sum() + b.sum()) * 0


def carafe_macs(features, masks, kernel_size, group_size=1, scale_factor=2) -> int:
    """Multiply-accumulates of the reassembly: N·C·(s·h)·(s·w)·K²."""
    n, c, h, w = features.shape
    return n * c * h * w * scale_factor**2 * kernel_size**2


def carafe_backward_macs(grad_out, features, masks, kernel_size, group_size=1,
                         scale_factor=2) -> int:
    """``_carafe_backward``: twice the forward, N·C·(s·h)·(s·w)·K² for the features' gradient
    (each output gradient scattered to its K² taps) and as many for the masks' (each of the
    N·G·K²·(s·h)·(s·w) mask entries sums C/G products)."""
    return 2 * carafe_macs(features, masks, kernel_size, group_size, scale_factor)


def _bytes(features, masks, kernel_size, group_size=1, scale_factor=2) -> int:
    out = features.numel() * scale_factor**2
    return (features.numel() + masks.numel() + out) * features.element_size()


def random_masks(n, g, k, h, w, s, dtype, device, gen) -> torch.Tensor:
    """Softmax-normalised random masks of shape (n, g·k², s·h, s·w)."""
    logits = torch.randn(n, g, k * k, s * h, s * w, generator=gen, dtype=dtype).to(device)
    return logits.softmax(2).reshape(n, g * k * k, s * h, s * w)


def _case(n, c, h, w, k, g, s, dtype, device, gen) -> OpCase:
    x = torch.randn(n, c, h, w, generator=gen, dtype=dtype).to(device)
    m = random_masks(n, g, k, h, w, s, dtype, device, gen)
    return OpCase(f"x({n},{c},{h},{w}) K{k} G{g} s{s}", (x, m, k, g, s))


def _check_cases(dtype, device, gen) -> list[OpCase]:
    return [
        _case(2, 8, 7, 5, 3, 1, 2, dtype, device, gen),
        _case(1, 8, 5, 7, 5, 4, 3, dtype, device, gen),
        _case(2, 12, 6, 9, 5, 2, 2, dtype, device, gen),
        _case(1, 4, 1, 3, 3, 1, 1, dtype, device, gen),
    ]


def _bench_case(shape=(2, 256, 64, 64), kernel_size=5, scale=2, groups=1, dtype=torch.float32,
                device="cpu", gen=None, **_) -> OpCase:
    n, c, h, w = shape
    return _case(n, c, h, w, kernel_size, groups, scale, dtype, torch.device(device), gen)


def _register() -> None:
    @torch.library.register_fake("upbench::carafe")
    def _fake(features, masks, kernel_size, group_size, scale_factor):
        n, c, h, w = features.shape
        return features.new_empty((n, c, h * scale_factor, w * scale_factor))

    @torch.library.register_fake("upbench::_carafe_backward")
    def _fake_bwd(grad_out, features, masks, kernel_size, group_size, scale_factor):
        return torch.empty_like(features), torch.empty_like(masks)

    register_backward_op(OP, 2)


SPEC = register_op(
    OpSpec(
        name=OP,
        schema="carafe(Tensor features, Tensor masks, int kernel_size, int group_size, int scale_factor) -> Tensor",
        native=lambda *a: torch.ops.upbench.carafe(*a),
        reference=carafe_reference,
        macs=carafe_macs,
        check_cases=_check_cases,
        bench_case=_bench_case,
        register=_register,
        grad_inputs=(0, 1),
        bytes_moved=_bytes,
        backward_macs=carafe_backward_macs,
    )
)
