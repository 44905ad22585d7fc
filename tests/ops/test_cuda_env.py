"""When, where and for which archs the CUDA sources build (upbench.ops._cuda_env), and what
`ops list` / cuda-check report."""

from __future__ import annotations

import stat

import pytest
import torch

from upbench.ops import _build, _cuda_env


def _toolkit(root):
    (root / "bin").mkdir(parents=True)
    (root / "include").mkdir()
    (root / "bin" / "nvcc").write_text("#!/bin/sh\n")
    (root / "include" / "cuda_runtime.h").write_text("")
    return root


def test_cuda_choice_follows_force_and_gpu(monkeypatch):
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv("UPBENCH_FORCE_CUDA", raising=False)
    assert _cuda_env.cuda_choice() == (False, ("no GPU is visible (UPBENCH_FORCE_CUDA=1 builds "
                                              "the CUDA kernels anyway)"))
    monkeypatch.setenv("UPBENCH_FORCE_CUDA", "1")
    assert _cuda_env.cuda_choice()[0] is True
    monkeypatch.setenv("UPBENCH_FORCE_CUDA", "0")
    assert _cuda_env.cuda_choice()[0] is False
    monkeypatch.setattr(torch.version, "cuda", None)
    monkeypatch.setenv("UPBENCH_FORCE_CUDA", "1")
    with pytest.raises(_cuda_env.CudaSetupError, match="built without CUDA"):
        _cuda_env.cuda_choice()


def test_build_key_covers_the_cuda_choice_and_archs(monkeypatch):
    monkeypatch.delenv("TORCH_CUDA_ARCH_LIST", raising=False)
    cpu = _build.build_key(False)
    assert cpu != _build.build_key(True, "8.0;9.0") != _build.build_key(True, "8.6")
    assert _build.build_key(False, "8.6") == cpu  # archs do not matter without CUDA
    assert _cuda_env.cuda_arch_list() in (_cuda_env.DEFAULT_ARCHS,) or torch.cuda.is_available()
    monkeypatch.setenv("TORCH_CUDA_ARCH_LIST", "7.5")
    assert _cuda_env.cuda_arch_list() == "7.5"


def test_toolkit_found_behind_a_wrapper_nvcc(tmp_path, monkeypatch):
    """/usr/local/bin/nvcc is a wrapper script: its parent is no toolkit; nvcc --dryrun says
    where the toolkit is."""
    real = _toolkit(tmp_path / "cuda-13.0")
    wrapper = tmp_path / "usr" / "bin" / "nvcc"
    wrapper.parent.mkdir(parents=True)
    wrapper.write_text(f"#!/bin/sh\necho '#$ _HERE_={real}/bin' >&2\n"
                       f"echo '#$ TOP={real}/bin/..' >&2\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.delenv("CUDA_HOME", raising=False)
    monkeypatch.delenv("CUDA_PATH", raising=False)
    monkeypatch.setenv("PATH", str(wrapper.parent))
    assert _cuda_env.find_cuda_home() == real.resolve()
    monkeypatch.setenv("CUDA_HOME", str(tmp_path / "nope"))
    with pytest.raises(_cuda_env.CudaSetupError, match="CUDA_HOME=.*nope.*bin/nvcc"):
        _cuda_env.find_cuda_home()
    monkeypatch.setenv("CUDA_HOME", str(real))
    assert _cuda_env.find_cuda_home() == real


def test_no_toolkit_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_HOME", raising=False)
    monkeypatch.delenv("CUDA_PATH", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(_cuda_env, "is_toolkit_root", lambda root: False)
    with pytest.raises(_cuda_env.CudaSetupError, match="no CUDA toolkit found.*CUDA_HOME"):
        _cuda_env.find_cuda_home()


def test_torch_nvcc_flags_forbid_implicit_half_conversions():
    flags = _cuda_env.torch_nvcc_flags()
    assert "-D__CUDA_NO_HALF_CONVERSIONS__" in flags
    assert "-D__CUDA_NO_BFLOAT16_CONVERSIONS__" in flags


def test_cpu_build_registers_cpu_kernels_only(native):
    from upbench.ops import list_ops
    from upbench.ops.cuda_check import registered_kernels

    info = _build.loaded()
    kernels = registered_kernels(list_ops())
    assert len(kernels) == 2 * len(list_ops())
    assert all(k["CPU"] for k in kernels.values())
    if not info.with_cuda:
        assert not any(k["CUDA"] for k in kernels.values())
