"""Every op's backward op has a MAC formula (``OpSpec.backward_macs``) that
``torch.utils.flop_counter.FlopCounterMode`` uses (2 FLOPs per multiply-add) and that the fvcore
handle of ``upbench::_<op>_backward`` gives (1 FLOP per multiply-add): the two counters agree."""

from __future__ import annotations

import pytest
import torch
from fvcore.nn import FlopCountAnalysis
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from upbench.engine.flops import extra_handles
from upbench.ops import get_op, list_ops

pytestmark = pytest.mark.usefixtures("native")


class _CaptureBackward(TorchDispatchMode):
    def __init__(self, op: str) -> None:
        super().__init__()
        self.name, self.args = f"upbench::_{op}_backward", None

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func._schema.name == self.name:
            self.args = args
        return func(*args, **(kwargs or {}))


class _CallBackward(torch.nn.Module):
    def __init__(self, op: str, scalars: tuple) -> None:
        super().__init__()
        self.fn, self.scalars = getattr(torch.ops.upbench, f"_{op}_backward"), scalars

    def forward(self, *tensors):
        return self.fn(*tensors, *self.scalars)


def _case(name: str):
    spec = get_op(name)
    return spec, spec.check_cases(torch.float32, torch.device("cpu"),
                                  torch.Generator().manual_seed(3))[0]


@pytest.mark.parametrize("name", list_ops())
def test_forward_and_backward_are_counted(name):
    spec, case = _case(name)
    args = spec.grad_args(case.args)
    capture = _CaptureBackward(name)
    with FlopCounterMode(display=False) as fc:
        out = spec.native(*args)
        out = out[0] if isinstance(out, tuple) else out
        with capture:
            (out * torch.randn_like(out)).sum().backward()
    assert capture.args is not None, f"{name}: its backward op did not run"
    want = 2 * (spec.macs(*case.args) + spec.backward_macs(*capture.args))
    assert fc.get_total_flops() == want


@pytest.mark.parametrize("name", list_ops())
def test_fvcore_handle_of_the_backward_op_agrees(name):
    spec, case = _case(name)
    args = spec.grad_args(case.args)
    capture = _CaptureBackward(name)
    out = spec.native(*args)
    out = out[0] if isinstance(out, tuple) else out
    with capture:
        out.sum().backward()
    tensors = tuple(a for a in capture.args if isinstance(a, torch.Tensor))
    assert all(isinstance(a, torch.Tensor) for a in capture.args[: len(tensors)])
    scalars = capture.args[len(tensors):]
    an = FlopCountAnalysis(_CallBackward(name, scalars), tensors)
    an.set_op_handle(**extra_handles()).unsupported_ops_warnings(False)
    an.uncalled_modules_warnings(False).tracer_warnings("none")
    assert an.total() == spec.backward_macs(*capture.args)
    with FlopCounterMode(display=False) as fc:
        getattr(torch.ops.upbench, f"_{name}_backward")(*capture.args)
    assert fc.get_total_flops() == 2 * an.total()


def test_documented_closed_forms():
    """docs/flops.md: the backward of carafe, SAPA similarity, offset bilinear and dupsample
    is twice the forward; bilinear's equals the forward; NRD's at d = m = 16, K = 19 with
    coordinates is 1,664 per output pixel (forward 848); selections count zero."""
    m = torch.empty
    f, msk = m(2, 8, 5, 6, device="meta"), m(2, 9, 10, 12, device="meta")
    assert get_op("carafe").backward_macs(m(2, 8, 10, 12), f, msk, 3, 1, 2) == 2 * 2 * 8 * 120 * 9
    x = m(1, 4, 3, 5, device="meta")
    assert get_op("bilinear_upsample").backward_macs(m(1, 4, 6, 10), 3, 5, 2) == 4 * 240
    assert get_op("bilinear_upsample").macs(x, 2) == 4 * 240
    params, guid = m(1, 899, 2, 3, device="meta"), m(1, 16, 16, 24, device="meta")
    pixels = 16 * 24
    assert get_op("nrd_decode").macs(params, guid, 19, 16, 8, True) == 848 * pixels
    assert get_op("nrd_decode").backward_macs(None, params, guid, 19, 16, 8, True) == 1664 * pixels
    assert get_op("pixel_shuffle").backward_macs(x, 2) == 0
    assert get_op("pyramid_fuse").backward_macs(x, m(1, 3, 5), 2) == 0
