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
    # same values, transposed storage: a (N, C, H, W) view over an (N, C, W, H) buffer
    nc = t.transpose(2, 3).contiguous().transpose(2, 3)
    assert not nc.is_contiguous() or t.shape[2] == 1 or t.shape[3] == 1
    return nc


@pytest.mark.parametrize("name", OPS)
def test_non_contiguous_inputs(name, native):
    spec = get_op(name)
    for case in _cases(name, seed=4):
        args = [_non_contiguous(a) if isinstance(a, torch.Tensor) and a.dim() == 4 else a
                for a in case.args]
        out = spec.run("native", *args)
        ref = spec.run("reference", *case.args)
        outs = [out] if isinstance(out, torch.Tensor) else list(out)
        refs = [ref] if isinstance(ref, torch.Tensor) else list(ref)
        for o, r in zip(outs, refs, strict=True):
            assert rel_err(o, r) <= 1e-10, case.label
        grad_args = spec.grad_args(args)
        o = spec.run("native", *grad_args)
        o = o if isinstance(o, torch.Tensor) else o[0]
        o.sum().backward()


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
    spec = get_op(name)
    case = _cases(name, seed=6)[0]
    grads = []
    for _ in range(2):
        args = spec.grad_args(case.args)
        out = spec.run("native", *args)
        out = out if isinstance(out, torch.Tensor) else out[0]
        out.backward(torch.ones_like(out))
        leaves = [a for i, a in enumerate(args) if i in spec.grad_inputs]
        grads.append([t.grad.clone() for t in leaves if isinstance(t, torch.Tensor)])
    for a, b in zip(*grads, strict=True):
        assert torch.equal(a, b)
