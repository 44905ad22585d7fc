"""upbench ops as first-class PyTorch citizens (issue 17): torch.compile(fullgraph=True) and
torch.export(strict=True) trace them, second-order gradients are correct, FLOPs are counted by
operator semantics, and a saved program loads after ``import upbench``."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from upbench.cli.flops import Standalone, standalone_inputs
from upbench.engine.flops import count_flops
from upbench.ops import get_op, list_ops
from upbench.tasks.segmentation import SegBaseline
from upbench.upsamplers import (
    create_upsampler,
    get_upsampler_class,
    list_upsamplers,
    upsampler_hparams,
)

pytestmark = pytest.mark.usefixtures("native")


def _standalone(name: str) -> tuple[torch.nn.Module, tuple]:
    cls = get_upsampler_class(name)
    hp = {"num_classes": 3} if "num_classes" in upsampler_hparams(name) else {}
    torch.manual_seed(0)
    up = create_upsampler(name, 4, 8 if cls.space == "label" else 2, **hp)
    return Standalone(up), standalone_inputs(up, 4, 4, 4)


def _first(out):
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize("backend", ["eager", "aot_eager"])
@pytest.mark.parametrize("name", list_upsamplers())
def test_every_upsampler_compiles_fullgraph_forward_and_backward(name, backend):
    torch._dynamo.reset()
    model, inputs = _standalone(name)
    eager_in = [t.detach().requires_grad_() for t in inputs]
    comp_in = [t.detach().requires_grad_() for t in inputs]
    ref = _first(model(*eager_in))
    out = _first(torch.compile(model, fullgraph=True, backend=backend)(*comp_in))
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    go = torch.randn_like(ref)
    params = list(model.parameters())
    g_ref = torch.autograd.grad(ref, eager_in + params, go, allow_unused=True)
    g_out = torch.autograd.grad(out, comp_in + params, go, allow_unused=True)
    for a, b in zip(g_out, g_ref, strict=True):
        if b is None:
            assert a is None
        else:
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_export_strict_of_the_baseline_and_load_in_a_fresh_process(tmp_path):
    for name in ("carafe", "lau"):
        model = SegBaseline(5, name, seed=0, widths=[8, 8, 16, 16], decoder_channels=8).eval()
        x = torch.randn(1, 3, 64, 64)
        prog = torch.export.export(model, (x,), strict=True)
        ops = {str(n.target) for n in prog.graph.nodes if n.op == "call_function"}
        assert any(o.startswith("upbench.") for o in ops), ops
        torch.testing.assert_close(prog.module()(x), model(x))
        path = tmp_path / f"{name}.pt2"
        torch.export.save(prog, path)
        torch.save({"x": x, "y": model(x).detach()}, tmp_path / f"{name}.io")
        io = str(tmp_path / f"{name}.io")
        code = (f"import torch, upbench; p = torch.export.load({str(path)!r}); "
                f"io = torch.load({io!r}); "
                "torch.testing.assert_close(p.module()(io['x']), io['y']); print('ok')")
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=300, check=False)
        assert run.returncode == 0 and "ok" in run.stdout, run.stderr[-2000:]


@pytest.mark.parametrize("name", list_ops())
def test_double_backward_is_correct(name):
    """gradgradcheck of every op (native first derivative, second through the reference)."""
    spec = get_op(name)
    case = spec.check_cases(torch.float64, torch.device("cpu"), torch.Generator().manual_seed(5))[0]
    args = spec.grad_args(case.args)
    idx = list(spec.grad_inputs)
    if name == "pyramid_fuse":  # Tensor[] input: the semantic levels
        def fn(*sems):
            a = list(args)
            a[0] = list(sems)
            return spec.native(*a)[0]
        inputs = tuple(args[0])
    else:
        def fn(*ts):
            a = list(args)
            for i, t in zip(idx, ts, strict=True):
                a[i] = t
            return _first(spec.native(*a))
        inputs = tuple(args[i] for i in idx)
    assert torch.autograd.gradgradcheck(fn, inputs, fast_mode=True)


def test_carafe_second_derivative_is_not_zero():
    """The issue's case: d²/dx² of a CARAFE loss was silently 0 natively (163.1 by reference)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 4, 5, 5, generator=g, dtype=torch.float64, requires_grad=True)
    m = torch.randn(1, 9, 10, 10, generator=g, dtype=torch.float64).softmax(1)
    norms = {}
    for impl in ("native", "reference"):
        from upbench.ops import carafe

        y = carafe(x, m * x.mean(), 3, 1, 2, impl=impl)  # masks depend on x: non-zero d²
        (gx,) = torch.autograd.grad(y.pow(2).sum(), x, create_graph=True)
        (ggx,) = torch.autograd.grad(gx.pow(2).sum(), x)
        norms[impl] = float(ggx.norm())
    assert norms["native"] > 0 and norms["native"] == pytest.approx(norms["reference"])


@pytest.mark.parametrize("name", list_upsamplers())
def test_flops_do_not_depend_on_the_implementation(name):
    totals = set()
    for impl in ("native", "reference"):
        m = SegBaseline(5, name, seed=0, impl=impl, widths=[8, 8, 16, 16], decoder_channels=8)
        rep = count_flops(m, (torch.zeros(1, 3, 64, 64),), m.slots)
        totals.add((rep.total, rep.part))
    assert len(totals) == 1


def test_flop_counter_mode_sees_every_op():
    for name in list_ops():
        spec = get_op(name)
        case = spec.check_cases(torch.float32, torch.device("cpu"),
                                torch.Generator().manual_seed(1))[0]
        with FlopCounterMode(display=False) as fc:
            spec.native(*case.args)
        assert fc.get_total_flops() == 2 * spec.macs(*case.args), name
