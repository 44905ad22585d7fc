"""Peak memory of one call.

CUDA: ``torch.cuda.max_memory_allocated`` growth. CPU: growth of the process's resident set during
the call (METRICS.md): the kernel's peak-RSS counter (VmHWM) is reset through
``/proc/self/clear_refs`` before the call and read after it. glibc is told to serve large blocks
with mmap (the ``resident`` policy of :mod:`upbench.measure.allocator`) so that freed tensors
leave the resident set and earlier calls do not hide later ones.

That allocator setting would slow every later call of the process (it did: latencies measured
after a memory probe were up to 2× those before), so :func:`isolated_peak_memory_bytes` measures
in a forked child process (one thread) and leaves the caller's process exactly as it was.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path

import torch

from upbench.measure import allocator


def configure_malloc() -> None:
    """Serve blocks >= 64 KiB with mmap and trim freed heap memory, so that memory freed by one
    call leaves the resident set before the next is measured (the ``resident`` allocator policy;
    no effect without glibc)."""
    allocator.set_policy("resident")


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_peak_supported() -> bool:
    """True where VmHWM can be reset (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return _status_kb("VmHWM") is not None


def peak_memory_bytes(fn: Callable[[], object], device: torch.device | None = None) -> int | None:
    """Peak memory growth (bytes) while ``fn`` runs; None where it cannot be measured."""
    gc.collect()
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        cuda_base = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        return max(0, torch.cuda.max_memory_allocated(device) - cuda_base)
    configure_malloc()
    if not cpu_peak_supported():
        return None
    allocator.trim()
    base = _status_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    result = fn()
    peak = _status_kb("VmHWM")
    del result
    if base is None or peak is None:
        return None
    return max(0, peak - base) * 1024


CHILD_TIMEOUT_S = 120.0


def isolated_peak_memory_bytes(fn: Callable[[], object], device: torch.device | None = None
                               ) -> int | None:
    """:func:`peak_memory_bytes` of ``fn`` without disturbing this process: on CPU the
    measurement (allocator settings included) runs in a forked child with one thread; on CUDA it
    runs here (the caching allocator's statistics change nothing). None where it cannot be
    measured (no ``fork``, no ``/proc``, or the child failed or timed out)."""
    import json
    import os
    import select
    import signal

    if device is not None and device.type == "cuda":
        return peak_memory_bytes(fn, device)
    if not hasattr(os, "fork"):
        return None
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: measure, report, exit without running any cleanup of the parent's
        code = 1
        try:
            os.close(read_fd)
            torch.set_num_threads(1)
            os.write(write_fd, json.dumps(peak_memory_bytes(fn, device)).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], CHILD_TIMEOUT_S)
        data = os.read(read_fd, 256) if ready else b""
    finally:
        os.close(read_fd)
        if not data:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    try:
        value = json.loads(data.decode()) if data else None
    except ValueError:
        return None
    return int(value) if isinstance(value, (int, float)) else None
