"""``upbench ops bench``: latency, peak memory and achieved rates of every implementation of an op.

For one op and case: native, reference and (where one exists) ATen, forward and forward+backward,
timed interleaved after warm-ups (median and IQR), the peak memory of each forward, the speed-up
ratios against native, and the native forward's achieved GB/s and GMAC/s as fractions of a
memory-copy probe and a matmul probe measured in the same run.
"""

from __future__ import annotations

import functools
import inspect
import math
import platform
from dataclasses import dataclass, field

import torch

from upbench.measure import allocator
from upbench.measure.machine import cpu_model
from upbench.measure.memory import isolated_peak_memory_bytes
from upbench.measure.probes import probe_copy_and_matmul
from upbench.measure.timing import time_interleaved
from upbench.ops._registry import OpCase, OpSpec, get_op, impl_label
from upbench.utils.numbers import NumberError, check_fits


@dataclass
class BenchResult:
    """Benchmark of one op on one case."""

    op: str
    case: str
    device: str
    dtype: str
    threads: int
    repeats: int
    impls: dict[str, str]
    forward: dict[str, dict] = field(default_factory=dict)
    forward_backward: dict[str, dict] = field(default_factory=dict)
    peak_memory_bytes: dict[str, int | None] = field(default_factory=dict)
    macs: int = 0
    bytes_moved: int = 0
    probes: dict[str, float] = field(default_factory=dict)
    derived: dict[str, float | None] = field(default_factory=dict)
    machine: dict[str, str] = field(default_factory=dict)


def _fwd_bwd(spec: OpSpec, impl: str, args: tuple):
    def run():
        grad_args = spec.grad_args(args)
        out = spec.run(impl, *grad_args)
        outs = [out] if isinstance(out, torch.Tensor) else [o for o in out if o.requires_grad]
        torch.autograd.backward(outs, [torch.ones_like(o) for o in outs])

    return run


def machine_info(device: torch.device) -> dict[str, str]:
    """CPU/GPU model, torch version, thread count and the CPU allocator policy timed under."""
    info = {"torch": torch.__version__, "python": platform.python_version(),
            "cpu": cpu_model(), "threads": str(torch.get_num_threads()),
            "allocator": allocator.policy() if device.type == "cpu" else "cuda caching"}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def bench_case(spec: OpSpec, case: OpCase, device: torch.device, repeats: int = 7,
               warmup: int = 2, backward: bool = True, caches: str = "warm") -> BenchResult:
    """Benchmark every implementation of ``spec`` on ``case`` (peak memory in a forked child, so
    no measurement changes this process's allocator before the probes).

    ``caches``: ``"warm"`` times each call right after an untimed call of the same
    implementation (inputs in cache, as inside a network); ``"cold"`` right after the other
    implementations' calls (the reference's large temporaries evict the inputs)."""
    if caches not in ("warm", "cold"):
        raise ValueError(f"caches must be 'warm' or 'cold', got {caches!r}")
    rewarm = caches == "warm"
    args = case.args
    impls = spec.impls()
    spec.run("native", *args)  # build/load before any timing
    # the first tensor, also inside Tensor[] arguments (e.g. pyramid_fuse's levels)
    first = next(t for a in args for t in (a if isinstance(a, (list, tuple)) else [a])
                 if isinstance(t, torch.Tensor))
    res = BenchResult(
        op=spec.name, case=case.label, device=device.type, dtype=str(first.dtype).replace("torch.", ""),
        threads=torch.get_num_threads(), repeats=repeats,
        impls={i: (impl_label("native", device) if i == "native" else i) for i in impls},
        macs=spec.macs(*args), bytes_moved=spec.bytes_moved(*args),
        machine={**machine_info(device), "caches": caches},
    )
    with torch.no_grad():
        fwd = time_interleaved({i: functools.partial(spec.run, i, *args) for i in impls},
                               repeats=repeats, warmup=warmup, device=device, rewarm=rewarm)
    res.forward = {i: t.as_dict() for i, t in fwd.items()}
    if backward:
        fb = time_interleaved({i: _fwd_bwd(spec, i, args) for i in impls}, repeats=repeats,
                              warmup=warmup, device=device, rewarm=rewarm)
        res.forward_backward = {i: t.as_dict() for i, t in fb.items()}
    with torch.no_grad():
        for i in impls:
            res.peak_memory_bytes[i] = isolated_peak_memory_bytes(
                functools.partial(spec.run, i, *args), device)
    res.probes = probe_copy_and_matmul(device, repeats=repeats)
    res.derived = derive(res)
    return res


# forward + backward multiply-adds over the forward's (see derive)
BACKWARD_MAC_FACTOR = 3


def derive(res: BenchResult) -> dict[str, float | None]:
    """Ratios against native and achieved rates of the native forward."""
    d: dict[str, float | None] = {}
    nat = res.forward["native"]["median_s"]
    for i in res.forward:
        if i != "native":
            d[f"forward_speedup_vs_{i}"] = res.forward[i]["median_s"] / nat
            if res.forward_backward:
                d[f"fwd_bwd_speedup_vs_{i}"] = (res.forward_backward[i]["median_s"]
                                                / res.forward_backward["native"]["median_s"])
            pn, pi = res.peak_memory_bytes.get("native"), res.peak_memory_bytes.get(i)
            d[f"peak_memory_ratio_native_over_{i}"] = (pn / pi) if pn is not None and pi else None
    gbps = res.bytes_moved / nat / 1e9
    gmacs = res.macs / nat / 1e9
    d["native_gbps"] = gbps
    d["native_gmacs"] = gmacs
    d["fraction_of_copy_bandwidth"] = gbps / res.probes["copy_gbps"]
    d["fraction_of_matmul_rate"] = gmacs / res.probes["matmul_gmacs"] if res.macs else None
    if res.forward_backward and res.macs:
        # the backward of every MAC-counted op computes one gradient per input, each the same
        # multiply-adds as the forward: 3x the forward's count in all
        fb_gmacs = BACKWARD_MAC_FACTOR * res.macs / res.forward_backward["native"]["median_s"] / 1e9
        d["native_fwd_bwd_gmacs"] = fb_gmacs
        d["fwd_bwd_fraction_of_matmul_rate"] = fb_gmacs / res.probes["matmul_gmacs"]
    return d


class BenchCaseError(ValueError):
    """The options give a case the op refuses (e.g. an even ``--kernel-size`` for carafe); the
    message is the op's own argument check."""


def _option(key: str) -> str:
    return f"--{key.replace('_', '-')}"


def check_case_options(name: str, bench_case, given: dict) -> None:
    """Refuse an option the op's benchmark case does not take (``--kernel-size`` for
    pixel_shuffle would otherwise be ignored silently) and a ``shape`` whose tensors would not
    fit in the memory available, with the estimate.

    Raises:
        BenchCaseError: naming the option and the op's own options, or the memory estimate.
    """
    params = inspect.signature(bench_case).parameters
    takes = [k for k, p in params.items() if p.kind is p.POSITIONAL_OR_KEYWORD
             and k not in ("dtype", "device", "gen")]
    for key in given:
        if key not in takes:
            raise BenchCaseError(f"{name} has no {key.replace('_', ' ')}: {_option(key)} is not an "
                                 f"option of this op (its options: "
                                 f"{', '.join(_option(k) for k in takes) or 'none'})")
    shape = given.get("shape")
    if shape is not None:
        s = given.get("scale") or (params["scale"].default if "scale" in params else 1) or 1
        # at least the input and the s²-times larger output, each with its gradient
        try:
            check_fits(math.prod(shape), 4, f"{name} at --shape {','.join(map(str, shape))}",
                       copies=2 * (1 + s * s), fix="use a smaller --shape")
        except NumberError as e:
            raise BenchCaseError(str(e)) from None


def bench_op(name: str, device: torch.device, repeats: int = 7, caches: str = "warm",
             allocator_policy: str | None = None, **case_kwargs) -> BenchResult:
    """Benchmark op ``name`` on the case built from ``case_kwargs`` (shape, kernel_size, scale).

    ``allocator_policy`` (CPU): applied to this process once the case is accepted, before any
    timing (:func:`upbench.measure.allocator.set_policy`; the result records the one in effect).

    Raises:
        BenchCaseError: the op refuses the case (checked by one native call before any timing).
    """
    from upbench.ops import NativeBuildError

    spec = get_op(name)
    gen = torch.Generator().manual_seed(0)
    given = {k: v for k, v in case_kwargs.items() if v is not None}
    opts = ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in given.items()) or "defaults"
    check_case_options(name, spec.bench_case, given)
    try:
        case = spec.bench_case(device=device, gen=gen, **given)
        with torch.no_grad():
            spec.run("native", *case.args)
    except NativeBuildError:
        raise
    except (RuntimeError, ValueError, TypeError, IndexError) as e:
        msg = " ".join(str(e).split("\n")[0].split()) or type(e).__name__
        raise BenchCaseError(f"{name} refuses the case ({opts}): {msg}") from None
    if allocator_policy is not None and device.type == "cpu":
        allocator.set_policy(allocator_policy)
    return bench_case(spec, case, device, repeats=repeats, caches=caches)
