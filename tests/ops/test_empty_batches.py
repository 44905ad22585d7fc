"""Every op, forward and backward, on a batch of 0 samples: the native kernels return empty
outputs and zero gradients as the references do (no division by an empty extent: batch 0 once
raised SIGFPE in three backward kernels)."""

from __future__ import annotations

import pytest
import torch

from upbench.ops import get_op, list_ops


def empty_batch_case(name: str) -> tuple:
    spec = get_op(name)
    case = spec.check_cases(torch.float64, torch.device("cpu"), torch.Generator().manual_seed(0))[0]
    return tuple(cut(a) for a in case.args)


def cut(a):
    """The first 0 samples of a tensor (of each tensor of a list)."""
    if isinstance(a, (list, tuple)):
        return type(a)(cut(t) for t in a)
    return a[:0].clone() if isinstance(a, torch.Tensor) else a


def leaves_of(a) -> list[torch.Tensor]:
    return [t for t in a] if isinstance(a, (list, tuple)) else [a]


def as_leaf(a):
    if isinstance(a, (list, tuple)):
        return type(a)(t.clone().requires_grad_(True) for t in a)
    return a.clone().requires_grad_(True)


def run(name: str, impl: str, args: tuple) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    spec = get_op(name)
    leaves = [as_leaf(a) if i in spec.grad_inputs else a for i, a in enumerate(args)]
    out = spec.run(impl, *leaves)
    out = out if isinstance(out, torch.Tensor) else out[0]
    grads = [t for i, a in enumerate(leaves) if i in spec.grad_inputs for t in leaves_of(a)]
    if out.requires_grad:
        got = torch.autograd.grad(out.sum(), grads, allow_unused=True)
    else:  # an op whose output does not depend on its inputs when they are empty
        got = [None] * len(grads)
    return out, list(got)


@pytest.mark.parametrize("name", list_ops())
def test_batch_of_zero_forward_and_backward(name):
    args = empty_batch_case(name)
    ref_out, ref_grads = run(name, "reference", args)
    out, grads = run(name, "native", args)
    assert out.shape == ref_out.shape and out.shape[0] == 0
    inputs = [t for i, a in enumerate(args) if i in get_op(name).grad_inputs for t in leaves_of(a)]
    for g, rg, a in zip(grads, ref_grads, inputs, strict=True):
        for t in (g, rg):
            assert t is None or (t.shape == a.shape and not t.any())
