"""What machine a measurement ran on.

A result records its machine (:func:`machine`): the CPU model, a summary of the instruction-set
extensions the kernels can use, the cores, the threads the cell ran with and the GPU. The CI gate
compares speed only between results of the same kind of machine (:data:`SPEED_KEYS`): a VM often
reports a generic model name ("Intel(R) Xeon(R) Processor") for CPUs of different generations,
so the ISA summary is part of the kind — AVX-512 or not changes which kernels run.
"""

from __future__ import annotations

import functools
import os
import platform
from pathlib import Path
from typing import Any

#: ``/proc/cpuinfo`` flags (x86) / features (Arm) that decide which SIMD kernels run
ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl",
             "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16",
             "asimd", "asimdhp", "asimddp", "sve", "sve2", "bf16", "i8mm")

#: the machine keys that must match for latencies to be comparable (with the suite's device)
SPEED_KEYS = ("cpu", "isa", "threads", "gpu")


def _cpuinfo() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    for line in _cpuinfo():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def isa_summary(cpuinfo: list[str] | None = None, capability: str | None = None) -> str:
    """``"x86_64 AVX512: avx avx2 avx512bw ..."``: the architecture, the vector ISA torch's
    kernels dispatch to (``torch.backends.cpu.get_cpu_capability()``), and which of
    :data:`ISA_FLAGS` the CPU has (sorted).

    Args:
        cpuinfo: lines of ``/proc/cpuinfo`` (default: this machine's).
        capability: torch's CPU capability (default: this process's).
    """
    lines = _cpuinfo() if cpuinfo is None else cpuinfo
    flags: set[str] = set()
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags = set(value.split())
            break
    if capability is None:
        try:
            import torch

            capability = torch.backends.cpu.get_cpu_capability()
        except Exception:  # noqa: BLE001 - old torch: the flags still say it
            capability = "unknown"
    have = " ".join(sorted(f for f in ISA_FLAGS if f in flags))
    return f"{platform.machine()} {capability}: {have or 'no SIMD flags known'}"


def gpu_name() -> str | None:
    """The first CUDA device's name, or None."""
    try:
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception:  # noqa: BLE001 - a broken driver is no GPU
        return None


@functools.lru_cache(maxsize=1)
def _static() -> dict[str, Any]:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu_model(), "isa": isa_summary(), "cores": cores, "gpu": gpu_name()}


def machine(threads: int | None = None) -> dict[str, Any]:
    """This machine: ``cpu`` model, ``isa`` summary, ``cores`` usable by this process, the
    ``threads`` a measurement runs with (default torch's current count) and the ``gpu``."""
    if threads is None:
        import torch

        threads = torch.get_num_threads()
    return _static() | {"threads": threads}


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask), at least 1."""
    return max(1, int(_static()["cores"] or 1))


def speed_kind(mach: dict[str, Any] | None, device: str = "cpu") -> dict[str, Any] | None:
    """The part of a recorded machine that decides whether latencies compare: the
    :data:`SPEED_KEYS` (the GPU only for a CUDA suite) and the device; None if none recorded."""
    if not isinstance(mach, dict):
        return None
    kind = {k: mach.get(k) for k in SPEED_KEYS} | {"device": device}
    if device != "cuda":
        kind["gpu"] = None
    return kind


def kind_difference(base: dict[str, Any] | None, cur: dict[str, Any] | None) -> list[str]:
    """``["cpu 'A' → 'B'", ...]``: how two machine kinds differ (empty: the same kind)."""
    if base is None:
        return ["the baseline records no machine (rebuild it with `upbench check --update`)"]
    if cur is None:
        return ["the results record no machine (rerun them with this upbench)"]
    return [f"{k} {base.get(k)!r} → {cur.get(k)!r}" for k in sorted(set(base) | set(cur))
            if base.get(k) != cur.get(k)]
