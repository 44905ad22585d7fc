"""Argument types of the op front-ends: Python objects the native schema cannot take.

The values (shapes, dtypes, devices, ranges) are the op's contract: the native bindings check
them (``ops_cuda/common/upb_contract.h``) and :mod:`upbench.ops._contract` mirrors that on the
paths without a native binding. Here only what must happen before an op can be dispatched at
all: a tensor argument is a tensor, an integer argument an integer (``3.0`` is accepted as 3).
"""

from __future__ import annotations

import torch

from upbench.ops import _contract


def check_tensor(t: object, name: str, op: str) -> torch.Tensor:
    """Check ``t`` is a tensor; return it."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{op}: `{name}` must be a torch.Tensor, got {type(t).__name__}")
    return t


def as_int(value: object, name: str, op: str) -> int:
    """An integer hyper-parameter (``scale_factor``, ``kernel_size``, ...) as an int."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise TypeError(f"{op}: `{name}` must be an integer, got {value!r}")
    return value


def check_int(value: object, name: str, op: str, minimum: int = 1, odd: bool = False) -> int:
    """:func:`as_int` and the contract's range check (``>= minimum``, odd if asked)."""
    v = as_int(value, name, op)
    _contract.at_least(op, name, v, minimum)
    if odd:
        _contract.odd(op, name, v)
    return v
