"""Offset bilinear sampling: the location-aware upsampling of LaU (He et al., 2019, the official
kernel's semantics) and the sampler of DySample (Liu et al., ICCV 2023).

``out[n, c, i, j] = bilinear(x[n, c], b(i, s_h) + Δy[n, m(c), i, j], b(j, s_w) + Δx[n, m(c), i, j])``

in low-resolution pixel units (pixel centres at integers), the position clamped to
[0, h−1] × [0, w−1] (``grid_sample``'s border padding). The base position is corner-aligned,
``b(i, s) = i/s`` (``align_corners=True``, LaU: output row i sits at input row i/s_h), or
half-pixel, ``b(i, s) = (i + 0.5)/s − 0.5`` (``align_corners=False``, DySample and
``F.interpolate``'s bilinear). ``offsets`` is (N, 2M, s_h·h, s_w·w): the C channels form M equal
groups (M divides C; M = 1 shares the offsets, the LaU module; M = C is the official LaU kernel's
layout; DySample uses M = 4) and channel 2m holds Δy (rows), 2m+1 holds Δx (columns) of group m.

Gradients: to x, and to the offsets — zero where the clamp is active (position strictly outside
the map). Deviation from the official kernel (documented in OPERATORS.md): at integer positions
the official offset gradient drops the far neighbours; here it is one-sided with i1 = i0 + 1, as
ATen's grid sampler (at the last row/column, the left neighbour is used). The CPU backward is
deterministic (serial scatter per plane); the CUDA input gradient uses atomicAdd.

Non-finite values: the output is the weighted sum of the four corners (as ``grid_sample``), so
NaN or ±inf in x reaches every output that reads that corner, even with weight 0; a NaN offset
makes that output NaN (it is never turned into an index); ±inf offsets clamp to the border. The
native kernels (both CPU paths, CUDA) and the reference agree on all of this.

ATen peer: ``F.grid_sample(..., mode="bilinear", padding_mode="border")`` with the grid built
from the same positions (its ``align_corners`` as the op's).
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


def _validate(x, offsets, scale_factor, align_corners=True) -> tuple[int, int]:
    check_tensor(x, "x", OP)
    check_tensor(offsets, "offsets", OP)
    check_same(OP, x=x, offsets=offsets)
    check_cpu_dtype(x, "x", OP)
    sh, sw = _scales(scale_factor)
    n, c, h, w = x.shape
    if not isinstance(align_corners, bool):
        raise TypeError(f"{OP}: `align_corners` must be True or False, got {align_corners!r}")
    m2 = offsets.shape[1]
    if m2 < 2 or m2 % 2 or c % (m2 // 2):
        raise ValueError(
            f"{OP}: `offsets` must have 2·M channels with M dividing C = {c} (M = 1 shared, M = C "
            f"per channel, or M groups); got {m2}"
        )
    want = (n, offsets.shape[1], sh * h, sw * w)
    if tuple(offsets.shape) != want:
        raise ValueError(
            f"{OP}: `offsets` must have shape (N, 2M, s_h·h, s_w·w) = {want} for x "
            f"{tuple(x.shape)} and scale ({sh}, {sw}); got {tuple(offsets.shape)}"
        )
    return sh, sw


@autocast_frontend(OP)
def offset_bilinear(
    x: torch.Tensor,
    offsets: torch.Tensor,
    scale_factor: int | tuple[int, int] = 2,
    *,
    align_corners: bool = True,
    impl: str = "auto",
) -> torch.Tensor:
    """Bilinear sampling of x at the grid b(i, s) + Δ (LaU: corner-aligned; DySample: half-pixel).

    Args:
        x: low-resolution features (N, C, h, w).
        offsets: (N, 2M, s_h·h, s_w·w), M dividing C; channel 2m = Δy, 2m+1 = Δx of channel group
            m, in low-res pixels.
        scale_factor: s or (s_h, s_w), integers ≥ 1.
        align_corners: base positions i/s (True) or (i + 0.5)/s − 0.5 (False).
        impl: ``"auto"`` (native, else the reference with a warning), ``"native"``, ``"reference"``.

    Returns:
        (N, C, s_h·h, s_w·w).
    """
    sh, sw = _validate(x, offsets, scale_factor, align_corners)
    return run_op(OP, impl, x.device, x, offsets, sh, sw, align_corners)


def sample_positions(offsets: torch.Tensor, scale_h: int, scale_w: int,
                     align_corners: bool = True):
    """Unclamped sampling positions (rows, columns), each (N, M, H, W), in low-res pixels."""
    _n, _m2, hh, ww = offsets.shape
    half = 0.0 if align_corners else 0.5
    base_y = (torch.arange(hh, dtype=offsets.dtype, device=offsets.device) + half) / scale_h - half
    base_x = (torch.arange(ww, dtype=offsets.dtype, device=offsets.device) + half) / scale_w - half
    return base_y.view(1, 1, hh, 1) + offsets[:, 0::2], base_x.view(1, 1, 1, ww) + offsets[:, 1::2]


def _axis(pos: torch.Tensor, size: int):
    pos = pos.clamp(0, size - 1)  # clamp's gradient: 1 inside [0, size-1], 0 outside
    # a NaN position (clamp keeps it) samples index 0 and reaches the output through lam, as in
    # the native kernels; it must not become an index
    i0 = pos.detach().floor().nan_to_num(0.0).clamp(max=max(size - 2, 0))
    lam = pos - i0
    i1 = (i0 + 1).clamp(max=size - 1)
    return i0.long(), i1.long(), lam


def offset_bilinear_reference(x, offsets, scale_h=2, scale_w=2, align_corners=True
                              ) -> torch.Tensor:
    """Pure-PyTorch reference: explicit positions, clamp, floor and four gathers (differentiable
    with the same one-sided derivative at integers as the native kernels)."""
    n, c, h, w = x.shape
    py, px = sample_positions(offsets, scale_h, scale_w, align_corners)
    m, hh, ww = py.shape[1], py.shape[2], py.shape[3]
    group = torch.arange(c, device=x.device) // (c // m)  # channel → offset group
    y0, y1, ly = (t[:, group] for t in _axis(py, h))
    x0, x1, lx = (t[:, group] for t in _axis(px, w))
    flat = x.reshape(n, c, h * w)

    def gather(yi, xi):
        idx = (yi * w + xi).reshape(n, c, hh * ww)
        return flat.gather(2, idx).view(n, c, hh, ww)

    # the weighted sum of the four corners, as the native kernels and grid_sample: NaN and inf
    # in x spread the same way (a non-finite corner reaches the output even with weight 0)
    return ((1 - ly) * (1 - lx) * gather(y0, x0) + (1 - ly) * lx * gather(y0, x1)
            + ly * (1 - lx) * gather(y1, x0) + ly * lx * gather(y1, x1))


def offset_bilinear_grid_sample(x, offsets, scale_h=2, scale_w=2, align_corners=True
                                ) -> torch.Tensor:
    """The ATen peer: ``grid_sample`` (bilinear, border padding, the same ``align_corners``) at
    the same positions, one call per offset group."""
    n, c, h, w = x.shape
    py, px = sample_positions(offsets, scale_h, scale_w, align_corners)
    m, hh, ww = py.shape[1:]
    if align_corners:
        # a size-1 axis: every position clamps to 0, which the normalised coordinate -1 reaches
        sx, sy = (2 / (w - 1) if w > 1 else 0.0), (2 / (h - 1) if h > 1 else 0.0)
        grid = torch.stack((px * sx - 1, py * sy - 1), dim=-1)
    else:
        grid = torch.stack(((2 * px + 1) / w - 1, (2 * py + 1) / h - 1), dim=-1)
    out = F.grid_sample(x.reshape(n * m, c // m, h, w), grid.reshape(n * m, hh, ww, 2),
                        mode="bilinear", padding_mode="border", align_corners=align_corners)
    return out.view(n, c, hh, ww)


def offset_bilinear_macs(x, offsets, scale_h=2, scale_w=2, align_corners=True) -> int:
    """Multiply-accumulates: 4 (one per corner weight) per output element: N·C·H·W·4."""
    n, c, h, w = x.shape
    return n * c * h * w * scale_h * scale_w * 4


def offset_bilinear_backward_macs(grad_out, x, offsets, scale_h=2, scale_w=2,
                                  align_corners=True) -> int:
    """``_offset_bilinear_backward``: twice the forward, per output element 4 for the input's
    gradient (scattered to the 4 corners) and 4 for the offsets' (per axis, the two
    corner differences weighted by the other axis' weights)."""
    return 2 * offset_bilinear_macs(x, offsets, scale_h, scale_w, align_corners)


def _bytes(x, offsets, scale_h=2, scale_w=2, align_corners=True) -> int:
    return (x.numel() * (1 + scale_h * scale_w) + offsets.numel()) * x.element_size()


def _case(n, c, h, w, sh, sw, m, dtype, device, gen, spread=0.7, align=True) -> OpCase:
    x = torch.randn(n, c, h, w, generator=gen, dtype=dtype).to(device)
    off = torch.randn(n, 2 * m, sh * h, sw * w, generator=gen, dtype=torch.float64) * spread
    # keep every position ≥ 0.01 away from integers (the kinks of bilinear sampling and the clamp
    # bounds), so that finite differences in gradcheck never straddle one
    py, px = sample_positions(off, sh, sw, align)
    pos = torch.stack((py, px), 2).flatten(1, 2)
    off = off + 0.02 * ((pos - pos.round()).abs() < 0.01)
    off = off.to(dtype=dtype, device=device)
    label = f"x({n},{c},{h},{w}) s({sh},{sw}) M{m}" + ("" if align else " half-pixel")
    return OpCase(label, (x, off, sh, sw, align))


def _check_cases(dtype, device, gen) -> list[OpCase]:
    return [
        _case(2, 4, 5, 5, 3, 2, 1, dtype, device, gen),  # the official LaU gradcheck geometry
        _case(2, 3, 5, 7, 2, 2, 3, dtype, device, gen),  # per-channel offsets (M = C)
        _case(1, 5, 4, 3, 3, 3, 1, dtype, device, gen, spread=2.0),  # many clamped positions
        _case(1, 2, 1, 4, 2, 1, 2, dtype, device, gen),  # a single row
        _case(2, 8, 5, 3, 2, 2, 4, dtype, device, gen, align=False),  # DySample: 4 groups, half-px
        _case(1, 6, 3, 4, 3, 2, 2, dtype, device, gen, spread=1.5, align=False),  # clamped, groups
    ]


def _bench_case(shape=(2, 256, 64, 64), kernel_size=None, scale=2, dtype=torch.float32,
                device="cpu", gen=None, **_) -> OpCase:
    """The issue's benchmark: x (2, 256, 64, 64) → 128×128, shared offsets (M = 1)."""
    n, c, h, w = shape
    return _case(n, c, h, w, scale, scale, 1, dtype, torch.device(device), gen, spread=0.5)


def _register() -> None:
    @torch.library.register_fake("upbench::offset_bilinear")
    def _fake(x, offsets, scale_h, scale_w, align_corners=True):
        n, c, h, w = x.shape
        return x.new_empty((n, c, h * scale_h, w * scale_w))

    @torch.library.register_fake("upbench::_offset_bilinear_backward")
    def _fake_bwd(grad_out, x, offsets, scale_h, scale_w, align_corners=True):
        return torch.empty_like(x), torch.empty_like(offsets)

    register_backward_op(OP, 2)


SPEC = register_op(
    OpSpec(
        name=OP,
        schema="offset_bilinear(Tensor x, Tensor offsets, int scale_h, int scale_w, bool align_corners=True) -> Tensor",
        native=lambda *a: torch.ops.upbench.offset_bilinear(*a),
        reference=offset_bilinear_reference,
        macs=offset_bilinear_macs,
        check_cases=_check_cases,
        bench_case=_bench_case,
        register=_register,
        grad_inputs=(0, 1),
        bytes_moved=_bytes,
        backward_macs=offset_bilinear_backward_macs,
        aten=offset_bilinear_grid_sample,
        aten_name="aten::grid_sampler_2d",
    )
)
