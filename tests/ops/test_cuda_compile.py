"""Every torch-free CUDA kernel source compiles with ``nvcc -c`` for sm_80 and sm_90."""

from __future__ import annotations

import pytest

from upbench.ops import _nvcc

FILES = _nvcc.kernel_files()


def test_every_op_folder_has_cuda_kernels_and_binding():
    from upbench.ops._sources import op_sources

    for op in op_sources():
        assert op.cuda_kernels and op.cuda_bindings and op.cpu, op.name


@pytest.mark.skipif(_nvcc.find_nvcc() is None, reason="nvcc is not installed on this machine")
@pytest.mark.parametrize(("op", "cu"), FILES, ids=[str(cu.name) for _, cu in FILES])
def test_nvcc_compiles(op, cu):
    res = _nvcc.compile_check(cu, op)
    assert res.ok, f"{res.command}\n{res.output}"
    assert _nvcc.cached_result(cu).ok


def test_cu_files_include_no_torch_headers():
    for _, cu in FILES:
        text = cu.read_text()
        for banned in ("torch/", "ATen/", "c10/"):
            assert banned not in text, f"{cu} includes {banned}"
