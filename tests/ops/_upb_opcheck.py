"""Generic native-vs-reference checks for one registered op (used by the op-specific tests).

Mirrors what the registry-driven tests do: forward in float64/float32 for both CPU kernel modes
and non-contiguous inputs, float64 gradcheck of the native op (list arguments flattened), and
``torch.library.opcheck``.
"""

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


def _outputs(out) -> list[torch.Tensor]:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _noncontig(a):
    if isinstance(a, torch.Tensor) and a.dim() >= 2:
        return a.transpose(-1, -2).contiguous().transpose(-1, -2)
    if isinstance(a, list):
        return [_noncontig(t) for t in a]
    return a


def _flatten(args, grad_inputs):
    """Differentiable leaves (lists flattened) and a function rebuilding the argument tuple."""
    leaves, layout = [], []
    for i, a in enumerate(args):
        if i in grad_inputs and isinstance(a, list):
            layout.append(("list", len(a)))
            leaves += [t.detach().clone().requires_grad_(True) for t in a]
        elif i in grad_inputs:
            layout.append(("tensor", 1))
            leaves.append(a.detach().clone().requires_grad_(True))
        else:
            layout.append(("const", a))

    def rebuild(*xs):
        out, j = [], 0
        for kind, v in layout:
            if kind == "list":
                out.append(list(xs[j:j + v]))
                j += v
            elif kind == "tensor":
                out.append(xs[j])
                j += 1
            else:
                out.append(v)
        return tuple(out)

    return tuple(leaves), rebuild


def run_generic_checks(name: str) -> None:
    ensure_native()
    spec = get_op(name)
    gen = torch.Generator().manual_seed(0)
    for dtype, tol in ((torch.float64, 1e-10), (torch.float32, 1e-4)):
        for case in spec.check_cases(dtype, torch.device("cpu"), gen):
            ref = _outputs(spec.run("reference", *case.args))
            for mode in (0, 1):
                with cpu_mode(mode):
                    for args in (case.args, tuple(_noncontig(a) for a in case.args)):
                        nat = _outputs(spec.run("native", *args))
                        for a, b in zip(nat, ref, strict=True):
                            torch.testing.assert_close(a, b, rtol=tol, atol=tol, msg=case.label)
    for case in spec.check_cases(torch.float64, torch.device("cpu"), gen):
        leaves, rebuild = _flatten(case.args, spec.grad_inputs)

        def fn(*xs, rebuild=rebuild):
            return _outputs(spec.native(*rebuild(*xs)))[0]

        for mode in (0, 1):
            with cpu_mode(mode):
                assert torch.autograd.gradcheck(fn, leaves, fast_mode=True), case.label
        torch.library.opcheck(getattr(torch.ops.upbench, name).default, rebuild(*leaves))
