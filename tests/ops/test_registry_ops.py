"""Registry-driven checks of every native op: a new op is covered the day it registers.

For each op and each of its check cases (small random inputs, odd sizes included), in both CPU
kernel modes (fast, and elementwise = the CUDA kernels' per-element math):
forward vs the float64 reference (float64: 1e-10, float32: 1e-5 relative), float64 gradcheck of
the native op, non-contiguous inputs, and torch.library.opcheck.
"""

from __future__ import annotations

import pytest
import torch

from upbench.ops import get_op, list_ops
from upbench.ops.check import compare_case, rel_err

OPS = list_ops()
TOL = {torch.float64: 1e-10, torch.float32: 1e-5}


def _cases(name, dtype=torch.float64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return get_op(name).check_cases(dtype, torch.device("cpu"), gen)


def test_every_op_is_registered_with_cases():
    assert {"bilinear_upsample", "pixel_shuffle", "carafe"} <= set(OPS)
    for name in OPS:
        assert len(_cases(name)) >= 2, name


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_forward_and_backward_match_reference(name, dtype, kernel_mode):
    spec = get_op(name)
    gen = torch.Generator().manual_seed(1)
    for case in _cases(name, seed=2):
        fwd, bwd = compare_case(spec, case.args, dtype, torch.device("cpu"), gen)
        assert fwd <= TOL[dtype], f"{name} {case.label} forward rel err {fwd}"
        assert bwd <= TOL[dtype], f"{name} {case.label} backward rel err {bwd}"


@pytest.mark.parametrize("name", OPS)
def test_gradcheck_float64(name, kernel_mode):
    """Full gradcheck on the first (smallest) case, fast-mode gradcheck (random projections of
    the Jacobian) on the others, all in float64."""
    spec = get_op(name)
    for i, case in enumerate(_cases(name, seed=3)):
        args = spec.grad_args(case.args)
        leaves, rebuild = _flatten_lists(args)
        assert torch.autograd.gradcheck(lambda *a, rb=rebuild: spec.run("native", *rb(a)), leaves,
                                        eps=1e-6, atol=1e-7, fast_mode=i > 0), case.label


def _flatten_lists(args):
    """gradcheck only sees top-level tensors: flatten ``Tensor[]`` arguments (e.g. pyramid_fuse's
    levels) into positional leaves and rebuild the argument list inside the checked function."""
    leaves, layout = [], []
    for a in args:
        if isinstance(a, (list, tuple)) and a and isinstance(a[0], torch.Tensor):
            layout.append((type(a), len(a)))
            leaves += list(a)
        else:
            layout.append(None)
            leaves.append(a)

    def rebuild(flat):
        out, j = [], 0
        for kind in layout:
            if kind is None:
                out.append(flat[j])
                j += 1
            else:
                out.append(kind[0](flat[j:j + kind[1]]))
                j += kind[1]
        return out

    return tuple(leaves), rebuild


def _non_contiguous(t: torch.Tensor) -> torch.Tensor:
    """Same values in strided storage: every other element of a twice-as-large buffer along the
    first dimension longer than 1 (a tensor with none cannot be non-contiguous)."""
    d = next((i for i, n in enumerate(t.shape) if n > 1), None)
    if d is None:
        return t
    shape = list(t.shape)
    shape[d] *= 2
    nc = t.new_zeros(shape).narrow(d, 0, shape[d]).unfold(d, 1, 2).squeeze(-1)
    nc.copy_(t)
    assert not nc.is_contiguous() and torch.equal(nc, t)
    return nc


def _map_tensors(fn, args):
    """``args`` with ``fn`` applied to every tensor, inside lists too."""
    return [type(a)(fn(t) for t in a) if isinstance(a, (list, tuple))
            else fn(a) if isinstance(a, torch.Tensor) else a for a in args]


def _grad_leaves(spec, args) -> list[torch.Tensor]:
    """The gradient leaves of ``args`` (``grad_inputs``), list arguments flattened."""
    out = []
    for i in spec.grad_inputs:
        out += list(args[i]) if isinstance(args[i], (list, tuple)) else [args[i]]
    return out


def _outputs(out) -> list[torch.Tensor]:
    return [out] if isinstance(out, torch.Tensor) else list(out)


def _forward_backward(spec, impl, args, grad_out):
    """Outputs and the gradients of every gradient leaf for ``grad_out`` on the first output."""
    args = spec.grad_args(args)
    outs = _outputs(spec.run(impl, *args))
    outs[0].backward(grad_out)
    return outs, [t.grad for t in _grad_leaves(spec, args)]


@pytest.mark.parametrize("name", OPS)
def test_non_contiguous_inputs(name, native):
    """Every tensor argument (list elements and non-4-D ones too) and the incoming gradient
    non-contiguous: outputs and every input gradient equal the reference's on contiguous ones."""
    spec = get_op(name)
    gen = torch.Generator().manual_seed(7)
    for case in _cases(name, seed=4):
        args = _map_tensors(_non_contiguous, case.args)
        assert any(not t.is_contiguous() for a in args
                   for t in (a if isinstance(a, (list, tuple)) else [a])
                   if isinstance(t, torch.Tensor)), case.label
        shape = _outputs(spec.run("reference", *case.args))[0].shape
        grad_out = torch.randn(shape, generator=gen, dtype=torch.float64)
        outs, grads = _forward_backward(spec, "native", args, _non_contiguous(grad_out))
        refs, ref_grads = _forward_backward(spec, "reference", case.args, grad_out)
        for o, r in zip(outs, refs, strict=True):
            assert rel_err(o.detach(), r.detach()) <= 1e-10, case.label
        assert len(grads) == len(ref_grads) >= 1
        for g, r in zip(grads, ref_grads, strict=True):
            assert rel_err(g, r) <= 1e-10, case.label


@pytest.mark.parametrize("name", OPS)
def test_opcheck(name, native):
    spec = get_op(name)
    op = getattr(torch.ops.upbench, name).default
    for case in _cases(name, seed=5)[:2]:
        args = spec.grad_args(case.args)
        torch.library.opcheck(op, tuple(args))


@pytest.mark.parametrize("name", OPS)
def test_macs_and_bytes_are_positive_counts(name):
    spec = get_op(name)
    case = _cases(name)[0]
    assert isinstance(spec.macs(*case.args), int) and spec.macs(*case.args) >= 0
    assert spec.bytes_moved(*case.args) > 0


@pytest.mark.parametrize("name", OPS)
def test_cpu_backward_is_deterministic(name, native):
    """Two backward passes of the native op with one random grad_out give bit-identical
    gradients for every gradient input (list arguments' elements included)."""
    spec = get_op(name)
    case = _cases(name, seed=6)[0]
    shape = _outputs(spec.run("native", *case.args))[0].shape
    grad_out = torch.randn(shape, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    first = _forward_backward(spec, "native", case.args, grad_out)[1]
    second = _forward_backward(spec, "native", case.args, grad_out)[1]
    assert len(first) == len(_grad_leaves(spec, case.args)) >= 1
    for a, b in zip(first, second, strict=True):
        assert a is not None and torch.equal(a, b)
