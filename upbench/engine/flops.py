"""FLOP counting with fvcore, extended to every ``upbench::`` op and to the ops fvcore skips.

Convention (fvcore's, METRICS.md): one fused multiply-add = one FLOP.

* Every upbench op is counted by its analytic MAC count (``OpSpec.macs``, called with meta
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


def _upbench_handle(op_name: str):
    from upbench.ops import get_op

    spec = get_op(op_name)

    def handle(inputs: list, outputs: list) -> int:
        from fvcore.nn.jit_handles import get_shape

        args = []
        for v in inputs:
            if v.type().kind() == "TensorType" or isinstance(v.type(), torch._C.TensorType):
                shape = get_shape(v)
                args.append(torch.empty([int(s) for s in shape], device="meta"))
            else:
                args.append(v.toIValue())
        return int(spec.macs(*args))

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

    def as_dict(self) -> dict[str, Any]:
        return {"counter": self.counter, "counter_version": self.counter_version,
                "total": self.total, "upsampler": self.part,
                "unsupported_ops": self.unsupported_ops,
                "upsampler_unsupported_ops": self.part_unsupported_ops,
                "by_operator": self.by_operator}


def count_flops(model: nn.Module, inputs: tuple, part: list[str] | None = None,
                table: bool = False, max_depth: int = 3) -> FlopReport:
    """Count FLOPs of ``model(*inputs)`` with fvcore and upbench's handles.

    Args:
        model: the module (put in eval mode for the count, restored after).
        inputs: the positional inputs.
        part: module names whose FLOPs form the "upsampler-only" share.
        table: also render fvcore's by-module table.
        max_depth: depth of that table.
    """
    was_training = model.training
    model.eval()
    try:
        with warnings.catch_warnings():  # fvcore's jit.trace/script deprecation noise
            warnings.simplefilter("ignore")
            return _count(model, inputs, part, table, max_depth)
    finally:
        model.train(was_training)


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


def count_params(model: nn.Module, part: list[str] | None = None) -> dict[str, int]:
    """Parameter counts (buffers excluded): total and of the named submodules."""
    mods = dict(model.named_modules())
    total = sum(p.numel() for p in model.parameters())
    ups = sum(p.numel() for name in part or [] for p in mods[name].parameters())
    return {"total": int(total), "upsampler": int(ups)}
