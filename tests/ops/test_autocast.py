"""Autocast kernels of every upbench op (opcheck-style): registered for CPU and CUDA, the dtype
rule of each op's policy, values equal to the float32 op on the cast inputs, gradients back in
the inputs' dtypes, and torch.library.opcheck inside an autocast region."""

from __future__ import annotations

import pytest
import torch

from upbench import ops
from upbench.ops import get_op, list_ops
from upbench.ops._autocast import autocast_dtypes, cast, has_autocast_kernel

LOW = [torch.bfloat16, torch.float16]


def _case(name):
    spec = get_op(name)
    return spec, spec.check_cases(torch.float32, torch.device("cpu"),
                                  torch.Generator().manual_seed(0))[0]


def _lowered(args, dtype, spec):
    """The case's gradient inputs in ``dtype`` (others stay float32: autocast mixes dtypes)."""
    out = []
    for i, a in enumerate(args):
        out.append(cast(a, dtype, "cpu") if i in spec.grad_inputs[:1] else a)
    return tuple(out)


def _floats(out):
    return [t for t in (out if isinstance(out, (tuple, list)) else (out,)) if t.is_floating_point()]


@pytest.mark.parametrize("name", list_ops())
def test_autocast_kernels_are_registered_for_cpu_and_cuda(native, name):
    assert has_autocast_kernel(name, "cpu") and has_autocast_kernel(name, "cuda")
    assert get_op(name).autocast in ("lower", "fp32")


def test_dtype_rules():
    # CPU has no half kernels: compute in float32, cast back (lower) or stay float32 (fp32)
    assert autocast_dtypes("lower", "cpu", torch.bfloat16) == (torch.float32, torch.bfloat16)
    assert autocast_dtypes("fp32", "cpu", torch.bfloat16) == (torch.float32, None)
    # CUDA runs its native half kernels for "lower" ops, float32 for "fp32" ops
    assert autocast_dtypes("lower", "cuda", torch.float16) == (torch.float16, None)
    assert autocast_dtypes("lower", "cuda", torch.bfloat16) == (torch.bfloat16, None)
    assert autocast_dtypes("fp32", "cuda", torch.float16) == (torch.float32, None)
    with pytest.raises(ValueError, match="policy"):
        autocast_dtypes("fast", "cpu", torch.bfloat16)


@pytest.mark.parametrize("dtype", LOW, ids=str)
@pytest.mark.parametrize("name", list_ops())
@pytest.mark.parametrize("via", ["dispatcher", "frontend-native", "frontend-reference"])
def test_autocast_on_cpu(native, name, dtype, via):
    spec, case = _case(name)
    args = _lowered(case.args, dtype, spec)
    want_dtype = dtype if spec.autocast == "lower" else torch.float32
    # the float32 op on the float32 values of the (lowered) inputs
    impl = "reference" if via == "frontend-reference" else "native"
    expect = spec.run(impl, *cast(args, torch.float32, "cpu"))
    grad_args = spec.grad_args(args)
    with torch.autocast("cpu", dtype=dtype):
        if via == "dispatcher":
            got = getattr(torch.ops.upbench, name)(*grad_args)
        else:
            got = _frontend(name, grad_args, via.split("-")[1])
    for g, e in zip(_floats(got), _floats(expect), strict=True):
        assert g.dtype == want_dtype
        torch.testing.assert_close(g.float(), e.to(want_dtype).float(), rtol=0, atol=0)
    # gradients reach every gradient input, in its own dtype
    _floats(got)[0].float().square().sum().backward()
    for i in spec.grad_inputs:
        for leaf in (grad_args[i] if isinstance(grad_args[i], list) else [grad_args[i]]):
            if leaf.requires_grad:
                assert leaf.grad is not None and leaf.grad.dtype == leaf.dtype


def _frontend(name, args, impl):
    """The op's public function (``upbench.ops.<name>``) called with the schema's arguments."""
    fn = getattr(ops, name)
    if name == "nrd_decode":
        *head, coords = args
        return fn(*head, coords=coords, impl=impl)
    if name == "offset_bilinear":
        x, off, sh, sw, align = args
        return fn(x, off, (sh, sw), align_corners=align, impl=impl)
    return fn(*args, impl=impl)


@pytest.mark.parametrize("name", list_ops())
def test_opcheck_under_autocast(native, name):
    spec, case = _case(name)
    args = spec.grad_args(_lowered(case.args, torch.bfloat16, spec))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        torch.library.opcheck(getattr(torch.ops.upbench, name).default, tuple(args),
                              test_utils=("test_schema", "test_autograd_registration",
                                          "test_faketensor"))
