"""FLOP counting: :func:`count_flops` in one of two conventions (``CONVENTIONS``).

* ``fvcore`` (the default): fvcore's tracer, extended to every ``upbench::`` op and to the ops
  fvcore skips (below).
* ``mmcv``: mmcv 1.x ``get_model_complexity_info``'s module hooks, as SegFormer, NRD, mmdet and
  SAPA's host networks count (:mod:`upbench.engine.flops_mmcv`).
* ``sapa``: the ``mmcv`` count of the network, with each upsampler slot counted by the
  upsampler's own per-module MAC formula (``Upsampler.macs``, SAPA's Table 1 for CARAFE and
  SAPA) — how SAPA's Tables 2–5 compute their deltas (without bias adds).

Both count one fused multiply-add as one FLOP (METRICS.md). The fvcore convention:

* Every upbench op is counted by its analytic MAC count (``OpSpec.macs``; its backward op
  ``_<op>_backward``, should a traced graph hold one, by ``OpSpec.backward_macs``, called with meta
  tensors of the traced input shapes and the traced scalar arguments), **whichever
  implementation would run**: the model is traced inside
  :func:`upbench.ops._registry.counting_semantics`, where each op call is one
  ``upbench_count::<op>`` node (the reference computes its values), so the native and the
  reference paths count the same, and a machine whose native build falls back counts what the
  others count.
* Elementwise arithmetic and activations (add, mul, div, exp, sigmoid, softmax, …), which fvcore
  ignores or leaves unsupported, count one FLOP per output element; reductions (sum, mean, norm)
  one per input element; average pooling one per input element.
* Pure data movement (pixel_shuffle, unfold/im2col, views, cat, pad, …) and comparisons
  (max_pool2d, argmax, ReLU as fvcore) count zero but are handled, so ``unsupported_ops`` lists only
  what nobody has counted yet.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

ELEMENTWISE_OUT = [
    "add", "add_", "sub", "sub_", "rsub", "mul", "mul_", "div", "div_", "neg", "reciprocal",
    "sigmoid", "sigmoid_", "tanh", "tanh_", "exp", "exp_", "log", "log2", "sqrt", "rsqrt", "pow", "abs",
    "maximum", "minimum", "lerp", "addcmul", "addcdiv", "gelu", "silu", "silu_", "hardtanh",
    "hardtanh_", "hardswish", "hardsigmoid", "leaky_relu", "leaky_relu_", "elu", "elu_", "softplus",
    "softmax", "log_softmax", "_softmax", "clamp_min", "clamp_max", "square", "sin", "cos",
    "atan2", "erf", "where", "prelu", "mish", "relu6",
]
REDUCTIONS_IN = ["sum", "mean", "norm", "linalg_vector_norm", "frobenius_norm", "var", "std",
                 "avg_pool2d", "avg_pool1d", "logsumexp", "cumsum", "prod", "amax", "amin"]
ZERO_OPS = [
    "pixel_shuffle", "pixel_unshuffle", "im2col", "col2im", "unfold", "fold", "view", "repeat",
    "repeat_interleave", "stack", "split", "split_with_sizes", "unbind", "transpose", "t",
    "select", "slice", "squeeze", "unsqueeze", "to", "type_as", "zeros", "zeros_like",
    "ones_like", "empty_like", "argmax", "argmin", "topk", "sort", "max_pool2d",
    "max_pool2d_with_indices", "adaptive_max_pool2d", "pad", "reflection_pad2d",
    "replicate_pad2d", "roll", "flip", "index_select", "scatter", "scatter_add", "clone", "lt",
    "le", "ne", "logical_and", "logical_or", "logical_not", "sign", "round", "ceil", "trunc",
    "meshgrid", "linspace", "expand_as", "view_as", "unflatten", "movedim", "channel_shuffle",
    "native_dropout", "alias", "lift_fresh", "fill_", "zero_", "masked_fill_", "index_add",
    "feature_dropout", "mT", "_unsafe_view", "diff", "tril", "triu", "one_hot", "gather",
]


def _numel(v: Any) -> int:
    from fvcore.nn.jit_handles import get_shape

    shape = get_shape(v)
    n = 1
    for s in shape or []:
        n *= int(s)
    return n if shape is not None else 0


def _out_handle(inputs: list, outputs: list) -> int:
    return sum(_numel(o) for o in outputs)


def _in_handle(inputs: list, outputs: list) -> int:
    return _numel(inputs[0]) if inputs else 0


def _zero_handle(inputs: list, outputs: list) -> int:
    return 0


def _upbench_handle(op_name: str, backward: bool = False):
    """The handle of ``upbench::<op>`` (``backward``: of ``upbench::_<op>_backward``): the op's
    MAC formula on meta tensors of the traced shapes and the traced scalars."""
    from upbench.ops import get_op

    spec = get_op(op_name)
    macs = spec.backward_macs if backward else spec.macs

    def handle(inputs: list, outputs: list) -> int:
        from fvcore.nn.jit_handles import get_shape

        args = []
        for v in inputs:
            if v.type().kind() == "TensorType" or isinstance(v.type(), torch._C.TensorType):
                shape = get_shape(v)
                args.append(torch.empty([int(s) for s in shape], device="meta"))
            else:
                args.append(v.toIValue())
        return int(macs(*args))

    return handle


def _roi_align_handle(inputs: list, outputs: list) -> int:
    """torchvision's RoIAlign: a bilinear sample (4 multiply-adds) per sampling point, the
    sampling grid ``sampling_ratio``² per output element (2² when adaptive, -1)."""
    ratio = inputs[4].toIValue() if len(inputs) > 4 else 2
    ratio = ratio if isinstance(ratio, int) and ratio > 0 else 2
    return 4 * ratio * ratio * _numel(outputs[0])


def extra_handles() -> dict[str, Any]:
    """fvcore op handles upbench adds: every registered ``upbench::`` op and the skipped ops."""
    from upbench.ops import list_ops
    from upbench.ops._registry import backward_op_name

    handles: dict[str, Any] = {}
    for op in ELEMENTWISE_OUT:
        handles[f"aten::{op}"] = _out_handle
    for op in REDUCTIONS_IN:
        handles[f"aten::{op}"] = _in_handle
    for op in ZERO_OPS:
        handles[f"aten::{op}"] = _zero_handle
    for name in list_ops():
        handles[f"upbench::{name}"] = _upbench_handle(name)
        handles[f"upbench_count::{name}"] = _upbench_handle(name)
        handles[f"upbench::{backward_op_name(name)}"] = _upbench_handle(name, backward=True)
    handles["torchvision::roi_align"] = _roi_align_handle
    return handles


@dataclass
class FlopReport:
    """The result of :func:`count_flops`."""

    total: int
    by_module: dict[str, int]
    by_operator: dict[str, int]
    unsupported_ops: dict[str, int]
    part: int = 0
    part_unsupported_ops: dict[str, int] = field(default_factory=dict)
    table: str = ""
    counter: str = "fvcore"
    counter_version: str = ""
    convention: str = "fvcore"
    uncounted: dict[str, int] = field(default_factory=dict)
    formula_slots: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        d = {"convention": self.convention, "counter": self.counter,
             "counter_version": self.counter_version, "total": self.total,
             "upsampler": self.part, "unsupported_ops": self.unsupported_ops,
             "upsampler_unsupported_ops": self.part_unsupported_ops,
             "by_operator": self.by_operator}
        if self.convention != "fvcore":
            d["uncounted_modules"] = self.uncounted
        if self.formula_slots:
            d["formula_slots"] = self.formula_slots
        return d


CONVENTIONS = ("fvcore", "mmcv", "sapa")
"""The FLOP conventions :func:`count_flops` implements (docs/counting.md)."""


def count_flops(model: nn.Module, inputs: tuple, part: list[str] | None = None,
                table: bool = False, max_depth: int = 3, convention: str = "fvcore"
                ) -> FlopReport:
    """Count FLOPs (multiply-adds) of ``model(*inputs)``.

    Args:
        model: the module (put in eval mode for the count, restored after).
        inputs: the positional inputs.
        part: module names whose FLOPs form the "upsampler-only" share.
        table: also render a by-module table.
        max_depth: depth of that table.
        convention: ``"fvcore"`` (fvcore and upbench's handles), ``"mmcv"`` (mmcv 1.x's module
            hooks, :mod:`upbench.engine.flops_mmcv`) or ``"sapa"`` (mmcv, with the ``part``
            slots counted by their upsampler's ``macs`` formula).

    Raises:
        ValueError: an unknown convention.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown FLOP convention {convention!r} (known: "
                         f"{', '.join(CONVENTIONS)})")
    was_training = model.training
    model.eval()
    try:
        if convention in ("mmcv", "sapa"):
            return _count_mmcv(model, inputs, part, table, max_depth, convention)
        with warnings.catch_warnings():  # fvcore's jit.trace/script deprecation noise
            warnings.simplefilter("ignore")
            return _count(model, inputs, part, table, max_depth)
    finally:
        model.train(was_training)


def _count_mmcv(model: nn.Module, inputs: tuple, part: list[str] | None, table: bool,
                max_depth: int, convention: str) -> FlopReport:
    from upbench.engine import flops_mmcv

    r = flops_mmcv.count_mmcv(model, inputs, part, table, max_depth,
                              slot_formulas=convention == "sapa")
    return FlopReport(r["total"], r["by_module"], r["by_operator"], {}, r["part"], {},
                      r["table"], flops_mmcv.COUNTER, flops_mmcv.COUNTER_VERSION, convention,
                      r["uncounted"], r["formula_slots"])


def _count(model: nn.Module, inputs: tuple, part: list[str] | None, table: bool,
           max_depth: int) -> FlopReport:
    from importlib.metadata import version

    from fvcore.nn import FlopCountAnalysis, flop_count_table

    from upbench.ops._registry import counting_semantics

    an = FlopCountAnalysis(model, inputs)
    an.set_op_handle(**extra_handles())
    an.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    an.tracer_warnings("none")
    with torch.no_grad(), counting_semantics():
        total = int(an.total())
        by_module = {k: int(v) for k, v in an.by_module().items()}
        by_op = {k: int(v) for k, v in an.by_operator().items()}
        unsupported = dict(an.unsupported_ops())
        part_total, part_uns = 0, Counter[str]()
        for name in part or []:
            part_total += by_module.get(name, 0)
            part_uns.update(an.unsupported_ops(name))
        tbl = flop_count_table(an, max_depth=max_depth) if table else ""
    return FlopReport(total, by_module, by_op, unsupported, part_total, dict(part_uns), tbl,
                      "fvcore", version("fvcore"))


PARAM_COUNTS = ("all", "trainable")
"""What :func:`count_params` counts: every parameter, or only ``requires_grad`` ones (mmcv's
``get_model_parameters_number``, what mmdetection prints)."""


def count_params(model: nn.Module, part: list[str] | None = None, which: str = "all"
                 ) -> dict[str, int]:
    """Parameter counts (buffers excluded): ``total`` and ``upsampler`` (of the named
    submodules), counting every parameter (``which="all"``) or only those with
    ``requires_grad`` (``"trainable"``, mmcv's / mmdetection's count).

    Raises:
        ValueError: an unknown ``which``.
    """
    if which not in PARAM_COUNTS:
        raise ValueError(f"unknown parameter count {which!r} (known: {', '.join(PARAM_COUNTS)})")

    def n(ps) -> int:
        return int(sum(p.numel() for p in ps if which == "all" or p.requires_grad))

    mods = dict(model.named_modules())
    ups = [p for name in part or [] for p in mods[name].parameters()]
    return {"total": n(model.parameters()), "upsampler": n(ups)}
