"""The ``mmcv`` FLOP convention: mmcv 1.x ``get_model_complexity_info``'s forward hooks.

SegFormer, NRD, mmdetection and SAPA's baselines report FLOPs with mmcv 1.x's counter (the
legacy hooks of ptflops, ``mmcv/cnn/utils/flops_counter.py``). It counts one multiply-add as one
FLOP, but only for the module types it hooks; everything done by functional calls
(``F.interpolate``, ``torch.matmul``, softmax, ``x + y``) is invisible to it. This module
reimplements that table (as of mmcv 1.2, the release SegFormer's code pins, 2021) so upbench can
count a network the way those papers did:

=====================================================  =====================================
module (exact type or a subclass)                       counted per image
=====================================================  =====================================
``nn.Conv1d/2d/3d``                                      k·(Cin/groups)·Cout per output position,
                                                         + Cout per output position with a bias
``nn.ConvTranspose2d``                                   kh·kw·Cin·(Cout/groups) per *input*
                                                         position, + Cout per output position
                                                         with a bias
``nn.Linear``                                            input elements × out_features (the bias
                                                         is **not** counted, as mmcv)
``nn.BatchNorm1d/2d/3d``                                 2 per input element (1 without affine)
``nn.ReLU``, ``PReLU``, ``ELU``, ``LeakyReLU``,          1 per output element
``ReLU6``
max / average pooling, adaptive ones (1d/2d/3d)          1 per input element
``nn.Upsample``                                          1 per output element
anything else (LayerNorm, GELU, Dropout, GroupNorm, …)   0 (listed under ``uncounted``)
=====================================================  =====================================

Beyond mmcv's table, two things are counted, both because the papers' numbers include them:

* a module defining ``counted_macs(self, inputs: tuple, output) -> int`` adds what it returns
  (the MACs of its functional parts, e.g. SegFormer's efficient attention, which SegFormer's
  ``tools/get_flops.py`` adds to mmcv's count as ``sra_flops``);
* every ``upbench::`` op, by its analytic MAC formula (``OpSpec.macs``), whichever
  implementation would run (the model runs inside
  :func:`upbench.ops._registry.counting_semantics`): SAPA's deltas count custom ops by the
  same formulas (its Table 1). Plain interpolation (``bilinear_upsample``) is the exception
  (:data:`UNCOUNTED_OPS`): the papers' code calls ``F.interpolate`` there, which mmcv does not
  see, and a baseline's bilinear row must count what the original network counted.

The ``sapa`` convention (``slot_formulas=True``) counts the upsampler slots by their own
``macs(x_shape, guide_shape)`` formula instead of by what runs inside them, as SAPA's Tables 2–5
compute their deltas (Table 1's formulas, which leave out bias adds).

Counts are per image (a batch of N counts N images and is divided by N, as mmcv divides by its
batch counter).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

COUNTER = "mmcv-hooks"
COUNTER_VERSION = "mmcv 1.2 MODULES_MAPPING (2021)"


def _numel(t: Any) -> int:
    return int(t.numel()) if isinstance(t, torch.Tensor) else 0


def _first(inputs: tuple) -> torch.Tensor:
    return inputs[0]


def conv_macs(m: Any, inputs: tuple, output: torch.Tensor) -> int:
    """Convolution: kernel × (Cin/groups) × Cout per output position, + Cout with a bias."""
    positions = output.shape[0] * math.prod(output.shape[2:])
    per = math.prod(m.kernel_size) * (m.in_channels // m.groups) * m.out_channels
    bias = m.out_channels * positions if m.bias is not None else 0
    return int(per * positions + bias)


def deconv_macs(m: Any, inputs: tuple, output: torch.Tensor) -> int:
    """Transposed convolution: kh·kw·Cin·(Cout/groups) per input position, + Cout per output
    position with a bias. (mmcv 1.2 multiplies the output height by itself for the bias term;
    it equals H·W for square outputs, which is what upbench's paper baselines produce.)"""
    x = _first(inputs)
    positions = x.shape[0] * math.prod(x.shape[2:])
    per = math.prod(m.kernel_size) * m.in_channels * (m.out_channels // m.groups)
    bias = m.out_channels * output.shape[0] * math.prod(output.shape[2:]) if m.bias is not None \
        else 0
    return int(per * positions + bias)


def linear_macs(m: Any, inputs: tuple, output: torch.Tensor) -> int:
    """Linear: input elements × out_features (mmcv counts no bias for Linear)."""
    return _numel(_first(inputs)) * int(output.shape[-1])


def bn_macs(m: Any, inputs: tuple, output: torch.Tensor) -> int:
    """BatchNorm: 1 per input element, 2 with affine parameters."""
    return _numel(_first(inputs)) * (2 if m.affine else 1)


def activation_macs(m: Any, inputs: tuple, output: torch.Tensor) -> int:
    """ReLU and its kin: 1 per output element."""
    return _numel(output)


def pool_macs(m: Any, inputs: tuple, output: Any) -> int:
    """Pooling: 1 per input element."""
    return _numel(_first(inputs))


def upsample_macs(m: Any, inputs: tuple, output: torch.Tensor) -> int:
    """``nn.Upsample``: 1 per output element."""
    return _numel(output)


MODULE_HOOKS: dict[type, Callable[[Any, tuple, Any], int]] = {
    nn.Conv1d: conv_macs, nn.Conv2d: conv_macs, nn.Conv3d: conv_macs,
    nn.ConvTranspose2d: deconv_macs,
    nn.ReLU: activation_macs, nn.PReLU: activation_macs, nn.ELU: activation_macs,
    nn.LeakyReLU: activation_macs, nn.ReLU6: activation_macs,
    nn.MaxPool1d: pool_macs, nn.MaxPool2d: pool_macs, nn.MaxPool3d: pool_macs,
    nn.AvgPool1d: pool_macs, nn.AvgPool2d: pool_macs, nn.AvgPool3d: pool_macs,
    nn.AdaptiveMaxPool1d: pool_macs, nn.AdaptiveMaxPool2d: pool_macs,
    nn.AdaptiveMaxPool3d: pool_macs, nn.AdaptiveAvgPool1d: pool_macs,
    nn.AdaptiveAvgPool2d: pool_macs, nn.AdaptiveAvgPool3d: pool_macs,
    nn.BatchNorm1d: bn_macs, nn.BatchNorm2d: bn_macs, nn.BatchNorm3d: bn_macs,
    nn.Linear: linear_macs,
    nn.Upsample: upsample_macs,
}
"""mmcv 1.2's ``get_modules_mapping()``: module type → MACs of one call."""


NO_ARITHMETIC = (nn.Identity, nn.Dropout, nn.Dropout2d, nn.Dropout3d, nn.Flatten, nn.Unflatten,
                 nn.PixelShuffle, nn.PixelUnshuffle)
NO_ARITHMETIC_NAMES = frozenset({"StochasticDepth", "DropPath"})
"""Leaf modules that compute nothing (not reported as uncounted): identities in eval mode, data
movement; by type, and by class name for other libraries' drop-path modules."""


def module_hook(module: nn.Module) -> Callable[[Any, tuple, Any], int] | None:
    """The counting function of ``module``'s type (or of the nearest base class in
    :data:`MODULE_HOOKS`, as mmcv lists its own subclasses of these types), else None."""
    for cls in type(module).__mro__:
        fn = MODULE_HOOKS.get(cls)
        if fn is not None:
            return fn
    return None


UNCOUNTED_OPS = {"bilinear_upsample": "plain interpolation: F.interpolate in the papers' code, a "
                             "functional call mmcv's hooks do not see"}
"""upbench ops the mmcv convention does not count, and why."""


class _OpCounter(TorchDispatchMode):
    """Counts every ``upbench_count::<op>`` call (an upbench op inside ``counting_semantics``)
    by its analytic MAC formula (ops in :data:`UNCOUNTED_OPS` count 0 and are listed)."""

    def __init__(self, count: MmcvCount) -> None:
        super().__init__()
        self.count = count
        self._native: bool | None = None  # is the native library built (asked once)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if getattr(func, "namespace", None) != "upbench_count":
            return func(*args, **kwargs)
        from upbench.ops import get_op
        from upbench.ops._registry import load_if_built

        name = func.__name__.split(".")[0]
        spec = get_op(name)
        # the values: the native kernel where the library is already built (fast), else the
        # reference (the counting twin); the count is the formula's either way
        if self._native is None:
            self._native = load_if_built()
        out = None
        if self._native:
            try:
                out = spec.native(*args, *kwargs.values())
            except Exception:  # noqa: BLE001 - e.g. no kernel for this device: the reference
                out = None
        if out is None:
            out = func(*args, **kwargs)
        if name in UNCOUNTED_OPS:
            self.count.not_counted(f"upbench::{name}")
        else:
            self.count.charge(f"upbench::{name}", int(spec.macs(*args, *kwargs.values())))
        return out


class MmcvCount:
    """One counting pass: hooks on every module of ``model``, events charged to module names.

    Args:
        model: the module counted.
        formula_slots: names of modules counted by their own ``macs(x_shape, guide_shape)``
            formula instead of what runs inside them (the ``sapa`` convention's slots).

    Attributes:
        events: (module name, operator label, MACs) of every counted call, for the whole batch.
        uncounted: leaf module types (and upbench ops) that ran, compute something and count
            nothing in this convention (e.g. LayerNorm, GELU), with their number of calls.
    """

    def __init__(self, model: nn.Module, formula_slots: set[str] | None = None) -> None:
        self.model = model
        self.formula_slots = formula_slots or set()
        self.events: list[tuple[str, str, int]] = []
        self.uncounted: Counter[str] = Counter()
        self._stack: list[str] = []
        self._starts: list[int] = []
        self._inside_formula = 0
        self._seen = 0  # calls counted or noted so far
        self._handles: list[Any] = []

    def charge(self, label: str, macs: int, name: str | None = None) -> None:
        """Charge ``macs`` of ``label`` to module ``name`` (default: the innermost running one);
        nothing inside a slot counted by its formula."""
        if self._inside_formula:
            return
        self._seen += 1
        self.events.append((self._stack[-1] if name is None and self._stack else name or "",
                            label, int(macs)))

    def not_counted(self, label: str) -> None:
        """Note a call this convention does not count."""
        if not self._inside_formula:
            self._seen += 1
            self.uncounted[label] += 1

    def _pre(self, name: str, formula: bool):
        def pre(module, inputs):
            self._stack.append(name)
            self._starts.append(self._seen)
            self._inside_formula += formula
        return pre

    def _post(self, name: str, fn, own: bool, leaf: bool, formula: bool):
        def post(module, args, kwargs, output):
            if formula:
                self._inside_formula -= 1
                x = args[0] if args else kwargs.get("x")
                g = args[1] if len(args) > 1 else kwargs.get("guide")
                self.charge(f"formula:{type(module).__name__}",
                            module.macs(tuple(x.shape), tuple(g.shape) if isinstance(
                                g, torch.Tensor) else None), name)
            if fn is not None:
                self.charge(type(module).__name__, fn(module, args, output), name)
            if own:
                self.charge(f"counted_macs:{type(module).__name__}",
                            module.counted_macs(args, output), name)
            start = self._starts.pop() if self._starts else self._seen
            if fn is None and not own and leaf and self._seen == start \
                    and not isinstance(module, NO_ARITHMETIC) \
                    and type(module).__name__ not in NO_ARITHMETIC_NAMES:
                self.not_counted(type(module).__name__)
            if self._stack and self._stack[-1] == name:
                self._stack.pop()
        return post

    def __enter__(self):
        for name, m in self.model.named_modules():
            fn = module_hook(m)
            own = callable(getattr(m, "counted_macs", None))
            formula = name in self.formula_slots
            leaf = next(m.children(), None) is None
            self._handles.append(m.register_forward_pre_hook(self._pre(name, formula)))
            self._handles.append(m.register_forward_hook(
                self._post(name, fn, own, leaf, formula), with_kwargs=True, always_call=True))
        return self

    def __exit__(self, *exc: object) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()


def by_module(events: list[tuple[str, str, int]], batch: int) -> dict[str, int]:
    """Per-image MACs of every module name and its ancestors ("" = the whole model)."""
    out: Counter[str] = Counter()
    for name, _, macs in events:
        parts = name.split(".") if name else []
        out[""] += macs
        for i in range(1, len(parts) + 1):
            out[".".join(parts[:i])] += macs
    return {k: v // batch for k, v in out.items()}


def render_table(model: nn.Module, mods: dict[str, int], max_depth: int) -> str:
    """A by-module table (module, parameters, MACs) down to ``max_depth``, like fvcore's."""
    params = {name: sum(p.numel() for p in m.parameters()) for name, m in model.named_modules()}
    rows = [("module", "#parameters", "#flops (mmcv)")]
    for name, n_params in params.items():
        depth = 0 if not name else name.count(".") + 1
        if depth > max_depth:
            continue
        label = ("  " * depth + (name.split(".")[-1] if name else "model"))
        rows.append((label, _si(n_params), _si(mods.get(name, 0))))
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"| {r[0]:<{w[0]}} | {r[1]:>{w[1]}} | {r[2]:>{w[2]}} |" for r in rows]
    lines.insert(1, f"|{'-' * (w[0] + 2)}|{'-' * (w[1] + 1)}:|{'-' * (w[2] + 1)}:|")
    return "\n".join(lines)


def _si(v: int) -> str:
    for unit, f in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(v) >= f:
            return f"{v / f:.3f}{unit}"
    return str(v)


def formula_slots(model: nn.Module, part: list[str] | None) -> set[str]:
    """The modules of ``part`` that define a ``macs(x_shape, guide_shape)`` formula (upbench's
    upsamplers that publish one; the others are counted by the hooks)."""
    mods = dict(model.named_modules())
    return {n for n in part or [] if n in mods and callable(getattr(mods[n], "macs", None))}


def count_mmcv(model: nn.Module, inputs: tuple, part: list[str] | None = None,
               table: bool = False, max_depth: int = 3, slot_formulas: bool = False
               ) -> dict[str, Any]:
    """Run ``model(*inputs)`` once (no grad, the caller sets eval mode) under the mmcv hooks.

    Args:
        slot_formulas: count each module of ``part`` that has a ``macs`` formula by it (the
            ``sapa`` convention) instead of by what runs inside.

    Returns:
        ``total``, ``by_module``, ``by_operator``, ``part`` (MACs of the modules named in
        ``part``), ``uncounted``, ``formula_slots`` and ``table`` — all per image.
    """
    from upbench.ops._registry import counting_semantics

    x = inputs[0] if inputs and isinstance(inputs[0], torch.Tensor) else None
    batch = int(x.shape[0]) if x is not None and x.dim() > 0 and x.shape[0] > 0 else 1
    slots = formula_slots(model, part) if slot_formulas else set()
    with MmcvCount(model, slots) as c, torch.no_grad(), counting_semantics(), _OpCounter(c):
        model(*inputs)
    mods = by_module(c.events, batch)
    ops: Counter[str] = Counter()
    for _, label, macs in c.events:
        ops[label] += macs
    part_total = sum(mods.get(name, 0) for name in part or [])
    return {"total": mods.get("", 0), "by_module": mods,
            "by_operator": {k: v // batch for k, v in ops.items()}, "part": part_total,
            "uncounted": dict(c.uncounted), "formula_slots": sorted(slots),
            "table": render_table(model, mods, max_depth) if table else ""}
