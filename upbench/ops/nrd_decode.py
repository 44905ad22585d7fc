"""NRD decoding (Zhang et al., NeurIPS 2021): per-cell dynamic MLPs on a grid×grid lattice.

``params`` (N, P, h, w) holds, for every low-res cell, the parameters θ of
``g_θ(z) = W3·relu(W2·relu(W1·z + b1) + b2) + b3`` (input D0, hidden d, K outputs), in the order
``[W1 (d×D0, row-major), W2 (d×d), W3 (K×d), b1 (d), b2 (d), b3 (K)]`` —
P = D0·d + d·d + K·d + d + d + K (899 for D0 = 2 + 16, d = 16, K = 19). Output pixel
``(n, k, y·g + u, x·g + v)`` evaluates cell (y, x)'s MLP on
``z = [v/g, u/g, guidance[n, :, y·g + u, x·g + v]]`` (coordinates in [0, 1) per cell, x first as the
paper's (x, y) maps; dropped when ``coords=False``). The native kernels never materialise
per-pixel weight maps; the official code nearest-upsamples the parameter maps and runs a per-pixel
MLP (:func:`nrd_decode_official_style`, the speed/memory peer).
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

OP = "nrd_decode"
MAX_HIDDEN = 64
MAX_INPUT = 130


def nrd_num_params(num_classes: int, hidden: int = 16, guidance_channels: int = 16,
                   coords: bool = True) -> int:
    """P = D0·d + d + d·d + d + d·K + K with D0 = (2 if coords) + m (899 for K=19, d=m=16)."""
    d0 = (2 if coords else 0) + guidance_channels
    return d0 * hidden + hidden + hidden * hidden + hidden + hidden * num_classes + num_classes


def _validate(params, guidance, num_classes, hidden, grid, coords) -> tuple[int, int, int]:
    check_tensor(params, "params", OP)
    check_tensor(guidance, "guidance", OP)
    check_same(OP, params=params, guidance=guidance)
    check_cpu_dtype(params, "params", OP)
    k = check_int(num_classes, "num_classes", OP)
    d = check_int(hidden, "hidden", OP)
    g = check_int(grid, "grid", OP)
    if d > MAX_HIDDEN:
        raise ValueError(f"{OP}: `hidden` must be <= {MAX_HIDDEN}, got {d}")
    n, p, h, w = params.shape
    m = guidance.shape[1]
    d0 = (2 if coords else 0) + m
    if not 1 <= d0 <= MAX_INPUT:
        raise ValueError(
            f"{OP}: the MLP input (2 coordinates if coords + guidance channels) must have 1..."
            f"{MAX_INPUT} channels, got {d0} (coords={coords}, guidance channels {m})"
        )
    want = nrd_num_params(k, d, m, coords)
    if p != want:
        raise ValueError(
            f"{OP}: `params` must have P = D0·d + d + d·d + d + d·K + K = {want} channels for "
            f"K={k}, hidden={d}, guidance channels {m}, coords={coords}; got {p}"
        )
    if (guidance.shape[0], guidance.shape[2], guidance.shape[3]) != (n, h * g, w * g):
        raise ValueError(
            f"{OP}: `guidance` must be (N, m, h·grid, w·grid) = ({n}, m, {h * g}, {w * g}); got "
            f"{tuple(guidance.shape)}"
        )
    return k, d, g


@autocast_frontend(OP)
def nrd_decode(
    params: torch.Tensor,
    guidance: torch.Tensor | None,
    num_classes: int,
    hidden: int = 16,
    grid: int = 8,
    *,
    coords: bool = True,
    impl: str = "auto",
) -> torch.Tensor:
    """Evaluate every cell's MLP on its grid×grid lattice.

    Args:
        params: per-cell MLP parameters (N, P, h, w), layout in the module docstring.
        guidance: guidance maps (N, m, h·grid, w·grid); ``None`` for coordinates only (m = 0).
        num_classes: K.
        hidden: d (≤ 64).
        grid: g, lattice points per cell side.
        coords: feed the two per-cell coordinates (Table 4 variants: coords only = guidance None;
            guidance only = ``coords=False``; both = default).
        impl: ``"auto"``, ``"native"`` or ``"reference"``.

    Returns:
        Logits (N, K, h·grid, w·grid).
    """
    if guidance is None and isinstance(params, torch.Tensor):
        n, _, h, w = params.shape
        guidance = params.new_zeros(n, 0, h * grid, w * grid)
    k, d, g = _validate(params, guidance, num_classes, hidden, grid, coords)
    return run_op(OP, impl, params.device, params, guidance, k, d, g, bool(coords))


def _split(th, d0, d, k):
    """Split (..., P) into W1 (..., d, D0), W2 (..., d, d), W3 (..., K, d), b1, b2, b3."""
    sizes = [d0 * d, d * d, k * d, d, d, k]
    w1, w2, w3, b1, b2, b3 = torch.split(th, sizes, dim=-1)
    lead = th.shape[:-1]
    return (w1.reshape(*lead, d, d0), w2.reshape(*lead, d, d), w3.reshape(*lead, k, d), b1, b2, b3)


def _coords(g, dtype, device):
    u, v = torch.meshgrid(torch.arange(g, device=device), torch.arange(g, device=device),
                          indexing="ij")
    return torch.stack([v, u], -1).to(dtype) / g  # (g, g, 2): x then y


def nrd_decode_reference(params, guidance, num_classes, hidden=16, grid=8, coords=True):
    """Pure PyTorch, cell-batched: one small batched matmul chain per cell (no per-pixel weights)."""
    n, _, h, w = params.shape
    m, g, d, k = guidance.shape[1], grid, hidden, num_classes
    z = guidance.reshape(n, m, h, g, w, g).permute(0, 2, 4, 3, 5, 1)  # (n, h, w, g, g, m)
    if coords:
        c = _coords(g, params.dtype, params.device).expand(n, h, w, g, g, 2)
        z = torch.cat([c, z], -1)
    z = z.reshape(n, h, w, g * g, (2 if coords else 0) + m)  # explicit: may be 0 elements
    w1, w2, w3, b1, b2, b3 = _split(params.permute(0, 2, 3, 1), z.shape[-1], d, k)
    h1 = torch.relu(z @ w1.transpose(-1, -2) + b1.unsqueeze(-2))
    h2 = torch.relu(h1 @ w2.transpose(-1, -2) + b2.unsqueeze(-2))
    out = h2 @ w3.transpose(-1, -2) + b3.unsqueeze(-2)  # (n, h, w, g*g, k)
    return out.reshape(n, h, w, g, g, k).permute(0, 5, 1, 3, 2, 4).reshape(n, k, h * g, w * g)


def nrd_decode_official_style(params, guidance, num_classes, hidden=16, grid=8, coords=True):
    """The official code's formulation: nearest-upsample the parameter maps to every pixel, then a
    per-pixel MLP by broadcasting (memory ∝ P·H·W). The speed and memory peer of the native op."""
    n, _, h, w = params.shape
    g, d, k = grid, hidden, num_classes
    up = F.interpolate(params, scale_factor=g, mode="nearest")  # (n, P, H, W)
    z = guidance
    if coords:
        c = _coords(g, params.dtype, params.device).permute(2, 0, 1).repeat(1, h, w)
        z = torch.cat([c.expand(n, -1, -1, -1), guidance], 1)
    d0 = z.shape[1]
    hh, ww = h * g, w * g
    w1, w2, w3, b1, b2, b3 = torch.split(up, [d0 * d, d * d, k * d, d, d, k], dim=1)
    h1 = torch.relu((w1.view(n, d, d0, hh, ww) * z.unsqueeze(1)).sum(2) + b1)
    h2 = torch.relu((w2.view(n, d, d, hh, ww) * h1.unsqueeze(1)).sum(2) + b2)
    return (w3.view(n, k, d, hh, ww) * h2.unsqueeze(1)).sum(2) + b3


def nrd_decode_macs(params, guidance, num_classes, hidden=16, grid=8, coords=True) -> int:
    """N·(h·g)·(w·g)·(D0·d + d·d + d·K)."""
    n, _, h, w = params.shape
    d0 = (2 if coords else 0) + guidance.shape[1]
    return n * h * w * grid * grid * (d0 * hidden + hidden * hidden + hidden * num_classes)


def nrd_decode_backward_macs(grad_out, params, guidance, num_classes, hidden=16, grid=8,
                             coords=True) -> int:
    """``_nrd_decode_backward``: per output pixel the forward's D0·d + d·d + d·K for the
    weights' gradients (outer products) plus d·K + d·d + m·d to carry the gradient back to the
    hidden layers and the m guidance channels (the coordinates take none):
    N·(h·g)·(w·g)·(D0·d + 2·d·d + 2·d·K + m·d)."""
    n, _, h, w = params.shape
    m = guidance.shape[1]
    extra = hidden * num_classes + hidden * hidden + m * hidden
    return (nrd_decode_macs(params, guidance, num_classes, hidden, grid, coords)
            + n * h * w * grid * grid * extra)


def _bytes(params, guidance, num_classes, hidden=16, grid=8, coords=True) -> int:
    n, _, h, w = params.shape
    out = n * num_classes * h * w * grid * grid
    return (params.numel() + guidance.numel() + out) * params.element_size()


def _case(n, h, w, m, k, d, g, coords, dtype, device, gen, scale=0.5) -> OpCase:
    p = nrd_num_params(k, d, m, coords)
    th = (torch.randn(n, p, h, w, generator=gen, dtype=dtype) * scale).to(device)
    gd = torch.randn(n, m, h * g, w * g, generator=gen, dtype=dtype).to(device)
    return OpCase(f"cells({n},{h},{w}) m{m} K{k} d{d} g{g} coords={coords}",
                  (th, gd, k, d, g, coords))


def _check_cases(dtype, device, gen) -> list[OpCase]:
    # coords-only (zero guidance channels) is tested in tests/ops/test_nrd_decode.py: an empty
    # guidance tensor cannot be made non-contiguous for the registry tests
    return [
        _case(2, 2, 3, 3, 4, 5, 3, True, dtype, device, gen),
        _case(1, 3, 1, 4, 3, 4, 2, False, dtype, device, gen),
        _case(1, 1, 2, 1, 2, 3, 4, True, dtype, device, gen),
        _case(2, 1, 1, 2, 5, 6, 1, True, dtype, device, gen),
    ]


def _bench_case(shape=None, hidden=16, guidance_channels=16, grid=8,
                dtype=torch.float32, device="cpu", gen=None, **_) -> OpCase:
    """Default: the issue's N=2, 16×16 cells, grid 8, K=19 (d = m = 16, coordinates + guidance);
    ``shape`` is (N, K, h, w)."""
    shape = (2, 19, 16, 16) if shape is None else shape
    n, k, h, w = shape
    return _case(n, h, w, guidance_channels, k, hidden, grid, True, dtype, torch.device(device),
                 gen, scale=0.25)


def _register() -> None:
    @torch.library.register_fake("upbench::nrd_decode")
    def _fake(params, guidance, num_classes, hidden, grid, coords):
        n, _, h, w = params.shape
        return params.new_empty((n, num_classes, h * grid, w * grid))

    @torch.library.register_fake("upbench::_nrd_decode_backward")
    def _fake_bwd(grad_out, params, guidance, num_classes, hidden, grid, coords):
        return torch.empty_like(params), torch.empty_like(guidance)

    register_backward_op(OP, 2)


SPEC = register_op(
    OpSpec(
        name=OP,
        schema="nrd_decode(Tensor params, Tensor guidance, int num_classes, int hidden, int grid, bool coords) -> Tensor",
        autocast="fp32",
        native=lambda *a: torch.ops.upbench.nrd_decode(*a),
        reference=nrd_decode_reference,
        macs=nrd_decode_macs,
        check_cases=_check_cases,
        bench_case=_bench_case,
        register=_register,
        grad_inputs=(0, 1),
        bytes_moved=_bytes,
        backward_macs=nrd_decode_backward_macs,
        aten=nrd_decode_official_style,
        aten_name="official-style: nearest-upsampled params + per-pixel MLP",
    )
)
