"""``make cuda-check`` / ``upbench ops cuda-check``: the full CUDA build, really built.

A JIT build of every kernel and binding with ``UPBENCH_FORCE_CUDA=1`` semantics for the given
archs (sm_80 and sm_90 by default) under torch's own nvcc flags, in its own cache directory; the
library is loaded and every registered op (and its backward op) must have both a CPU and a CUDA
kernel in the dispatcher. No GPU is needed: the check proves the CUDA library builds, links,
loads and registers. The report is stored in the cache, keyed by the sources, so
``upbench ops list`` can say "CUDA built and registered" without rebuilding.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from upbench.ops._build import build, build_key, cache_dir
from upbench.ops._cuda_env import DEFAULT_ARCHS

DISPATCH_KEYS = ("CPU", "CUDA")


@dataclass
class CudaCheckReport:
    """What ``cuda-check`` built and found registered."""

    ok: bool
    archs: str
    library: str
    cuda_home: str | None
    seconds: float
    reused: bool
    torch: str
    torch_cuda: str | None
    kernels: dict[str, dict[str, bool]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    error: str | None = None
    checked_at: str = ""


def check_cache() -> Path:
    """The cache root of the CUDA check (apart from the default CPU build)."""
    return cache_dir() / "cuda-check"


def report_path(archs: str = DEFAULT_ARCHS) -> Path:
    """Where the report of the current sources, torch and ``archs`` is stored."""
    return check_cache() / f"report-{build_key(True, archs)}.json"


def registered_kernels(ops: list[str]) -> dict[str, dict[str, bool]]:
    """``{qualified op: {dispatch key: has a kernel}}`` for every op and its backward op."""
    out = {}
    for op in ops:
        for name in (op, f"_{op}_backward"):
            q = f"upbench::{name}"
            out[q] = {k: bool(torch._C._dispatch_has_kernel_for_dispatch_key(q, k))
                      for k in DISPATCH_KEYS}
    return out


def run_cuda_check(archs: str = DEFAULT_ARCHS, verbose: bool = False) -> CudaCheckReport:
    """Build (or reuse) the CUDA library for ``archs``, load it, check the registrations, store
    and return the report. Must run in a process that has not loaded the CPU library."""
    from upbench.ops import NativeBuildError, list_ops

    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    try:
        info = build(verbose, with_cuda=True, cache=check_cache(), archs=archs)
    except NativeBuildError as e:
        rep = CudaCheckReport(False, archs, "", None, time.perf_counter() - t0, False,
                              torch.__version__, torch.version.cuda, error=str(e),
                              checked_at=now)
        _store(rep)
        return rep
    kernels = registered_kernels(list_ops())
    missing = [f"{q} ({k})" for q, ks in kernels.items() for k, has in ks.items() if not has]
    rep = CudaCheckReport(not missing and info.with_cuda, archs, str(info.library),
                          info.cuda_home, info.seconds, info.reused, torch.__version__,
                          torch.version.cuda, kernels, missing, checked_at=now)
    _store(rep)
    return rep


def _store(rep: CudaCheckReport) -> None:
    p = report_path(rep.archs)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(asdict(rep), indent=1))


def stored_report(archs: str = DEFAULT_ARCHS) -> CudaCheckReport | None:
    """The stored report for the current sources and torch, if ``cuda-check`` ran."""
    p = report_path(archs)
    try:
        return CudaCheckReport(**json.loads(p.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def main(argv: list[str] | None = None) -> int:
    """``python -m upbench.ops.cuda_check [--archs 8.0;9.0] [--verbose]``: run the check in this
    (fresh) process and store the report; exit 0 when it passed. ``upbench ops cuda-check`` runs
    this in a child process (with ``UPBENCH_NO_AUTOLOAD=1``), because a process holds one
    ``upbench`` library and the parent may have loaded the CPU-only one."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m upbench.ops.cuda_check")
    ap.add_argument("--archs", default=DEFAULT_ARCHS)
    ap.add_argument("--verbose", action="store_true")
    ns = ap.parse_args(argv)
    return 0 if run_cuda_check(ns.archs, ns.verbose).ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
