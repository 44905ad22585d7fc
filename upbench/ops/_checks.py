"""Argument checks shared by the op front-ends: clear errors that name the argument."""

from __future__ import annotations

import math

import torch

from upbench.utils.numbers import check_fits, check_number


def check_tensor(t: object, name: str, op: str, ndim: int = 4) -> torch.Tensor:
    """Check ``t`` is a floating tensor of rank ``ndim``; return it."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{op}: `{name}` must be a torch.Tensor, got {type(t).__name__}")
    if t.dim() != ndim:
        raise ValueError(
            f"{op}: `{name}` must be {ndim}-D (N, C, H, W), got shape {tuple(t.shape)}"
        )
    if not t.is_floating_point():
        raise TypeError(
            f"{op}: `{name}` must be a floating-point tensor (float32/float64 on CPU, also "
            f"float16/bfloat16 on CUDA), got {t.dtype}; convert it with `.float()`"
        )
    return t


def check_same(op: str, **tensors: torch.Tensor) -> None:
    """All tensors on one device and of one dtype."""
    items = list(tensors.items())
    (n0, t0) = items[0]
    for n, t in items[1:]:
        if t.device != t0.device:
            raise ValueError(
                f"{op}: `{n}` is on {t.device} but `{n0}` is on {t0.device}; move both to one device"
            )
        if t.dtype != t0.dtype:
            raise TypeError(f"{op}: `{n}` is {t.dtype} but `{n0}` is {t0.dtype}; use one dtype")


def check_int(value: object, name: str, op: str, minimum: int = 1, odd: bool = False) -> int:
    """Check an integer hyper-parameter (``scale_factor``, ``kernel_size``, ...) with the shared
    number checks (:func:`upbench.utils.numbers.check_number`)."""
    value = int(check_number(value, f"{op}: `{name}`", integral=True, ge=minimum))
    if odd and value % 2 == 0:
        raise ValueError(f"{op}: `{name}` must be odd, got {value}")
    return value


def check_cpu_dtype(t: torch.Tensor, name: str, op: str) -> None:
    """CPU kernels run float32 and float64 only."""
    if t.device.type == "cpu" and t.dtype not in (torch.float32, torch.float64):
        raise TypeError(
            f"{op}: on CPU `{name}` must be float32 or float64, got {t.dtype}; "
            "float16/bfloat16 are supported on CUDA"
        )


#: outputs from this size on are checked against the memory available (reading /proc/meminfo)
CHECKED_BYTES = 2**30


def check_output(op: str, shape: tuple[int, ...], like: torch.Tensor) -> None:
    """Refuse an output of ``shape`` (dtype of ``like``) that cannot be indexed or would not fit
    in the memory available, with the estimate (e.g. ``bilinear_upsample(x, 2**31)``).

    Free on the hot path: outputs under :data:`CHECKED_BYTES` are not looked at further, and
    nothing is checked while torch.compile traces (shapes may be symbolic there)."""
    if torch.compiler.is_compiling():
        return
    numel = math.prod(int(d) for d in shape)
    if numel * like.element_size() < CHECKED_BYTES:
        return
    check_fits(numel, like.element_size(), f"{op}: the output {tuple(shape)}",
               fix="use a smaller input or scale_factor")
