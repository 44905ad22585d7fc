"""The argument contract of every op, for the paths that do not reach the native bindings.

The native bindings check their arguments with ``ops_cuda/common/upb_contract.h`` (one header
for the CPU and CUDA bindings). This module is its mirror, function for function and message for
message, run where no native binding runs: the pure-PyTorch reference path, the fake (meta)
kernels that ``torch.compile``/``torch.export`` trace through, and the counting twins. The wrappers
(``upbench.ops.<op>``) therefore check each argument once, on whichever path runs;
``tests/ops/test_contract.py`` calls every forward and backward op with a wrong shape, dtype and
device for each argument and asserts the native and Python errors are identical.

Errors: :class:`ValueError` for ranks, shapes, devices and integer ranges, :class:`TypeError` for
dtypes (the native ``TORCH_CHECK_VALUE``/``TORCH_CHECK_TYPE`` raise the same classes).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

# limits shared with the kernels (ops_cuda/nrd_decode/nrd_decode.h, pyramid_fuse/pyramid_fuse.h)
NRD_MAX_HIDDEN = 64
NRD_MAX_INPUT = 130
PYRAMID_MAX_LEVELS = 8

Arg = tuple[str, torch.Tensor, int]


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.float32`` → ``"float32"`` (the names the native messages use)."""
    return str(dtype).removeprefix("torch.")


def shape_str(shape: Sequence[int]) -> str:
    """A shape as ``[2, 3, 4]``."""
    return "[" + ", ".join(str(int(v)) for v in shape) + "]"


def rank(op: str, name: str, t: torch.Tensor, ndim: int) -> None:
    """``t`` has rank ``ndim``."""
    if t.dim() != ndim:
        raise ValueError(f"{op}: `{name}` must be {ndim}-D, got shape {shape_str(t.shape)}")


def floating(op: str, name: str, t: torch.Tensor) -> None:
    """``t`` has a dtype the kernels run: float32/float64 on CPU, also float16/bfloat16 elsewhere."""
    full = t.dtype in (torch.float32, torch.float64)
    if t.device.type == "cpu":
        if not full:
            raise TypeError(f"{op}: `{name}` must be float32 or float64 on cpu (float16 and "
                            f"bfloat16 run on CUDA), got {dtype_name(t.dtype)}")
    elif not (full or t.dtype in (torch.float16, torch.bfloat16)):
        raise TypeError(f"{op}: `{name}` must be float32, float64, float16 or bfloat16, got "
                        f"{dtype_name(t.dtype)}")


def same(op: str, a: str, t0: torch.Tensor, b: str, t: torch.Tensor,
         same_dtype: bool = True) -> None:
    """``t`` (named ``b``) is on the device of ``t0`` (named ``a``), with its dtype when asked."""
    if t.device != t0.device:
        raise ValueError(f"{op}: `{b}` is on {t.device} but `{a}` is on {t0.device}; move both "
                         "to one device")
    if same_dtype and t.dtype != t0.dtype:
        raise TypeError(f"{op}: `{b}` is {dtype_name(t.dtype)} but `{a}` is "
                        f"{dtype_name(t0.dtype)}; use one dtype")


def tensors(op: str, args: Sequence[Arg]) -> None:
    """Each tensor argument of its rank and a kernel dtype, then all on the first one's device
    with its dtype."""
    for name, t, ndim in args:
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{op}: `{name}` must be a torch.Tensor, got {type(t).__name__}")
        rank(op, name, t, ndim)
    for name, t, _ in args:
        floating(op, name, t)
    n0, t0, _ = args[0]
    for name, t, _ in args[1:]:
        same(op, n0, t0, name, t)


def at_least(op: str, name: str, v: int, lo: int) -> None:
    """``v >= lo``."""
    if v < lo:
        raise ValueError(f"{op}: `{name}` must be >= {lo}, got {v}")


def at_most(op: str, name: str, v: int, hi: int) -> None:
    """``v <= hi``."""
    if v > hi:
        raise ValueError(f"{op}: `{name}` must be <= {hi}, got {v}")


def odd(op: str, name: str, v: int) -> None:
    """``v`` is a positive odd number."""
    at_least(op, name, v, 1)
    if v % 2 != 1:
        raise ValueError(f"{op}: `{name}` must be odd, got {v}")


def shape(op: str, name: str, t: torch.Tensor, formula: str, want: Sequence[int]) -> None:
    """``t`` has shape ``want`` (``formula`` says how it follows from the other arguments)."""
    if tuple(t.shape) != tuple(want):
        raise ValueError(f"{op}: `{name}` must have shape {formula} = {shape_str(want)}, got "
                         f"{shape_str(t.shape)}")


def grad_out(op: str, g: torch.Tensor, ref_name: str, ref: torch.Tensor, formula: str,
             want: Sequence[int]) -> None:
    """A backward op's ``grad_out``: the output's rank, a kernel dtype, on the device and of the
    dtype of the saved input ``ref``, of the forward output's shape."""
    if not isinstance(g, torch.Tensor):
        raise TypeError(f"{op}: `grad_out` must be a torch.Tensor, got {type(g).__name__}")
    rank(op, "grad_out", g, len(want))
    floating(op, "grad_out", g)
    same(op, ref_name, ref, "grad_out", g)
    shape(op, "grad_out", g, formula, want)


# ---- the operators (same order and messages as upb_contract.h) ---------------------------------


def bilinear_upsample(x, s) -> None:
    op = "bilinear_upsample"
    tensors(op, [("x", x, 4)])
    at_least(op, "scale_factor", s, 1)


def bilinear_upsample_backward(g, h, w, s) -> None:
    op = "_bilinear_upsample_backward"
    tensors(op, [("grad_out", g, 4)])
    at_least(op, "h", h, 0)
    at_least(op, "w", w, 0)
    at_least(op, "scale_factor", s, 1)
    shape(op, "grad_out", g, "(N, C, s*h, s*w)", (g.shape[0], g.shape[1], s * h, s * w))


def pixel_shuffle(x, s) -> None:
    op = "pixel_shuffle"
    tensors(op, [("x", x, 4)])
    at_least(op, "upscale_factor", s, 1)
    if x.shape[1] % (s * s):
        raise ValueError(f"{op}: channels of `x` ({x.shape[1]}) must be divisible by "
                         f"upscale_factor^2 ({s * s})")


def pixel_shuffle_backward(g, s) -> None:
    op = "_pixel_shuffle_backward"
    tensors(op, [("grad_out", g, 4)])
    at_least(op, "upscale_factor", s, 1)
    if g.shape[2] % s or g.shape[3] % s:
        raise ValueError(f"{op}: `grad_out` height and width must be multiples of upscale_factor "
                         f"({s}), got shape {shape_str(g.shape)}")


def carafe(x, m, k, g, s) -> None:
    op = "carafe"
    tensors(op, [("features", x, 4), ("masks", m, 4)])
    odd(op, "kernel_size", k)
    at_least(op, "group_size", g, 1)
    at_least(op, "scale_factor", s, 1)
    if x.shape[1] % g:
        raise ValueError(f"{op}: channels of `features` ({x.shape[1]}) must be divisible by "
                         f"group_size ({g})")
    n, _, h, w = x.shape
    shape(op, "masks", m, "(N, G*K*K, s*h, s*w)", (n, g * k * k, h * s, w * s))


def carafe_backward(go, x, m, k, g, s) -> None:
    carafe(x, m, k, g, s)
    n, c, h, w = x.shape
    grad_out("_carafe_backward", go, "features", x, "(N, C, s*h, s*w)", (n, c, h * s, w * s))


def sapa_similarity(q, key, k, s) -> None:
    op = "sapa_similarity"
    tensors(op, [("query", q, 4), ("key", key, 4)])
    odd(op, "kernel_size", k)
    at_least(op, "scale_factor", s, 1)
    n, d, h, w = key.shape
    shape(op, "query", q, "(N, d, s*h, s*w)", (n, d, h * s, w * s))


def sapa_similarity_backward(go, q, key, k, s) -> None:
    sapa_similarity(q, key, k, s)
    grad_out("_sapa_similarity_backward", go, "query", q, "(N, K*K, s*h, s*w)",
             (key.shape[0], k * k, q.shape[2], q.shape[3]))


def offset_bilinear(x, off, sh, sw, align_corners=True) -> None:
    op = "offset_bilinear"
    tensors(op, [("x", x, 4), ("offsets", off, 4)])
    at_least(op, "scale_h", sh, 1)
    at_least(op, "scale_w", sw, 1)
    n, c, h, w = x.shape
    m2 = off.shape[1]
    if m2 < 2 or m2 % 2 or c % (m2 // 2):
        raise ValueError(f"{op}: `offsets` must have 2*M channels with M dividing the channels of "
                         f"`x` ({c}), got {m2}")
    if h * w >= 1 << 31:
        raise ValueError(f"{op}: a plane of `x` must have fewer than 2^31 elements")
    shape(op, "offsets", off, "(N, 2M, sh*h, sw*w)", (n, m2, h * sh, w * sw))


def offset_bilinear_backward(go, x, off, sh, sw, align_corners=True) -> None:
    offset_bilinear(x, off, sh, sw)
    n, c, h, w = x.shape
    grad_out("_offset_bilinear_backward", go, "x", x, "(N, C, sh*h, sw*w)",
             (n, c, h * sh, w * sw))


def _dupsample_weight(op, f, weight, r) -> None:
    if weight.shape[0] % (r * r):
        raise ValueError(f"{op}: rows of `weight` ({weight.shape[0]}) must be a multiple of "
                         f"scale_factor^2 ({r * r})")
    shape(op, "weight", weight, "(C*r*r, Ct) with Ct = features.size(1)",
          (weight.shape[0], f.shape[1]))


def dupsample(f, weight, bias, r) -> None:
    op = "dupsample"
    tensors(op, [("features", f, 4), ("weight", weight, 2), ("bias", bias, 1)])
    at_least(op, "scale_factor", r, 1)
    _dupsample_weight(op, f, weight, r)
    shape(op, "bias", bias, "(C*r*r,)", (weight.shape[0],))


def dupsample_backward(go, f, weight, r) -> None:
    op = "_dupsample_backward"
    tensors(op, [("features", f, 4), ("weight", weight, 2)])
    at_least(op, "scale_factor", r, 1)
    _dupsample_weight(op, f, weight, r)
    n, _, h, w = f.shape
    grad_out(op, go, "features", f, "(N, C, r*h, r*w)",
             (n, weight.shape[0] // (r * r), h * r, w * r))


def nrd_num_params(num_classes: int, hidden: int, guidance_channels: int, coords: bool) -> int:
    """P = D0·d + d + d·d + d + d·K + K per cell, D0 = (2 if coords) + guidance channels."""
    d0 = (2 if coords else 0) + guidance_channels
    return d0 * hidden + hidden + hidden * hidden + hidden + hidden * num_classes + num_classes


def nrd_decode(th, gd, k, d, g, coords) -> None:
    op = "nrd_decode"
    tensors(op, [("params", th, 4), ("guidance", gd, 4)])
    at_least(op, "num_classes", k, 1)
    at_least(op, "hidden", d, 1)
    at_most(op, "hidden", d, NRD_MAX_HIDDEN)
    at_least(op, "grid", g, 1)
    n, _, h, w = th.shape
    m = gd.shape[1]
    d0 = (2 if coords else 0) + m
    if not 1 <= d0 <= NRD_MAX_INPUT:
        raise ValueError(f"{op}: the MLP input (2 coordinates if coords + the channels of "
                         f"`guidance`) must have 1..{NRD_MAX_INPUT} channels, got {d0}")
    shape(op, "params", th, "(N, D0*d + d + d*d + d + d*K + K, h, w)",
          (n, nrd_num_params(k, d, m, coords), h, w))
    shape(op, "guidance", gd, "(N, m, h*grid, w*grid)", (n, m, h * g, w * g))


def nrd_decode_backward(go, th, gd, k, d, g, coords) -> None:
    nrd_decode(th, gd, k, d, g, coords)
    n, _, h, w = th.shape
    grad_out("_nrd_decode_backward", go, "params", th, "(N, K, h*grid, w*grid)",
             (n, k, h * g, w * g))


def pyramid_fuse(sem, uni, tau=0.9) -> None:
    op = "pyramid_fuse"
    if not isinstance(sem, (list, tuple)) or not isinstance(uni, (list, tuple)):
        raise TypeError(f"{op}: `semantic` and `unity` must be lists of tensors")
    L = len(sem)
    if not 1 <= L <= PYRAMID_MAX_LEVELS:
        raise ValueError(f"{op}: `semantic` must have 1..{PYRAMID_MAX_LEVELS} levels, got {L}")
    if len(uni) != L - 1:
        raise ValueError(f"{op}: `unity` must have one map per level except the finest ({L - 1}), "
                         f"got {len(uni)}")
    args = [(f"semantic[{i}]", t, 4) for i, t in enumerate(sem)]
    args += [(f"unity[{i}]", t, 4) for i, t in enumerate(uni)]
    tensors(op, args)
    n, k, h0, w0 = sem[0].shape
    for i, t in enumerate(sem):
        shape(op, f"semantic[{i}]", t, "(N, K, h0*2^l, w0*2^l)", (n, k, h0 << i, w0 << i))
    for i, t in enumerate(uni):
        shape(op, f"unity[{i}]", t, "(N, 1, h0*2^l, w0*2^l)", (n, 1, h0 << i, w0 << i))


def pyramid_fuse_backward(g, level, num_levels) -> None:
    op = "_pyramid_fuse_backward"
    tensors(op, [("grad_out", g, 4)])
    rank(op, "level", level, 3)
    if level.dtype != torch.int64:
        raise TypeError(f"{op}: `level` must be int64, got {dtype_name(level.dtype)}")
    same(op, "grad_out", g, "level", level, same_dtype=False)
    at_least(op, "num_levels", num_levels, 1)
    at_most(op, "num_levels", num_levels, PYRAMID_MAX_LEVELS)
    f = 1 << (num_levels - 1)
    if g.shape[2] % f or g.shape[3] % f:
        raise ValueError(f"{op}: `grad_out` height and width must be multiples of "
                         f"2^(num_levels-1) ({f}), got shape {shape_str(g.shape)}")
    shape(op, "level", level, "(N, H, W)", (g.shape[0], g.shape[2], g.shape[3]))
