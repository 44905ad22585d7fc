"""Latency, peak memory and the environment of a cell (METRICS.md "Speed")."""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import torch

from upbench.measure.machine import cpu_model
from upbench.measure.memory import isolated_peak_memory_bytes
from upbench.measure.timing import Timing, time_interleaved


def _summary(times_ms: list[float], inputs: tuple[torch.Tensor, ...], warmup: int
             ) -> dict[str, Any]:
    t = Timing([v / 1e3 for v in times_ms])
    med = t.median * 1e3
    x = inputs[0]
    return {"batch_size": int(x.shape[0]), "input_size": list(x.shape[2:]), "warmup": warmup,
            "repeats": len(times_ms), "median_ms": med, "iqr_ms": t.iqr * 1e3,
            "fps": 1000.0 * x.shape[0] / med if med > 0 else None, "times_ms": times_ms,
            "threads": torch.get_num_threads(), "device": str(x.device),
            "dtype": str(x.dtype).replace("torch.", "")}


@torch.no_grad()
def measure_latency(model: Any, inputs: tuple[torch.Tensor, ...], warmup: int = 3,
                    repeats: int = 10) -> dict[str, Any]:
    """Inference latency of a task model, ``model.infer(*inputs)`` (network and prediction
    post-processing): warm-ups, then ``repeats`` timed runs.

    On CUDA each run is synchronised before and after the timed region. Returns the median, the
    IQR (q75 − q25), FPS = batch / median, the raw times (ms), threads, device and dtype.
    """
    was = model.training
    model.eval()
    try:
        t = time_interleaved({"model": lambda: model.infer(*inputs)}, repeats, warmup,
                             inputs[0].device)["model"]
    finally:
        model.train(was)
    return _summary([v * 1e3 for v in t.samples], inputs, warmup)


@torch.no_grad()
def measure_speed_ratio(model: Any, reference: Any, reference_name: str,
                        inputs: tuple[torch.Tensor, ...], warmup: int = 3, repeats: int = 15
                        ) -> dict[str, Any]:
    """Latency ratio of ``model`` against the same baseline with the reference upsampler.

    Both run interleaved in the same loop (model, reference, model, ...), so machine noise hits
    both alike (METRICS.md, Speed). ``ratio_samples`` are the per-repeat ratios, the input of the
    gate's Mann–Whitney U test; ``ratio`` is the ratio of the medians.
    """
    states = [(m, m.training) for m in (model, reference)]
    for m, _ in states:
        m.eval()
    try:
        t = time_interleaved({"model": lambda: model.infer(*inputs),
                              "reference": lambda: reference.infer(*inputs)},
                             repeats, warmup, inputs[0].device)
    finally:
        for m, was in states:
            m.train(was)
    a, b = t["model"].samples, t["reference"].samples
    return {"reference": reference_name, "ratio": t["model"].median / t["reference"].median,
            "ratio_samples": [ai / bi for ai, bi in zip(a, b, strict=True)],
            "model_ms": [v * 1e3 for v in a], "reference_ms": [v * 1e3 for v in b],
            "warmup": warmup, "repeats": repeats, "threads": torch.get_num_threads(),
            "device": str(inputs[0].device), "input_size": list(inputs[0].shape[2:])}


def measure_speed(model: Any, reference: Any, reference_name: str,
                  inputs: tuple[torch.Tensor, ...], warmup: int = 3, repeats: int = 15
                  ) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(latency, speed)`` of a task model from one interleaved loop against the same baseline
    with the reference upsampler: the model's latency summary (median, IQR, FPS, ...) and the
    latency ratio (:func:`measure_speed_ratio`). Timing both in one loop costs no extra
    forward passes and keeps the ratio honest on a noisy machine."""
    speed = measure_speed_ratio(model, reference, reference_name, inputs, warmup, repeats)
    latency = _summary(speed["model_ms"], inputs, warmup) | {"interleaved_with": reference_name}
    return latency, speed


def profile_size(suite: Any, key: str) -> list[int]:
    """The ``[H, W]`` FLOPs (``key="flops_size"``) or latency (``"latency_size"``) are measured
    at: the suite's ``profile.<key>``, else the size the suite's baseline's paper reports at
    (``Task.flops_size``: the baseline's ``eval_size``, else the task's ``eval_size``;
    independent of the training size), else the input size."""
    size = (getattr(suite.profile, key) or suite.task_def.flops_size(suite.baseline)
            or suite.input_size)
    return list(size)


@torch.no_grad()
def measure_peak_memory(model: Any, inputs: tuple[torch.Tensor, ...]) -> dict[str, Any]:
    """Peak memory of one inference (:func:`upbench.measure.memory.isolated_peak_memory_bytes`).

    CUDA: ``torch.cuda.max_memory_allocated`` after a reset. CPU: the resident-set growth — the
    peak RSS (VmHWM, reset through ``/proc/self/clear_refs``) minus the RSS before, with glibc
    told to return freed blocks so earlier allocations do not hide this one — measured in a
    forked child so this process (and every later timing in it) stays as it was.
    """
    was = model.training
    model.eval()
    try:
        peak = isolated_peak_memory_bytes(lambda: model.infer(*inputs), inputs[0].device)
    finally:
        model.train(was)
    if peak is None:
        return {"method": "unavailable", "peak_mb": None,
                "reason": "no fork, /proc/self/clear_refs not writable, or the child failed"}
    method = ("cuda_max_memory_allocated" if inputs[0].device.type == "cuda"
              else "cpu_rss_growth (forked child, 1 thread)")
    return {"method": method, "peak_mb": peak / 2**20}


def _run(cmd: list[str], cwd: str | None = None) -> str | None:
    try:
        out = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=10, cwd=cwd)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def project_checkout() -> str | None:
    """upbench's own git checkout (the directory above the package, when it is the top of a git
    work tree holding upbench's sources), or None — e.g. for a wheel installed inside some other
    repository, whose commit says nothing about upbench."""
    import upbench

    root = Path(upbench.__file__).resolve().parent.parent
    if not ((root / "ops_cuda" / "register.cpp").is_file() and (root / "pyproject.toml").is_file()):
        return None
    top = _run(["git", "rev-parse", "--show-toplevel"], str(root))
    return str(root) if top and Path(top).resolve() == root else None


@functools.lru_cache(maxsize=1)
def environment() -> dict[str, Any]:
    """torch / Python / fvcore versions, CPU and GPU model, compiler, git commit (cached)."""
    from importlib.metadata import PackageNotFoundError, version

    import upbench

    repo = project_checkout()
    commit = _run(["git", "rev-parse", "HEAD"], repo) if repo else None
    dirty = _run(["git", "status", "--porcelain", "--untracked-files=no"], repo) if repo else None
    cxx = os.environ.get("CXX", "c++")
    compiler = (_run([cxx, "--version"]) or "").splitlines()
    try:
        fv = version("fvcore")
    except PackageNotFoundError:
        fv = None
    env = {
        "upbench": upbench.__version__, "torch": torch.__version__,
        "python": platform.python_version(), "fvcore": fv, "platform": platform.platform(),
        "cpu": cpu_model(), "cpu_count": os.cpu_count(), "threads": torch.get_num_threads(),
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
