"""Latency, peak memory and the environment of a cell (METRICS.md "Speed")."""

from __future__ import annotations

import functools
import os
import platform
import re
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _quantile(sorted_vals: list[float], q: float) -> float:
    if len(sorted_vals) == 1:
        return sorted_vals[0]
    pos = q * (len(sorted_vals) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(sorted_vals) - 1)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (pos - lo)


@torch.no_grad()
def measure_latency(model: nn.Module, x: torch.Tensor, warmup: int = 3,
                    repeats: int = 10) -> dict[str, Any]:
    """Forward latency of ``model(x)``: warm-ups, then ``repeats`` timed runs.

    On CUDA each run is synchronised before and after the timed region. Returns the median, the
    IQR (q75 − q25), FPS = batch / median, the raw times (ms), threads, device and dtype.
    """
    was = model.training
    model.eval()
    try:
        for _ in range(warmup):
            model(x)
        _sync(x.device)
        times = []
        for _ in range(repeats):
            _sync(x.device)
            t0 = time.perf_counter()
            model(x)
            _sync(x.device)
            times.append((time.perf_counter() - t0) * 1e3)
    finally:
        model.train(was)
    s = sorted(times)
    med = statistics.median(s)
    return {"batch_size": int(x.shape[0]), "input_size": list(x.shape[2:]), "warmup": warmup,
            "repeats": repeats, "median_ms": med,
            "iqr_ms": _quantile(s, 0.75) - _quantile(s, 0.25),
            "fps": 1000.0 * x.shape[0] / med if med > 0 else None, "times_ms": times,
            "threads": torch.get_num_threads(), "device": str(x.device),
            "dtype": str(x.dtype).replace("torch.", "")}


def _status_kb(field: str) -> int | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    m = re.search(rf"^{field}:\s+(\d+)\s+kB", text, re.MULTILINE)
    return int(m.group(1)) if m else None


@torch.no_grad()
def measure_peak_memory(model: nn.Module, x: torch.Tensor) -> dict[str, Any]:
    """Peak memory of one forward.

    CUDA: ``torch.cuda.max_memory_allocated`` after a reset. CPU: the resident-set growth — the
    peak RSS (VmHWM, reset by writing ``5`` to ``/proc/self/clear_refs``) minus the RSS before.
    """
    was = model.training
    model.eval()
    try:
        if x.device.type == "cuda":
            torch.cuda.synchronize(x.device)
            torch.cuda.reset_peak_memory_stats(x.device)
            base = torch.cuda.memory_allocated(x.device)
            model(x)
            torch.cuda.synchronize(x.device)
            peak = torch.cuda.max_memory_allocated(x.device)
            return {"method": "cuda_max_memory_allocated", "peak_mb": (peak - base) / 2**20}
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError as e:
            return {"method": "unavailable", "peak_mb": None, "reason": str(e)}
        before = _status_kb("VmRSS")
        model(x)
        peak = _status_kb("VmHWM")
        if before is None or peak is None:
            return {"method": "unavailable", "peak_mb": None, "reason": "no /proc/self/status"}
        return {"method": "cpu_rss_growth", "peak_mb": max(0, peak - before) / 1024,
                "rss_before_mb": before / 1024}
    finally:
        model.train(was)


def _run(cmd: list[str], cwd: str | None = None) -> str | None:
    try:
        out = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=10, cwd=cwd)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.lru_cache(maxsize=1)
def environment() -> dict[str, Any]:
    """torch / Python / fvcore versions, CPU and GPU model, compiler, git commit (cached)."""
    from importlib.metadata import PackageNotFoundError, version

    import upbench

    repo = str(Path(upbench.__file__).resolve().parent.parent)
    commit = _run(["git", "rev-parse", "HEAD"], repo)
    dirty = _run(["git", "status", "--porcelain", "--untracked-files=no"], repo)
    cxx = os.environ.get("CXX", "c++")
    compiler = (_run([cxx, "--version"]) or "").splitlines()
    try:
        fv = version("fvcore")
    except PackageNotFoundError:
        fv = None
    env = {
        "upbench": upbench.__version__, "torch": torch.__version__,
        "python": platform.python_version(), "fvcore": fv, "platform": platform.platform(),
        "cpu": _cpu_model(), "cpu_count": os.cpu_count(), "threads": torch.get_num_threads(),
        "cuda": torch.version.cuda, "gpu": (torch.cuda.get_device_name(0)
                                            if torch.cuda.is_available() else None),
        "compiler": compiler[0] if compiler else None,
        "git_commit": commit, "git_dirty": bool(dirty) if commit else None,
    }
    try:
        from upbench.ops import native_available

        env["native_ops"] = bool(native_available())
    except Exception as e:  # noqa: BLE001 - the report must not fail because the build does
        env["native_ops"] = False
        env["native_error"] = str(e).splitlines()[0] if str(e) else type(e).__name__
    return env
