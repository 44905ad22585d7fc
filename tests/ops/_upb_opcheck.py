"""Generic native-vs-reference checks for one registered op (used by the op-specific tests)."""

from __future__ import annotations

import contextlib

import torch

from upbench.ops._registry import ensure_native, get_op


@contextlib.contextmanager
def cpu_mode(mode: int):
    old = torch.ops.upbench._set_cpu_kernel_mode(mode)
    try:
        yield
    finally:
        torch.ops.upbench._set_cpu_kernel_mode(old)


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [o for o in out if isinstance(o, torch.Tensor) and o.is_floating_point()]
    return [out]


def _noncontig(a):
    if isinstance(a, torch.Tensor) and a.dim() >= 2:
        return a.transpose(-1, -2).contiguous().transpose(-1, -2)
    if isinstance(a, list):
        return [_noncontig(t) for t in a]
    return a


def run_generic_checks(name: str, gradcheck: bool = True, opcheck: bool = True) -> None:
    """Forward (both CPU modes, float64 and float32, non-contiguous), gradcheck and opcheck."""
    ensure_native()
    spec = get_op(name)
    gen = torch.Generator().manual_seed(0)
    for dtype, tol in ((torch.float64, 1e-10), (torch.float32, 1e-4)):
        for case in spec.check_cases(dtype, torch.device("cpu"), gen):
            ref = _flat(spec.run("reference", *case.args))
            for mode in (0, 1):
                with cpu_mode(mode):
                    for args in (case.args, tuple(_noncontig(a) for a in case.args)):
                        nat = _flat(spec.run("native", *args))
                        for a, b in zip(nat, ref, strict=True):
                            torch.testing.assert_close(a, b, rtol=tol, atol=tol, msg=case.label)
    for case in spec.check_cases(torch.float64, torch.device("cpu"), gen):
        args = []
        for i, a in enumerate(case.args):
            if i in spec.grad_inputs:
                if isinstance(a, list):
                    a = [t.detach().clone().requires_grad_(True) for t in a]
                else:
                    a = a.detach().clone().requires_grad_(True)
            args.append(a)
        if gradcheck:
            for mode in (0, 1):
                with cpu_mode(mode):
                    assert torch.autograd.gradcheck(
                        lambda *xs: _flat(spec.native(*xs))[0], tuple(args), fast_mode=True
                    ), case.label
        if opcheck:
            torch.library.opcheck(getattr(torch.ops.upbench, name).default, tuple(args))
