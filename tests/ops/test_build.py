"""The JIT build: cache key, error explanation, source discovery."""

from __future__ import annotations

import shutil

import pytest

from upbench.ops import _build, _sources


def test_sources_found_and_every_op_folder_has_cpu_kernels():
    root = _sources.source_root()
    assert (root / "register.cpp").is_file()
    names = [o.name for o in _sources.op_sources()]
    assert {"bilinear", "carafe", "pixel_shuffle"} <= set(names)


def test_build_key_changes_with_any_header(tmp_path, monkeypatch):
    root = tmp_path / "ops_cuda"
    shutil.copytree(_sources.source_root(), root)
    monkeypatch.setattr(_build, "source_root", lambda: root)
    before = _build.build_key(with_cuda=False)
    assert before == _build.build_key(with_cuda=False)
    assert before != _build.build_key(with_cuda=True)
    header = root / "common" / "upb_common.h"
    header.write_text(header.read_text() + "\n// touched\n")
    assert _build.build_key(with_cuda=False) != before


def test_failure_is_explained_with_op_command_and_fix():
    log = (
        "Error building extension 'upbench_ops': [1/2] c++ -c register.cpp -o register.o\n"
        "FAILED: carafe_cpu.o \n"
        "c++ -MMD -O3 -c /x/ops_cuda/carafe/carafe_cpu.cpp -o carafe_cpu.o\n"
        "carafe_cpu.cpp:3:1: error: expected ';'\n"
    )
    err = _build._explain_failure(RuntimeError(log))
    msg = str(err)
    assert "op: carafe" in msg
    assert "compiler command: c++ -MMD -O3 -c /x/ops_cuda/carafe/carafe_cpu.cpp" in msg
    assert "UPBENCH_VERBOSE_BUILD=1" in msg and "fix:" in msg


@pytest.mark.slow
def test_a_broken_source_raises_a_native_build_error(tmp_path, monkeypatch, capfd):
    root = tmp_path / "ops_cuda"
    (root / "common").mkdir(parents=True)
    (root / "broken").mkdir()
    (root / "register.cpp").write_text("#include <torch/library.h>\n")
    (root / "broken" / "broken_cpu.cpp").write_text("int f() { return }\n")
    monkeypatch.setattr(_build, "source_root", lambda: root)
    monkeypatch.setattr(_build, "_sources",
                        lambda with_cuda: [str(root / "broken" / "broken_cpu.cpp")])
    monkeypatch.setattr(_build, "op_sources", lambda r: [])
    monkeypatch.setenv("UPBENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(_build, "_state", {})
    with pytest.raises(_build.NativeBuildError, match="op: broken"):
        _build.build()
    err = capfd.readouterr().err
    assert "upbench: building native ops (CPU only" in err and str(tmp_path / "cache") in err


def test_build_key_is_stable_across_a_build(native):
    """cpp_extension appends to the flag lists it is given; the key must not change."""
    key = _build.build_key()
    _build.build()
    assert _build.build_key() == key
    assert (_build.build_directory() / "upbench_ops.so").is_file()


def test_failed_files_name_the_op_and_the_first_error_line():
    log = (
        "[3/18] /usr/local/cuda/bin/nvcc -c /x/ops_cuda/carafe/carafe_cuda.cu -o carafe_cuda.cuda.o\n"
        "FAILED: [code=1] carafe_cuda.cuda.o \n"
        "/usr/local/cuda/bin/nvcc --generate-dependencies-with-compile -c carafe_cuda.cu\n"
        "ops_cuda/carafe/carafe.h(37): warning: something\n"
        "ops_cuda/carafe/carafe.h(38): error: no suitable conversion function from \"const "
        "__half\" to \"float\"\n"
        "1 error detected\n"
        "[4/18] c++ -c nrd_decode_cpu.cpp\n"
        "FAILED: nrd_decode_cpu.o \n"
        "c++ -MMD -c /x/ops_cuda/nrd_decode/nrd_decode_cpu.cpp -o nrd_decode_cpu.o\n"
        "nrd_decode_cpu.cpp:3:1: error: expected ';'\n"
    )
    files = _build.failed_files(log)
    assert [(f["op"], f["object"]) for f in files] == [("carafe", "carafe_cuda.cuda.o"),
                                                       ("nrd_decode", "nrd_decode_cpu.o")]
    assert files[0]["error"].startswith("ops_cuda/carafe/carafe.h(38): error: no suitable")
    msg = str(_build._explain_failure(RuntimeError("Error building extension"), log))
    assert "op: carafe, nrd_decode" in msg
    assert "carafe: carafe_cuda.cuda.o: ops_cuda/carafe/carafe.h(38): error" in msg
    assert "nrd_decode: nrd_decode_cpu.o: nrd_decode_cpu.cpp:3:1: error: expected ';'" in msg
    assert "UPBENCH_FORCE_CUDA=0" in msg  # a CUDA file failed: the fix names the CPU-only build
