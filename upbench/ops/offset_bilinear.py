"""Offset bilinear sampling: the location-aware upsampling of LaU (He et al., 2019), with the
official kernel's semantics.

``out[n, c, i, j] = bilinear(x[n, c], i/s_h + Δy[n, m(c), i, j], j/s_w + Δx[n, m(c), i, j])``

in low-resolution pixel units (corner-aligned: output row i sits at input row i/s_h), the
position clamped to [0, h−1] × [0, w−1]. ``offsets`` is (N, 2M, s_h·h, s_w·w) with M = 1
(shared across channels, the LaU module) or M = C (per channel, the official kernel's layout);
channel 2m holds Δy (rows) and 2m+1 holds Δx (columns) of group m.

Gradients: to x, and to the offsets — zero where the clamp is active (position strictly outside
the map). Deviation from the official kernel (documented in OPERATORS.md): at integer positions
the official offset gradient drops the far neighbours; here it is one-sided with i1 = i0 + 1, as
ATen's grid sampler (at the last row/column, the left neighbour is used). The CPU backward is
deterministic (serial scatter per plane); the CUDA input gradient uses atomicAdd.

ATen peer: ``F.grid_sample(..., mode="bilinear", padding_mode="border", align_corners=True)``
with the grid built from the same positions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from upbench.ops._checks import check_cpu_dtype, check_int, check_same, check_tensor
from upbench.ops._registry import (
    OpCase,
    OpSpec,
    register_backward_op,
    register_op,
    resolve_impl,
)

OP = "offset_bilinear"


def _scales(scale_factor) -> tuple[int, int]:
    if isinstance(scale_factor, (tuple, list)):
        if len(scale_factor) != 2:
            raise ValueError(f"{OP}: `scale_factor` must be an int or a pair (s_h, s_w), got "
                             f"{scale_factor!r}")
        return (check_int(scale_factor[0], "scale_factor[0]", OP),
                check_int(scale_factor[1], "scale_factor[1]", OP))
    s = check_int(scale_factor, "scale_factor", OP)
    return s, s


def _validate(x, offsets, scale_factor) -> tuple[int, int]:
    check_tensor(x, "x", OP)
    check_tensor(offsets, "offsets", OP)
    check_same(OP, x=x, offsets=offsets)
    check_cpu_dtype(x, "x", OP)
    sh, sw = _scales(scale_factor)
    n, c, h, w = x.shape
    if offsets.shape[1] not in (2, 2 * c):
        raise ValueError(
            f"{OP}: `offsets` must have 2 channels (M = 1, shared) or 2·C = {2 * c} (M = C, per "
            f"channel); got {offsets.shape[1]}"
        )
    want = (n, offsets.shape[1], sh * h, sw * w)
    if tuple(offsets.shape) != want:
        raise ValueError(
            f"{OP}: `offsets` must have shape (N, 2M, s_h·h, s_w·w) = {want} for x "
            f"{tuple(x.shape)} and scale ({sh}, {sw}); got {tuple(offsets.shape)}"
        )
    return sh, sw


def offset_bilinear(
    x: torch.Tensor,
    offsets: torch.Tensor,
    scale_factor: int | tuple[int, int] = 2,
    *,
    impl: str = "auto",
) -> torch.Tensor:
    """Bilinear sampling of x at the corner-aligned grid i/s + Δ (LaU).

    Args:
        x: low-resolution features (N, C, h, w).
        offsets: (N, 2M, s_h·h, s_w·w), M ∈ {1, C}; channel 2m = Δy, 2m+1 = Δx, in low-res pixels.
        scale_factor: s or (s_h, s_w), integers ≥ 1.
        impl: ``"auto"`` (native, else the reference with a warning), ``"native"``, ``"reference"``.

    Returns:
        (N, C, s_h·h, s_w·w).
    """
    sh, sw = _validate(x, offsets, scale_factor)
    if resolve_impl(impl, OP, x.device) == "native":
        return torch.ops.upbench.offset_bilinear(x, offsets, sh, sw)
    return offset_bilinear_reference(x, offsets, sh, sw)


def sample_positions(offsets: torch.Tensor, scale_h: int, scale_w: int):
    """Unclamped sampling positions (rows, columns), each (N, M, H, W), in low-res pixels."""
    _n, _m2, hh, ww = offsets.shape
    base_y = torch.arange(hh, dtype=offsets.dtype, device=offsets.device) / scale_h
    base_x = torch.arange(ww, dtype=offsets.dtype, device=offsets.device) / scale_w
    return base_y.view(1, 1, hh, 1) + offsets[:, 0::2], base_x.view(1, 1, 1, ww) + offsets[:, 1::2]


def _axis(pos: torch.Tensor, size: int):
    pos = pos.clamp(0, size - 1)  # clamp's gradient: 1 inside [0, size-1], 0 outside
    i0 = pos.detach().floor().clamp(max=max(size - 2, 0))
    lam = pos - i0
    i1 = (i0 + 1).clamp(max=size - 1)
    return i0.long(), i1.long(), lam


def offset_bilinear_reference(x, offsets, scale_h=2, scale_w=2) -> torch.Tensor:
    """Pure-PyTorch reference: explicit positions, clamp, floor and four gathers (differentiable
    with the same one-sided derivative at integers as the native kernels)."""
    n, c, h, w = x.shape
    py, px = sample_positions(offsets, scale_h, scale_w)
    y0, y1, ly = _axis(py, h)
    x0, x1, lx = _axis(px, w)
    m, hh, ww = py.shape[1], py.shape[2], py.shape[3]
    flat = x.reshape(n, c, h * w)

    def gather(yi, xi):
        idx = (yi * w + xi).reshape(n, m, hh * ww).expand(n, c, hh * ww)
        return flat.gather(2, idx).view(n, c, hh, ww)

    top = gather(y0, x0) + lx * (gather(y0, x1) - gather(y0, x0))
    bot = gather(y1, x0) + lx * (gather(y1, x1) - gather(y1, x0))
    return top + ly * (bot - top)


def offset_bilinear_grid_sample(x, offsets, scale_h=2, scale_w=2) -> torch.Tensor:
    """The ATen peer: ``grid_sample`` (bilinear, border padding, align_corners=True) at the same
    positions."""
    n, c, h, w = x.shape
    py, px = sample_positions(offsets, scale_h, scale_w)
    m, hh, ww = py.shape[1:]
    # a size-1 axis: every position clamps to 0, which the normalised coordinate -1 reaches
    sx, sy = (2 / (w - 1) if w > 1 else 0.0), (2 / (h - 1) if h > 1 else 0.0)
    grid = torch.stack((px * sx - 1, py * sy - 1), dim=-1)
    if m == 1:
        return F.grid_sample(x, grid[:, 0], mode="bilinear", padding_mode="border",
                             align_corners=True)
    out = F.grid_sample(x.reshape(n * c, 1, h, w), grid.reshape(n * c, hh, ww, 2),
                        mode="bilinear", padding_mode="border", align_corners=True)
    return out.view(n, c, hh, ww)


def offset_bilinear_macs(x, offsets, scale_h=2, scale_w=2) -> int:
    """Multiply-accumulates: 4 (one per corner weight) per output element: N·C·H·W·4."""
    n, c, h, w = x.shape
    return n * c * h * w * scale_h * scale_w * 4


def _bytes(x, offsets, scale_h=2, scale_w=2) -> int:
    return (x.numel() * (1 + scale_h * scale_w) + offsets.numel()) * x.element_size()


def _case(n, c, h, w, sh, sw, m, dtype, device, gen, spread=0.7) -> OpCase:
    x = torch.randn(n, c, h, w, generator=gen, dtype=dtype).to(device)
    off = torch.randn(n, 2 * m, sh * h, sw * w, generator=gen, dtype=torch.float64) * spread
    # keep every position ≥ 0.01 away from integers (the kinks of bilinear sampling and the clamp
    # bounds), so that finite differences in gradcheck never straddle one
    py, px = sample_positions(off, sh, sw)
    pos = torch.stack((py, px), 2).flatten(1, 2)
    off = off + 0.02 * ((pos - pos.round()).abs() < 0.01)
    off = off.to(dtype=dtype, device=device)
    return OpCase(f"x({n},{c},{h},{w}) s({sh},{sw}) M{m}", (x, off, sh, sw))


def _check_cases(dtype, device, gen) -> list[OpCase]:
    return [
        _case(2, 4, 5, 5, 3, 2, 1, dtype, device, gen),  # the official LaU gradcheck geometry
        _case(2, 3, 5, 7, 2, 2, 3, dtype, device, gen),  # per-channel offsets (M = C)
        _case(1, 5, 4, 3, 3, 3, 1, dtype, device, gen, spread=2.0),  # many clamped positions
        _case(1, 2, 1, 4, 2, 1, 2, dtype, device, gen),  # a single row
    ]


def _bench_case(shape=(2, 256, 64, 64), kernel_size=None, scale=2, dtype=torch.float32,
                device="cpu", gen=None, **_) -> OpCase:
    """The issue's benchmark: x (2, 256, 64, 64) → 128×128, shared offsets (M = 1)."""
    n, c, h, w = shape
    return _case(n, c, h, w, scale, scale, 1, dtype, torch.device(device), gen, spread=0.5)


def _register() -> None:
    @torch.library.register_fake("upbench::offset_bilinear")
    def _fake(x, offsets, scale_h, scale_w):
        n, c, h, w = x.shape
        return x.new_empty((n, c, h * scale_h, w * scale_w))

    @torch.library.register_fake("upbench::_offset_bilinear_backward")
    def _fake_bwd(grad_out, x, offsets, scale_h, scale_w):
        return torch.empty_like(x), torch.empty_like(offsets)

    register_backward_op(OP, 2)


SPEC = register_op(
    OpSpec(
        name=OP,
        native=lambda *a: torch.ops.upbench.offset_bilinear(*a),
        reference=offset_bilinear_reference,
        macs=offset_bilinear_macs,
        check_cases=_check_cases,
        bench_case=_bench_case,
        register=_register,
        grad_inputs=(0, 1),
        bytes_moved=_bytes,
        aten=offset_bilinear_grid_sample,
        aten_name="aten::grid_sampler_2d",
    )
)
