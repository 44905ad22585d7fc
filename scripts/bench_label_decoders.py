"""Speed numbers of the label-space decoder ops (issue 4): native vs the best pure-PyTorch peer.

Run: ``python scripts/bench_label_decoders.py [dupsample] [pyramid_fuse] [nrd_decode]``.
Median of interleaved repeats, 2 threads, forward only (and forward+backward for dupsample).
Peak memory is measured with the profiler-free allocator delta of torch's CPU caching-free
allocator via ``tracemalloc``-like accounting (``torch.cuda`` is absent): we report the bytes of
all tensors alive at the peak, recorded with ``torch.autograd.profiler.profile(profile_memory)``.
"""

from __future__ import annotations

import statistics
import sys
import time

import torch

from upbench.ops._registry import ensure_native, get_op


def _time(fns: dict, repeats: int = 7, warmup: int = 2) -> dict:
    for f in fns.values():
        for _ in range(warmup):
            f()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) * 1e3 for k, v in times.items()}


def _peak_mem(fn) -> int:
    """Peak bytes allocated by the CPU allocator during fn (profiler memory events)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    cur = peak = 0
    events = sorted(
        (e for e in prof.events() if getattr(e, "cpu_memory_usage", 0)),
        key=lambda e: e.time_range.start,
    )
    # allocator events: positive = alloc, negative = free, in time order
    for e in prof._memory_profile_events() if hasattr(prof, "_memory_profile_events") else events:
        cur += e.cpu_memory_usage
        peak = max(peak, cur)
    return peak


def _report(name: str, ms: dict) -> None:
    base = ms["native"]
    print(f"{name}: " + ", ".join(f"{k} {v:.2f} ms ({v / base:.2f}x native)" for k, v in ms.items()))


def bench_dupsample() -> None:
    spec = get_op("dupsample")
    case = spec.bench_case(gen=torch.Generator().manual_seed(0))
    args = case.args
    ms = _time({"native": lambda: spec.run("native", *args), "aten": lambda: spec.run("aten", *args),
                "reference": lambda: spec.run("reference", *args)})
    _report(f"dupsample fwd {case.label}", ms)

    def fb(impl):
        a = [t.detach().requires_grad_(True) if isinstance(t, torch.Tensor) else t for t in args]
        out = spec.run(impl, *a)
        out.backward(torch.ones_like(out))

    ms = _time({"native": lambda: fb("native"), "aten": lambda: fb("aten")}, repeats=5)
    _report(f"dupsample fwd+bwd {case.label}", ms)


def bench_pyramid_fuse() -> None:
    spec = get_op("pyramid_fuse")
    case = spec.bench_case(gen=torch.Generator().manual_seed(0))
    ms = _time({k: (lambda k=k: spec.run(k, *case.args)) for k in spec.impls()})
    _report(f"pyramid_fuse fwd {case.label}", ms)


def bench_nrd_decode() -> None:
    from upbench.ops.nrd_decode import nrd_decode_official_style

    spec = get_op("nrd_decode")
    case = spec.bench_case(gen=torch.Generator().manual_seed(0))
    fns = {"native": lambda: spec.run("native", *case.args),
           "official-style": lambda: nrd_decode_official_style(*case.args),
           "reference": lambda: spec.run("reference", *case.args)}
    _report(f"nrd_decode fwd {case.label}", _time(fns))
    for k, f in fns.items():
        print(f"  peak memory {k}: {_peak_mem(f) / 2**20:.1f} MiB")


if __name__ == "__main__":
    torch.set_num_threads(2)
    ensure_native()
    which = sys.argv[1:] or ["dupsample", "pyramid_fuse", "nrd_decode"]
    for w in which:
        with torch.no_grad():
            if w == "dupsample":
                torch.set_grad_enabled(True)
            globals()[f"bench_{w}"]()
