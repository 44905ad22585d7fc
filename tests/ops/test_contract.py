"""Every op's argument contract is one: the native bindings (ops_cuda/common/upb_contract.h) and
the Python mirror (upbench.ops._contract, run on the reference path and by the fake kernels)
refuse the same bad argument with the same error class and message.

For every forward and backward op and every tensor argument: a wrong rank, a wrong size, a wrong
dtype (int64 and, on CPU, float16) and, where the op takes several tensors, a wrong device
(meta). The native backward ops are called directly, so a backward binding that forgot to check
its incoming gradient (the carafe bug of issue 28) fails here.
"""

from __future__ import annotations

import pytest
import torch

import upbench.ops  # noqa: F401 - registers every op
from upbench.ops._registry import get_op, list_ops, run_op


def _forward_args(name: str) -> tuple:
    gen = torch.Generator().manual_seed(0)
    return tuple(get_op(name).check_cases(torch.float64, torch.device("cpu"), gen)[0].args)


def _backward_args(name: str) -> tuple:
    """(grad_out, *the saved inputs, *the hyper-parameters) as the op's backward takes them."""
    args = _forward_args(name)
    out = get_op(name).reference(*args)
    if name == "pyramid_fuse":
        fused, level = out
        return (torch.ones_like(fused), level, len(args[0]))
    go = torch.ones_like(out)
    if name == "bilinear_upsample":
        return (go, args[0].shape[2], args[0].shape[3], args[1])
    if name == "pixel_shuffle":
        return (go, args[1])
    if name == "dupsample":
        return (go, args[0], args[1], args[3])
    return (go, *args)


def _slots(args: tuple) -> list[tuple]:
    """Positions of the tensor arguments: (i,) or (i, j) for element j of a list argument."""
    out: list[tuple] = []
    for i, a in enumerate(args):
        if isinstance(a, torch.Tensor):
            out.append((i,))
        elif isinstance(a, (list, tuple)):
            out += [(i, j) for j, t in enumerate(a) if isinstance(t, torch.Tensor)]
    return out


def _get(args, slot):
    return args[slot[0]] if len(slot) == 1 else args[slot[0]][slot[1]]


def _put(args, slot, value) -> tuple:
    args = list(args)
    if len(slot) == 1:
        args[slot[0]] = value
    else:
        seq = list(args[slot[0]])
        seq[slot[1]] = value
        args[slot[0]] = seq
    return tuple(args)


def _variants(args: tuple):
    slots = _slots(args)
    for slot in slots:
        t = _get(args, slot)
        yield slot, "rank", t.unsqueeze(0)
        if t.dim() >= 1:
            yield slot, "size", t.new_zeros((*t.shape[:-1], t.shape[-1] + 1))
        if t.is_floating_point():
            yield slot, "int64", t.long()
            yield slot, "float16", t.half()
        else:
            yield slot, "float64", t.double()
        if len(slots) > 1:
            yield slot, "meta", t.to("meta")


def _error(fn, *args):
    try:
        fn(*args)
    except (ValueError, TypeError, RuntimeError) as e:
        return type(e), str(e).split("\nException raised from")[0]
    return None


def _cases(backward: bool):
    for name in list_ops():
        args = _backward_args(name) if backward else _forward_args(name)
        for slot, kind, bad in _variants(args):
            yield pytest.param(name, slot, kind, bad, id=f"{name}-{'bwd-' if backward else ''}"
                               f"{'.'.join(map(str, slot))}-{kind}")


@pytest.fixture(autouse=True)
def _native(native):
    """The native library is loaded (the `native` fixture skips where it cannot be built)."""


def test_every_op_and_argument_is_covered():
    for name in list_ops():
        assert len(_slots(_forward_args(name))) >= 1
        assert _slots(_backward_args(name))[0] == (0,)  # grad_out first


@pytest.mark.parametrize(("name", "slot", "kind", "bad"), list(_cases(backward=False)))
def test_forward_native_and_reference_refuse_alike(name, slot, kind, bad):
    args = _put(_forward_args(name), slot, bad)
    ref = _error(lambda *a: run_op(name, "reference", torch.device("cpu"), *a), *args)
    if ref is None:  # a size the op accepts (e.g. any width for an upsampler's only input)
        assert kind == "size", f"{name}: {kind} of argument {slot} passed the contract"
        assert _error(lambda *a: run_op(name, "native", torch.device("cpu"), *a), *args) is None
        return
    assert ref[0] in (ValueError, TypeError) and ref[1].startswith(f"{name}: "), ref
    nat = _error(lambda *a: run_op(name, "native", torch.device("cpu"), *a), *args)
    assert nat == ref


@pytest.mark.parametrize(("name", "slot", "kind", "bad"), list(_cases(backward=True)))
def test_backward_native_and_mirror_refuse_alike(name, slot, kind, bad):
    args = _put(_backward_args(name), slot, bad)
    spec = get_op(name)
    mirror = _error(spec.check_backward, *args)
    assert mirror is not None, f"_{name}_backward accepted a {kind} argument {slot}"
    assert mirror[0] in (ValueError, TypeError), mirror
    assert mirror[1].startswith(f"_{name}_backward: ") or mirror[1].startswith(f"{name}: ")
    native = _error(getattr(torch.ops.upbench, f"_{name}_backward"), *args)
    assert native == mirror


def test_valid_arguments_pass_both():
    for name in list_ops():
        spec = get_op(name)
        spec.check(*_forward_args(name))
        spec.check_backward(*_backward_args(name))
