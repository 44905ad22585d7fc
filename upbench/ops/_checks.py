"""Argument types of the op front-ends: Python objects the native schema cannot take.

The values (shapes, dtypes, devices, ranges) are the op's contract: the native bindings check
them (``ops_cuda/common/upb_contract.h``) and :mod:`upbench.ops._contract` mirrors that on the
paths without a native binding. Here only what must happen before an op can be dispatched at
all: a tensor argument is a tensor, an integer argument an integer (``3.0`` is accepted as 3,
through the shared number checks), and an output too large to allocate is refused with an
estimate before any kernel runs.
"""

from __future__ import annotations

import math

import torch

from upbench.ops import _contract
from upbench.utils.numbers import check_fits, check_number


def check_tensor(t: object, name: str, op: str) -> torch.Tensor:
    """Check ``t`` is a tensor; return it."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{op}: `{name}` must be a torch.Tensor, got {type(t).__name__}")
    return t


INT64_MAX = 2**63 - 1


def as_int(value: object, name: str, op: str) -> int:
    """An integer hyper-parameter (``scale_factor``, ``kernel_size``, ...) as an int, with the
    shared number checks (:func:`upbench.utils.numbers.check_number`); its range is the
    contract's. At most 2**63 - 1: the native ops take an int64."""
    return int(check_number(value, f"{op}: `{name}`", integral=True, le=INT64_MAX))


def check_int(value: object, name: str, op: str, minimum: int = 1, odd: bool = False) -> int:
    """:func:`as_int` and the contract's range check (``>= minimum``, odd if asked)."""
    v = as_int(value, name, op)
    _contract.at_least(op, name, v, minimum)
    if odd:
        _contract.odd(op, name, v)
    return v


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
