"""How every upbench op behaves under ``torch.autocast`` (mixed precision).

Each op declares one of two policies in its :class:`~upbench.ops._registry.OpSpec`:

``"lower"``
    The op runs in the autocast dtype (float16 / bfloat16) where the device has a native
    kernel for it (CUDA: every upbench kernel is templated on half and bfloat16 and accumulates
    in float32), like a convolution. Where it has none (CPU: float32/float64 kernels only) the
    inputs are cast to float32, the op runs, and its floating outputs are cast back to the
    autocast dtype, so the network sees the same dtypes on every device.
``"fp32"``
    The op always runs in float32 and returns float32 (as autocast treats softmax or the
    losses): for ops whose outputs feed a normalisation or compound products of predicted
    numbers (SAPA's similarity logits, NRD's per-pixel networks).

Float64 tensors are never cast (as in torch's own autocast). Mixed input dtypes, which autocast
produces routinely (a softmax's float32 kernels next to a convolution's bfloat16 features), are
thereby resolved before the op's argument checks see them.

The same rule is applied at two places that cannot disagree because they share
:func:`autocast_dtypes`: the Python front-ends (:func:`autocast_frontend`, so the reference
implementation follows it too) and the dispatcher (``AutocastCPU`` / ``AutocastCUDA`` kernels of
``upbench::<op>``, :func:`register_autocast_kernels`), which is what a direct
``torch.ops.upbench.<op>`` call, ``torch.compile`` and ``torch.export`` see.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

import torch

POLICIES = ("lower", "fp32")
#: reduced-precision dtypes each device's native kernels implement
NATIVE_LOW = {"cuda": (torch.float16, torch.bfloat16), "cpu": ()}
#: device types whose autocast kernels are registered
DEVICE_TYPES = ("cpu", "cuda")


def _tensors(value: Any) -> Iterable[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _tensors(v)


def _eligible(t: torch.Tensor, device_type: str) -> bool:
    return t.is_floating_point() and t.dtype != torch.float64 and t.device.type == device_type


def autocast_dtypes(policy: str, device_type: str, autocast_dtype: torch.dtype
                    ) -> tuple[torch.dtype, torch.dtype | None]:
    """``(compute dtype, output dtype)`` of an op under autocast.

    Args:
        policy: ``"lower"`` or ``"fp32"`` (see the module docstring).
        device_type: the inputs' device type (``"cpu"``, ``"cuda"``).
        autocast_dtype: the dtype of the active autocast region.

    Returns:
        The dtype the eligible (non-float64 floating) inputs are cast to, and the dtype the
        op's floating outputs are cast to afterwards (None: left as computed).
    """
    if policy not in POLICIES:
        raise ValueError(f"autocast policy must be one of {POLICIES}, got {policy!r}")
    if policy == "fp32" or autocast_dtype == torch.float32:
        return torch.float32, None
    if autocast_dtype in NATIVE_LOW.get(device_type, ()):
        return autocast_dtype, None
    return torch.float32, autocast_dtype


def cast(value: Any, dtype: torch.dtype | None, device_type: str) -> Any:
    """``value`` with its eligible tensors (inside lists/tuples too) cast to ``dtype``."""
    if dtype is None:
        return value
    if isinstance(value, torch.Tensor):
        return value.to(dtype) if _eligible(value, device_type) else value
    if isinstance(value, (list, tuple)):
        return type(value)(cast(v, dtype, device_type) for v in value)
    return value


def _device_type(args: Iterable[Any]) -> str | None:
    for a in args:
        for t in _tensors(a):
            return t.device.type
    return None


def autocast_frontend(op: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate the public function of ``op``: inside an autocast region its tensors are cast
    by the op's policy, the function runs with autocast off (argument checks, implementation
    choice, the op) and its outputs are cast back. Outside autocast it is the plain function."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            device_type = _device_type(args)
            if device_type not in DEVICE_TYPES or not torch.is_autocast_enabled(device_type):
                return fn(*args, **kwargs)
            from upbench.ops._registry import get_op

            compute, out = autocast_dtypes(get_op(op).autocast, device_type,
                                           torch.get_autocast_dtype(device_type))
            with torch.autocast(device_type, enabled=False):
                result = fn(*cast(args, compute, device_type), **kwargs)
            return cast(result, out, device_type)

        return wrapper

    return deco


_lib: torch.library.Library | None = None


def register_autocast_kernels(name: str, policy: str) -> None:
    """Register the ``AutocastCPU`` and ``AutocastCUDA`` kernels of ``upbench::<name>``: cast
    the inputs by ``policy``, run the op below autocast, cast the outputs back."""
    global _lib
    if _lib is None:
        _lib = torch.library.Library("upbench", "IMPL")
    overload = getattr(torch.ops.upbench, name).default
    for device_type in DEVICE_TYPES:
        key = "Autocast" + torch._C._dispatch_key_for_device(device_type)
        dispatch_key = getattr(torch._C.DispatchKey, key)

        def kernel(keyset: Any, *args: Any, _dt: str = device_type, _key: Any = dispatch_key
                   ) -> Any:
            compute, out = autocast_dtypes(policy, _dt, torch.get_autocast_dtype(_dt))
            with torch._C._ExcludeDispatchKeyGuard(torch._C.DispatchKeySet(_key)):
                result = overload(*cast(args, compute, _dt))
            return cast(result, out, _dt)

        _lib.impl(name, kernel, key, with_keyset=True)


def has_autocast_kernel(name: str, device_type: str) -> bool:
    """Whether ``upbench::<name>`` has an autocast kernel for ``device_type`` registered."""
    key = "Autocast" + torch._C._dispatch_key_for_device(device_type)
    return torch._C._dispatch_has_kernel_for_dispatch_key(f"upbench::{name}", key)


__all__ = ["DEVICE_TYPES", "POLICIES", "autocast_dtypes", "autocast_frontend", "cast",
           "has_autocast_kernel", "register_autocast_kernels"]
