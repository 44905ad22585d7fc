"""The CUDA kernels of the label-space decoder ops compile with nvcc (sm_80 and sm_90).

Skipped where nvcc is absent. Compile-only: no GPU is needed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "ops_cuda"
OPS = ["dupsample", "nrd_decode", "pyramid_fuse"]


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not found")
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_cu_compiles(op, arch, tmp_path):
    src = ROOT / op / f"{op}_cuda.cu"
    cmd = ["nvcc", "-c", f"-arch={arch}", "-I", str(ROOT), str(src), "-o", str(tmp_path / "k.o")]
    res = subprocess.run(cmd, check=False, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
