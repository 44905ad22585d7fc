"""Shared fixtures: the native library is built once per session; the tiny suite on disk, a
baseline built from synthetic results and a read-only directory (from :mod:`tests.helpers`)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import pytest
import torch

from tests.helpers.suites import write_suite

#: torch threads of a test process: 2 alone; 1 in each of several parallel test processes
#: (pytest-xdist), which already fill the cores — the op tests keep 2 (tests/ops/conftest.py),
#: so the kernels' split across threads stays tested
TEST_THREADS = 1 if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1 else 2


@pytest.fixture(scope="session", autouse=True)
def _threads():
    torch.set_num_threads(TEST_THREADS)


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
    old = os.environ.get("UPBENCH_JOBS")
    os.environ["UPBENCH_JOBS"] = "1"
    yield
    if old is None:
        os.environ.pop("UPBENCH_JOBS", None)
    else:
        os.environ["UPBENCH_JOBS"] = old


@pytest.fixture
def suite(tmp_path):
    """The tiny suite with two cells (bilinear, nearest) written to a file."""
    return write_suite(tmp_path / "tiny.yaml", upsamplers=["bilinear", "nearest"])


@pytest.fixture
def syn_baseline(tmp_path):
    """A baseline built (with the CLI) from synthetic seeds 0-2 of two cells; returns its path
    and the seed-0 records."""
    from tests.cli.helpers import invoke  # the CLI and the engine: imported by the tests using it
    from tests.helpers.results import SPREAD, result, write_results

    recs = [result(label, s, v) for label, vals in SPREAD.items() for s, v in enumerate(vals)]
    base_dir = write_results(tmp_path / "base", recs)
    baseline = tmp_path / "baseline.json"
    r = invoke("check", base_dir, "--baseline", baseline, "--update")
    assert r.exit_code == 0, r.output
    return baseline, [r for r in recs if r["seed"] == 0]


def _unwritable(path: Path) -> bool:
    try:
        fd, name = tempfile.mkstemp(dir=path)
    except OSError:
        return True
    os.close(fd)
    os.unlink(name)
    return False


@pytest.fixture
def readonly_dir(tmp_path):
    """An existing directory this process cannot write into (a chmod 555 directory; as root,
    which ignores modes, the read-only /sys)."""
    if os.geteuid() != 0:
        d = tmp_path / "ro"
        d.mkdir()
        d.chmod(0o555)
        yield d
        d.chmod(0o755)
        return
    if not _unwritable(Path("/sys")):
        pytest.skip("running as root and /sys is writable: no read-only directory available")
    yield Path("/sys")
