"""``torch.utils.flop_counter.FlopCounterMode`` around a forward and a backward of every
registered upsampler counts the documented analytic sum (docs/flops.md): per convolution and
linear layer 2·MACs forward, plus 2·MACs for each gradient it computes (input, weight), plus
2·``OpSpec.macs`` per upbench op call and 2·``OpSpec.backward_macs`` per backward op call."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from upbench.cli.flops import Standalone, standalone_inputs
from upbench.ops import get_op
from upbench.ops._registry import _meta_args
from upbench.upsamplers import (
    create_upsampler,
    get_upsampler_class,
    list_upsamplers,
    upsampler_hparams,
)

pytestmark = pytest.mark.usefixtures("native")


def _layer_macs(m: nn.Module, inp: torch.Tensor, out: torch.Tensor) -> int:
    if isinstance(m, nn.ConvTranspose2d):
        return inp.numel() * m.out_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
    if isinstance(m, nn.Conv2d):
        return out.numel() * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
    return out.numel() * m.in_features  # nn.Linear


class _UpbenchCalls(TorchDispatchMode):
    """Sums the analytic MACs of every ``upbench::`` op (forward or backward) that runs."""

    def __init__(self) -> None:
        super().__init__()
        self.macs: dict[str, int] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func._schema.name
        if name.startswith("upbench::"):
            op = name.split("::")[1]
            backward = op.startswith("_") and op.endswith("_backward")
            spec = get_op(op[1:-len("_backward")] if backward else op)
            fn = spec.backward_macs if backward else spec.macs
            shapes = [[t.shape for t in a] if isinstance(a, (list, tuple)) and a
                      and isinstance(a[0], torch.Tensor) else
                      (a.shape if isinstance(a, torch.Tensor) else a) for a in args]
            self.macs[op] = self.macs.get(op, 0) + int(fn(*_meta_args(tuple(shapes))))
        return func(*args, **(kwargs or {}))


def _analytic_and_counted(name: str) -> tuple[int, int, dict[str, int]]:
    cls = get_upsampler_class(name)
    hp = {"num_classes": 3} if "num_classes" in upsampler_hparams(name) else {}
    torch.manual_seed(0)
    up = create_upsampler(name, 8, 8 if cls.space == "label" else 2, **hp)
    model = Standalone(up)
    inputs = [t.requires_grad_() for t in standalone_inputs(up, 8, 4, 4)]
    layers = {"fwd": 0, "bwd": 0}

    def hook(m, args, out):
        macs = _layer_macs(m, args[0], out)
        layers["fwd"] += macs
        grads = int(args[0].requires_grad) + int(m.weight.requires_grad)
        def grad_hook(g):  # called with None where the gradient stops (a hard selection)
            if g is not None:
                layers["bwd"] += grads * macs

        if out.requires_grad:
            out.register_hook(grad_hook)

    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            m.register_forward_hook(hook)
    calls = _UpbenchCalls()
    with FlopCounterMode(display=False) as fc, calls:
        out = model(*inputs)
        out = out[0] if isinstance(out, tuple) else out
        (out * torch.linspace(-1, 1, out.numel()).view(out.shape)).sum().backward()
    analytic = 2 * (layers["fwd"] + layers["bwd"] + sum(calls.macs.values()))
    return analytic, int(fc.get_total_flops()), calls.macs


@pytest.mark.parametrize("name", list_upsamplers())
def test_forward_backward_count_is_the_analytic_sum(name):
    analytic, counted, ops_run = _analytic_and_counted(name)
    assert counted == analytic, (name, ops_run)


def test_every_backward_op_is_counted():
    """The upsamplers whose backward op does multiply-adds count it (it was missed once)."""
    seen = {}
    for name in list_upsamplers():
        seen.update(_analytic_and_counted(name)[2])
    backward = {op for op, macs in seen.items() if op.endswith("_backward") and macs > 0}
    assert {"_carafe_backward", "_sapa_similarity_backward", "_offset_bilinear_backward",
            "_dupsample_backward", "_nrd_decode_backward",
            "_bilinear_upsample_backward"} <= backward
