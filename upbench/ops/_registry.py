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
        backward_macs: analytic multiply-accumulate count of one call of the backward op
            ``_<name>_backward``, from that op's arguments (tensors may be meta tensors).
        schema: the forward op's schema, as ``ops_cuda/register.cpp`` defines it (the counting
            twin ``upbench_count::<name>`` is defined from it).
        autocast: the op's behaviour under ``torch.autocast`` (:mod:`upbench.ops._autocast`):
            ``"lower"`` (the autocast dtype where the device has a native half kernel, else
            float32 and cast back) or ``"fp32"`` (always float32).
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
    backward_macs: Callable[..., int]
    aten: Callable[..., Any] | None = None
    aten_name: str | None = None
    source_folder: str | None = None
    schema: str = ""
    autocast: str = "lower"

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


def call_backward(backward: Any, *args: Any) -> Any:
    """Call a ``_<op>_backward`` op from an autograd formula. Outside ``create_graph`` (grad mode
    off, the usual backward) nothing it returns is differentiated, so it runs straight on its
    device kernel, not through its own Python-registered autograd (about 10 µs a call, which
    dominates small maps); with ``create_graph`` it keeps that autograd (double backward)."""
    if torch.is_grad_enabled() or torch.compiler.is_compiling():
        return backward(*args)
    with torch._C._AutoDispatchBelowAutograd():
        return backward(*args)


def register_backward_op(op: str, n_saved: int) -> None:
    """Wire the autograd of ``upbench::<op>`` to its separate ``_<op>_backward`` op, and the
    autograd of that backward op (double backward) to the reference.

    The convention shared by the ops: the backward op takes ``(grad_out, *the first n_saved
    inputs, *the remaining non-tensor inputs)`` and returns the gradients of those n_saved
    tensor inputs; the remaining inputs get no gradient.
    """
    backward = getattr(torch.ops.upbench, f"_{op}_backward")

    def _setup(ctx, inputs, output):
        ctx.save_for_backward(*inputs[:n_saved])
        ctx.args = tuple(inputs[n_saved:])

    def _backward(ctx, grad):
        grads = call_backward(backward, grad.contiguous(), *ctx.saved_tensors, *ctx.args)
        return (*grads, *([None] * len(ctx.args)))

    torch.library.register_autograd(f"upbench::{op}", _backward, setup_context=_setup)
    register_double_backward(op, n_saved, lambda *a: get_op(op).reference(*a))


def register_double_backward(op: str, n_saved: int, reference: Callable[..., Any]) -> None:
    """Second-order gradients of ``upbench::<op>`` through its reference: the autograd of
    ``_<op>_backward(grad_out, *saved, *args)`` recomputes ``reference(*saved, *args)`` under
    autograd, takes its first derivative with ``create_graph`` and differentiates that, so
    ``gradgradcheck`` holds and a gradient penalty gets the true second derivative (never a
    silent zero). Only double backward pays for the recomputation."""

    def _setup(ctx, inputs, output):
        ctx.save_for_backward(*inputs[: n_saved + 1])
        ctx.args = tuple(inputs[n_saved + 1:])

    def _backward(ctx, *ggs):
        grad_out, *saved = ctx.saved_tensors
        with torch.enable_grad():
            go = grad_out.detach().requires_grad_()
            xs = [t.detach().requires_grad_() for t in saved]
            out = reference(*xs, *ctx.args)
            firsts = torch.autograd.grad(out, xs, go, create_graph=True, allow_unused=True)
            pairs = [(f, g) for f, g in zip(firsts, ggs, strict=True)
                     if f is not None and g is not None]
            wrt = [go, *xs]
            res = torch.autograd.grad([f for f, _ in pairs], wrt, [g for _, g in pairs],
                                      allow_unused=True) if pairs else [None] * len(wrt)
        return (*res, *([None] * len(ctx.args)))

    torch.library.register_autograd(f"upbench::_{op}_backward", _backward, setup_context=_setup)


# ---------------------------------------------------------------------------------------------
# Loading the library and choosing an implementation

_registered = False
_warned: set[str] = set()
# the implementation chosen per (impl, device type), decided by the first eager call: a traced
# call (torch.compile, torch.export) reuses it without entering the build (its lock) or the
# recorder (a ContextVar), neither of which Dynamo can trace
_choice: dict[tuple[str, str], str] = {}
# set by counting_semantics(): ops run as their counting twins upbench_count::<op>
_counting = False


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
        from upbench.ops._autocast import register_autocast_kernels

        for spec in _OPS.values():
            spec.register()
            _register_flop_formula(spec)
            register_autocast_kernels(spec.name, spec.autocast)
        _registered = True
    if device is not None and device.type == "cuda" and not info.with_cuda:
        raise RuntimeError(
            "upbench's native library was built without CUDA (torch has no CUDA or nvcc was not "
            "found); install a CUDA build of torch and the CUDA toolkit, or pass impl='reference'"
        )


def load_if_built() -> bool:
    """Load the native library now if this machine already built it for the current sources
    (never builds: that happens at the first call, which says so). Called on ``import upbench``
    so that a saved ``torch.export`` program finds the ``upbench::`` ops, and so that the first
    traced call needs no build. ``UPBENCH_NO_AUTOLOAD=1`` skips it. Never raises."""
    import os

    if os.environ.get("UPBENCH_NO_AUTOLOAD") == "1":
        return False
    try:
        from upbench.ops._build import LIB_NAME, build_directory

        if not (build_directory() / f"{LIB_NAME}.so").is_file():
            return False
        ensure_native()
    except Exception:  # noqa: BLE001 - importing upbench must not fail on a broken build
        return False
    return True


def resolve_impl(impl: Impl, op: str, device: torch.device) -> str:
    """Decide which implementation runs and record it.

    ``"auto"`` takes the native op when it loads and falls back to the reference otherwise, with
    one warning per op and reason; ``"native"`` raises instead of falling back.

    Returns:
        ``"native"`` or ``"reference"``.
    """
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
    if torch.compiler.is_compiling():
        return _traced_choice(impl, op, device)
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
    _choice[(impl, device.type)] = chosen
    return chosen


def _traced_choice(impl: Impl, op: str, device: torch.device) -> str:
    """The choice inside a traced call: the one an eager call made (or the library import),
    nothing built, nothing recorded."""
    chosen = _choice.get((impl, device.type))
    if chosen is None:
        chosen = "native" if impl != "reference" and _registered else "reference"
        if impl == "native" and chosen != "native":
            raise RuntimeError(f"upbench.ops.{op}(impl='native') under tracing: the native "
                               "library is not loaded; call upbench.ops.build() (or run the "
                               "model once eagerly) before torch.compile / torch.export")
    return chosen


def run_op(op: str, impl: Impl, device: torch.device, *args: Any) -> Any:
    """Run ``op`` with validated ``args`` by the chosen implementation (:func:`resolve_impl`);
    inside :func:`counting_semantics`, as its counting twin whatever the implementation."""
    spec = _OPS[op]
    if _counting and not torch.compiler.is_compiling():
        return getattr(counting_ops(), op)(*args)
    if resolve_impl(impl, op, device) == "native":
        return spec.native(*args)
    return spec.reference(*args)


# ---------------------------------------------------------------------------------------------
# FLOPs by operator semantics

_count_lib: torch.library.Library | None = None


def _fresh(out: Any) -> Any:
    if isinstance(out, torch.Tensor):
        return out.clone()
    return type(out)(_fresh(o) for o in out)


def counting_ops() -> Any:
    """``torch.ops.upbench_count``: for every op a twin with the same schema, implemented by the
    reference (no autograd). A FLOP counter that traces a model inside
    :func:`counting_semantics` sees one ``upbench_count::<op>`` node per call, counted by the
    op's MAC formula, whether the native library is available or not."""
    global _count_lib
    if _count_lib is None:
        lib = torch.library.Library("upbench_count", "DEF")
        for spec in _OPS.values():
            lib.define(spec.schema)
            lib.impl(spec.name, lambda *a, _s=spec: _fresh(_s.reference(*a)),
                     "CompositeExplicitAutograd")
        _count_lib = lib
    return torch.ops.upbench_count


@contextlib.contextmanager
def counting_semantics() -> Iterator[None]:
    """Run every upbench op as its counting twin inside the block (see :func:`counting_ops`)."""
    global _counting
    counting_ops()
    previous, _counting = _counting, True
    try:
        yield
    finally:
        _counting = previous


def _meta_args(args: tuple) -> list:
    """Shapes (as the flop counter passes them) back to meta tensors for the MAC formulas."""
    out: list[Any] = []
    for a in args:
        if isinstance(a, torch.Size) or (isinstance(a, (tuple, list)) and a and all(
                isinstance(v, int) for v in a) and len(a) == 4):
            out.append(torch.empty(tuple(a), device="meta"))
        elif isinstance(a, (tuple, list)) and a and isinstance(a[0], (tuple, list, torch.Size)):
            out.append([torch.empty(tuple(v), device="meta") for v in a])
        else:
            out.append(a)
    return out


def _register_flop_formula(spec: OpSpec) -> None:
    """``torch.utils.flop_counter`` formulas of ``upbench::<op>`` and of its backward op
    ``upbench::_<op>_backward``: 2 FLOPs per multiply-add of the op's MAC formulas
    (``macs``, ``backward_macs``; the counter's convention), so ``FlopCounterMode`` around a
    forward and backward counts both passes."""
    from torch.utils.flop_counter import register_flop_formula

    def formula_of(macs: Callable[..., int]) -> Callable[..., int]:
        def formula(*args: Any, out_shape: Any = None, **kwargs: Any) -> int:
            return 2 * int(macs(*_meta_args(args), *kwargs.values()))

        return formula

    register_flop_formula(getattr(torch.ops.upbench, spec.name))(formula_of(spec.macs))
    register_flop_formula(getattr(torch.ops.upbench, backward_op_name(spec.name)))(
        formula_of(spec.backward_macs))


def backward_op_name(op: str) -> str:
    """The name of ``op``'s backward op in ``torch.ops.upbench``: ``_<op>_backward``."""
    return f"_{op}_backward"


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
