"""Speed numbers of the label-space decoder ops (issue 4): native vs the best pure-PyTorch peer.

Run: ``python scripts/bench_label_decoders.py [dupsample] [pyramid_fuse] [nrd_decode]``.
Median of interleaved repeats, 2 threads, forward only (and forward+backward for dupsample).
Peak memory (nrd_decode): the rise of the process's resident high-water mark (Linux VmHWM,
reset through /proc/self/clear_refs) during one forward, each implementation in a fresh process.
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


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


def _peak_mem(impl: str) -> float:
    """Peak extra resident memory (MiB) of one forward, in a fresh process (Linux VmHWM)."""
    import subprocess

    out = subprocess.run([sys.executable, __file__, "--mem", impl], capture_output=True, text=True,
                         check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _mem_child(impl: str) -> None:
    from upbench.ops.nrd_decode import nrd_decode_official_style

    spec = get_op("nrd_decode")
    case = spec.bench_case(gen=torch.Generator().manual_seed(0))
    fn = {"native": lambda: spec.run("native", *case.args),
          "official-style": lambda: nrd_decode_official_style(*case.args),
          "reference": lambda: spec.run("reference", *case.args)}[impl]
    with open("/proc/self/clear_refs", "w") as f:  # reset the high-water mark
        f.write("5")
    base = _rss_kib("VmRSS")
    with torch.no_grad():
        out = fn()
    del out
    print((_rss_kib("VmHWM") - base) / 1024)


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

    ms = _time({"native": lambda: fb("native"), "aten": lambda: fb("aten"),
                "reference": lambda: fb("reference")}, repeats=5)
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
    for k in fns:
        print(f"  peak extra memory {k}: {_peak_mem(k):.1f} MiB")


if __name__ == "__main__":
    torch.set_num_threads(2)
    ensure_native()
    if sys.argv[1:2] == ["--mem"]:
        _mem_child(sys.argv[2])
        sys.exit(0)
    which = sys.argv[1:] or ["dupsample", "pyramid_fuse", "nrd_decode"]
    for w in which:
        with torch.no_grad():
            if w == "dupsample":
                torch.set_grad_enabled(True)
            globals()[f"bench_{w}"]()
