"""Shared fixtures: the native library is built once per session."""

from __future__ import annotations

import contextlib

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def _threads():
    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def native():
    """Build/load the native library (fails loudly: the tests are about the native kernels)."""
    from upbench.ops._registry import ensure_native

    ensure_native()
    return torch.ops.upbench


@contextlib.contextmanager
def cpu_kernel_mode(mode: str):
    """Run the CPU kernels in ``"fast"`` or ``"elementwise"`` (the CUDA kernels' math) mode."""
    previous = torch.ops.upbench._set_cpu_kernel_mode(1 if mode == "elementwise" else 0)
    try:
        yield
    finally:
        torch.ops.upbench._set_cpu_kernel_mode(previous)


@pytest.fixture(params=["fast", "elementwise"])
def kernel_mode(request, native):
    """Parametrise a test over both CPU kernel modes."""
    with cpu_kernel_mode(request.param):
        yield request.param


@pytest.fixture(scope="session", autouse=True)
def _serial_cli_runs():
    """``upbench run`` invoked in-process by the tests runs its cells in this process (one at a
    time), so their monkeypatches apply; the parallel executor is tested with explicit jobs."""
    import os

    old = os.environ.get("UPBENCH_JOBS")
    os.environ["UPBENCH_JOBS"] = "1"
    yield
    if old is None:
        os.environ.pop("UPBENCH_JOBS", None)
    else:
        os.environ["UPBENCH_JOBS"] = old
