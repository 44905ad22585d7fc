"""``upbench ops check``: every native kernel against its float64 reference on fresh random inputs.

For each op, device and dtype, the native forward and the gradients of its backward (for a random
output gradient) are compared with the pure-PyTorch reference run in float64 on the same inputs.
The error is the max absolute difference divided by the max magnitude of the reference (a relative
error that stays meaningful where individual elements are near zero).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from upbench.ops._registry import OpSpec, get_op, list_ops

#: Relative tolerance per dtype of the native result against the float64 reference.
TOLERANCES = {
    torch.float64: 1e-10,
    torch.float32: 1e-5,
    torch.float16: 5e-3,
    torch.bfloat16: 3e-2,
}


@dataclass
class CheckResult:
    """Worst error of one op on one device, dtype and CPU kernel mode."""

    op: str
    device: str
    dtype: str
    mode: str
    forward_err: float
    backward_err: float
    tolerance: float
    cases: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when both errors are within tolerance and nothing raised."""
        return (self.error is None and self.forward_err <= self.tolerance
                and self.backward_err <= self.tolerance)

    def as_dict(self) -> dict:
        """JSON-ready form, with ``ok``."""
        return {**asdict(self), "ok": self.ok}


def rel_err(a: torch.Tensor, ref: torch.Tensor) -> float:
    """max|a − ref| / max(max|ref|, 1e-12), computed in float64."""
    a, ref = a.detach().double().cpu(), ref.detach().double().cpu()
    if a.shape != ref.shape:
        return float("inf")
    if ref.numel() == 0:
        return 0.0
    return float((a - ref).abs().max() / ref.abs().max().clamp_min(1e-12))


def _to(args: tuple, dtype: torch.dtype, grad_idx, device=None) -> list:
    out: list[Any] = []
    for i, a in enumerate(args):
        if isinstance(a, torch.Tensor):
            t = a.detach().to(dtype=dtype if a.is_floating_point() else a.dtype)
            if device is not None:
                t = t.to(device)
            out.append(t.requires_grad_(i in grad_idx))
        elif isinstance(a, (list, tuple)) and a and isinstance(a[0], torch.Tensor):
            out.append(type(a)(_to(tuple(a), dtype, range(len(a)) if i in grad_idx else (),
                                   device)))
        else:
            out.append(a)
    return out


def _leaves(args: list, grad_idx) -> list[torch.Tensor]:
    leaves = []
    for i in grad_idx:
        a = args[i]
        leaves += list(a) if isinstance(a, (list, tuple)) else [a]
    return leaves


def _outputs(out) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    return [o for o in out if isinstance(o, torch.Tensor) and o.is_floating_point()]


def compare_case(spec: OpSpec, args: tuple, dtype: torch.dtype, device: torch.device,
                 gen: torch.Generator) -> tuple[float, float]:
    """(forward error, backward error) of the native op in ``dtype`` vs the float64 reference."""
    nat_args = _to(args, dtype, spec.grad_inputs, device)
    # the reference sees exactly the (rounded) values the native op sees, in float64
    ref_args = _to(tuple(nat_args), torch.float64, spec.grad_inputs, torch.device("cpu"))
    nat_out = _outputs(spec.run("native", *nat_args))
    ref_out = _outputs(spec.run("reference", *ref_args))
    fwd = max(rel_err(a, b) for a, b in zip(nat_out, ref_out, strict=True))
    grads_out = [torch.randn(o.shape, generator=gen, dtype=torch.float64) for o in ref_out]
    nat_leaves, ref_leaves = _leaves(nat_args, spec.grad_inputs), _leaves(ref_args, spec.grad_inputs)
    nat_g = torch.autograd.grad(nat_out, nat_leaves, [g.to(device, dtype) for g in grads_out],
                                allow_unused=True)
    ref_g = torch.autograd.grad(ref_out, ref_leaves, grads_out, allow_unused=True)
    bwd = 0.0
    for a, b in zip(nat_g, ref_g, strict=True):
        if b is None:
            continue
        if a is None:
            return fwd, float("inf")
        bwd = max(bwd, rel_err(a, b))
    return fwd, bwd


def check_op(name: str, device: torch.device, dtype: torch.dtype, seed: int | None = None,
             mode: str = "fast") -> CheckResult:
    """Check one op on fresh random inputs (a new seed per call unless ``seed`` is given)."""
    spec = get_op(name)
    seed = int(time.time_ns() % 2**31) if seed is None else seed
    gen = torch.Generator().manual_seed(seed)
    res = CheckResult(op=name, device=device.type, dtype=str(dtype).replace("torch.", ""),
                      mode=mode, forward_err=0.0, backward_err=0.0, tolerance=TOLERANCES[dtype])
    previous = None
    try:
        if device.type == "cpu":
            spec.run("native", *spec.check_cases(torch.float64, torch.device("cpu"), gen)[0].args)
            previous = torch.ops.upbench._set_cpu_kernel_mode(1 if mode == "elementwise" else 0)
        for case in spec.check_cases(torch.float64, torch.device("cpu"), gen):
            f, b = compare_case(spec, case.args, dtype, device, gen)
            res.forward_err = max(res.forward_err, f)
            res.backward_err = max(res.backward_err, b)
            res.cases.append(case.label)
    except Exception as e:  # noqa: BLE001 - a crash is a failed check, reported with its reason
        res.error = f"{type(e).__name__}: {e}".splitlines()[0]
    finally:
        if previous is not None:
            torch.ops.upbench._set_cpu_kernel_mode(previous)
    return res


def dtypes_for(device: torch.device) -> list[torch.dtype]:
    """float64/float32 on CPU; also float16/bfloat16 on CUDA."""
    if device.type == "cuda":
        return [torch.float64, torch.float32, torch.float16, torch.bfloat16]
    return [torch.float64, torch.float32]


def check_all(ops: list[str] | None, device: torch.device, seed: int | None = None,
              modes: tuple[str, ...] = ("fast", "elementwise")) -> list[CheckResult]:
    """Check every (or the given) op in every dtype of the device (and CPU kernel mode)."""
    results = []
    for name in ops or list_ops():
        for dtype in dtypes_for(device):
            for mode in modes if device.type == "cpu" else ("cuda",):
                results.append(check_op(name, device, dtype, seed, mode))
    return results
