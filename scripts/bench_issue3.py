"""Speed/memory numbers of issue 3 (sapa_similarity, offset_bilinear) on CPU.

Run: .venv/bin/python scripts/bench_issue3.py [sapa|lau|mem]
Median of interleaved repeats after warm-up, torch.set_num_threads(2).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

import torch

torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))


def _time(fns: dict, repeats: int = 7, warmup: int = 2) -> dict:
    for f in fns.values():
        for _ in range(warmup):
            f()
    ts = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            ts[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) * 1e3 for k, v in ts.items()}


def sapa():
    from upbench.ops import get_op
    from upbench.ops._registry import ensure_native

    ensure_native()
    spec = get_op("sapa_similarity")
    c = spec.bench_case(gen=torch.Generator().manual_seed(0))
    q, k, ks, s = c.args
    qg, kg = q.clone().requires_grad_(), k.clone().requires_grad_()
    go = torch.randn(2, ks * ks, q.shape[2], q.shape[3])

    def fb(impl):
        def f():
            out = spec.run(impl, qg, kg, ks, s)
            torch.autograd.grad(out, (qg, kg), go)
        return f

    with torch.no_grad():
        r = _time({"native": lambda: spec.run("native", *c.args),
                   "reference": lambda: spec.run("reference", *c.args)})
    r2 = _time({"native": fb("native"), "reference": fb("reference")})
    print(f"sapa_similarity fwd   native {r['native']:.2f} ms  reference {r['reference']:.2f} ms"
          f"  speedup {r['reference'] / r['native']:.1f}x")
    print(f"sapa_similarity fwd+bwd native {r2['native']:.2f} ms  reference {r2['reference']:.2f} ms"
          f"  speedup {r2['reference'] / r2['native']:.1f}x")


def lau():
    from upbench.ops import get_op
    from upbench.ops._registry import ensure_native

    ensure_native()
    spec = get_op("offset_bilinear")
    c = spec.bench_case(gen=torch.Generator().manual_seed(0))
    x, off = c.args[:2]
    rest = c.args[2:]
    xg, og = x.clone().requires_grad_(), off.clone().requires_grad_()
    with torch.no_grad():
        go = torch.randn_like(spec.run("native", *c.args))

    def fb(impl):
        def f():
            out = spec.run(impl, xg, og, *rest)
            torch.autograd.grad(out, (xg, og), go)
        return f

    with torch.no_grad():
        r = _time({"native": lambda: spec.run("native", *c.args),
                   "aten": lambda: spec.run("aten", *c.args)})
    r2 = _time({"native": fb("native"), "aten": fb("aten")})
    print(f"offset_bilinear fwd     native {r['native']:.2f} ms  grid_sample {r['aten']:.2f} ms"
          f"  ratio native/aten {r['native'] / r['aten']:.2f}")
    print(f"offset_bilinear fwd+bwd native {r2['native']:.2f} ms  grid_sample {r2['aten']:.2f} ms"
          f"  ratio native/aten {r2['native'] / r2['aten']:.2f}")


def _peak_child(impl: str) -> None:
    """Peak RSS growth (VmHWM after a reset) of one sapa_similarity forward, in a fresh process."""
    from upbench.ops import get_op
    from upbench.ops._registry import ensure_native

    ensure_native()
    spec = get_op("sapa_similarity")
    c = spec.bench_case(gen=torch.Generator().manual_seed(0))
    with torch.no_grad():
        spec.run(impl, *c.args)  # warm-up (allocator, libraries)

        def rss(field):
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith(field):
                        return int(line.split()[1])
            return 0
        import gc
        gc.collect()
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        base = rss("VmRSS")
        out = spec.run(impl, *c.args)
        peak = rss("VmHWM")
    print(f"{(peak - base) / 1024:.1f} {out.numel() * 4 / 2**20:.1f}")


def mem():
    res = {}
    for impl in ("native", "reference"):
        o = subprocess.run([sys.executable, __file__, "_peak", impl], capture_output=True,
                           text=True, check=True).stdout.split()
        res[impl] = float(o[0])
        print(f"sapa_similarity fwd peak RSS growth {impl}: {o[0]} MiB (output {o[1]} MiB)")
    print(f"ratio native/reference {res['native'] / res['reference']:.3f}")


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    if what == "_peak":
        _peak_child(sys.argv[2])
    else:
        if what in ("sapa", "all"):
            sapa()
        if what in ("mem", "all"):
            mem()
        if what in ("lau", "all"):
            lau()
