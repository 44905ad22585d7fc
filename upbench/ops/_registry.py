"""The shared op mechanism: every native operator registers an :class:`OpSpec` here.

The spec carries what the CLI (`upbench ops list/check/bench`), the tests and the FLOP counter
need to treat all operators alike: the native entry point, the pure-PyTorch reference, the analytic
MAC count, a generator of random inputs, an optional ATen peer, and the one-time registration of
fake and autograd kernels that runs after the native library is loaded.
"""

from __future__ import annotations

import contextlib
import contextvars
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

Impl = str  # "auto" | "native" | "reference"
IMPLS = ("auto", "native", "reference")


@dataclass
class OpCase:
    """One set of inputs for an op: positional tensors/values, and a label for reports."""

    label: str
    args: tuple
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class OpSpec:
    """Everything upbench knows about one native operator.

    Attributes:
        name: the op name in ``torch.ops.upbench``.
        native: calls the native op (``torch.ops.upbench.<name>``) with the case's arguments.
        reference: the pure-PyTorch reference with the same signature (differentiable).
        macs: analytic multiply-accumulate count of one call, from the same arguments.
        check_cases: small random cases (odd sizes included) for `ops check` and the tests;
            called with (dtype, device, generator).
        bench_case: the benchmark case from the CLI options (shape, kernel size, scale, ...).
        register: registers fake and autograd kernels; run once after the library loads.
        aten: an ATen operator doing the same computation, where one exists (a speed peer).
        aten_name: the ATen op's name, for reports.
        source_folder: the op's folder under ``ops_cuda/`` when it differs from ``name``.
        grad_inputs: indices of the positional args that take gradients.
        bytes_moved: minimum bytes read + written by one forward (for the bandwidth column).
    """

    name: str
    native: Callable[..., Any]
    reference: Callable[..., Any]
    macs: Callable[..., int]
    check_cases: Callable[[torch.dtype, torch.device, torch.Generator], list[OpCase]]
    bench_case: Callable[..., OpCase]
    register: Callable[[], None]
    grad_inputs: Sequence[int]
    bytes_moved: Callable[..., int]
    aten: Callable[..., Any] | None = None
    aten_name: str | None = None
    source_folder: str | None = None

    @property
    def folder(self) -> str:
        """The op's folder under ``ops_cuda/`` (``source_folder``, default: the op name)."""
        return self.source_folder or self.name

    def run(self, impl: str, *args: Any) -> Any:
        """Call one implementation directly: ``"native"`` (loads the library), ``"reference"``
        or ``"aten"``. No fallback: used by checks, benchmarks and tests."""
        if impl == "native":
            device = next((a.device for a in args if isinstance(a, torch.Tensor)), None)
            ensure_native(device)
            return self.native(*args)
        if impl == "reference":
            return self.reference(*args)
        if impl == "aten":
            if self.aten is None:
                raise ValueError(f"op {self.name!r} has no ATen peer")
            return self.aten(*args)
        raise ValueError(f"impl must be 'native', 'reference' or 'aten', got {impl!r}")

    def grad_args(self, args: tuple) -> list:
        """``args`` with the gradient inputs (``grad_inputs``; tensors or lists of tensors)
        replaced by detached leaves that require grad."""
        out = []
        for i, a in enumerate(args):
            if i in self.grad_inputs:
                if isinstance(a, (list, tuple)):
                    a = type(a)(t.detach().requires_grad_() for t in a)
                else:
                    a = a.detach().requires_grad_()
            out.append(a)
        return out

    def impls(self) -> list[str]:
        """The implementations this op has: native, reference and, where one exists, aten."""
        return ["native", "reference"] + (["aten"] if self.aten is not None else [])


_OPS: dict[str, OpSpec] = {}


def register_op(spec: OpSpec) -> OpSpec:
    """Add an op to the registry; a duplicate name is an error."""
    if spec.name in _OPS:
        raise ValueError(f"upbench op {spec.name!r} is registered twice")
    _OPS[spec.name] = spec
    return spec


def get_op(name: str) -> OpSpec:
    """Return the spec of a registered op; an unknown name suggests the closest one."""
    if name not in _OPS:
        from upbench.utils.suggest import unknown_name_message

        raise KeyError(unknown_name_message("op", name, list(_OPS)))
    return _OPS[name]


def list_ops() -> list[str]:
    """Names of all registered ops, sorted."""
    return sorted(_OPS)


def register_backward_op(op: str, n_saved: int) -> None:
    """Wire the autograd of ``upbench::<op>`` to its separate ``_<op>_backward`` op.

    The convention shared by the ops: the backward op takes ``(grad_out, *the first n_saved
    inputs, *the remaining non-tensor inputs)`` and returns the gradients of those n_saved
    tensor inputs; the remaining inputs get no gradient.
    """
    backward = getattr(torch.ops.upbench, f"_{op}_backward")

    def _setup(ctx, inputs, output):
        ctx.save_for_backward(*inputs[:n_saved])
        ctx.args = tuple(inputs[n_saved:])

    def _backward(ctx, grad):
        grads = backward(grad.contiguous(), *ctx.saved_tensors, *ctx.args)
        return (*grads, *([None] * len(ctx.args)))

    torch.library.register_autograd(f"upbench::{op}", _backward, setup_context=_setup)


# ---------------------------------------------------------------------------------------------
# Loading the library and choosing an implementation

_registered = False
_warned: set[str] = set()


def ensure_native(device: torch.device | None = None) -> None:
    """Build/load the native library and register fake/autograd kernels of every op (once).

    Raises:
        NativeBuildError: if the library cannot be built or loaded.
        RuntimeError: for a CUDA tensor when the library was built without CUDA.
    """
    global _registered
    from upbench.ops._build import build

    info = build()
    if not _registered:
        for spec in _OPS.values():
            spec.register()
        _registered = True
    if device is not None and device.type == "cuda" and not info.with_cuda:
        raise RuntimeError(
            "upbench's native library was built without CUDA (torch has no CUDA or nvcc was not "
            "found); install a CUDA build of torch and the CUDA toolkit, or pass impl='reference'"
        )


def resolve_impl(impl: Impl, op: str, device: torch.device) -> str:
    """Decide which implementation runs and record it.

    ``"auto"`` takes the native op when it loads and falls back to the reference otherwise, with
    one warning per op and reason; ``"native"`` raises instead of falling back.

    Returns:
        ``"native"`` or ``"reference"``.
    """
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
    chosen = "reference"
    if impl != "reference":
        try:
            ensure_native(device)
            chosen = "native"
        except Exception as e:
            if impl == "native":
                raise
            key = f"{op}:{type(e).__name__}"
            if key not in _warned:
                _warned.add(key)
                first_line = str(e).splitlines()[0] if str(e) else type(e).__name__
                warnings.warn(
                    f"upbench.ops.{op}: native kernel unavailable ({first_line}); using the "
                    "pure-PyTorch reference. Results record impl='reference'.",
                    RuntimeWarning,
                    stacklevel=3,
                )
    record_impl(op, impl_label(chosen, device))
    return chosen


def impl_label(chosen: str, device: torch.device) -> str:
    """The label results use: ``native-cpu``, ``native-cuda`` or ``reference``."""
    return f"native-{device.type}" if chosen == "native" else "reference"


# ---------------------------------------------------------------------------------------------
# Recording which implementation ran

_recorder: contextvars.ContextVar[dict[str, set[str]] | None] = contextvars.ContextVar(
    "upbench_impl_recorder", default=None
)


def record_impl(op: str, label: str) -> None:
    """Note that ``op`` ran with implementation ``label`` (inside :func:`record_impls`)."""
    rec = _recorder.get()
    if rec is not None:
        rec.setdefault(op, set()).add(label)


@contextlib.contextmanager
def record_impls() -> Iterator[dict[str, set[str]]]:
    """Collect ``{op: {impl labels}}`` for every upbench op called inside the block."""
    rec: dict[str, set[str]] = {}
    token = _recorder.set(rec)
    try:
        yield rec
    finally:
        _recorder.reset(token)
