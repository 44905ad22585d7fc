"""The one loader of upbench's native operators.

All sources under ``ops_cuda/`` compile into **one** shared library with
``torch.utils.cpp_extension.load(is_python_module=False)`` and ninja. The build directory is keyed
by a hash of every source and header, the torch version, the compile flags and the CUDA arch list,
so an edit or a torch upgrade rebuilds and an unchanged tree loads in milliseconds. A file lock
guards concurrent builds (pytest-xdist, two shells). CUDA sources are added only when torch was
built with CUDA and a CUDA toolkit is found.

Environment:
    UPBENCH_CACHE_DIR: where builds go (default ``~/.cache/upbench``).
    UPBENCH_VERBOSE_BUILD=1: show the compiler output.
    UPBENCH_FORCE_CUDA=0: build the CPU kernels only even where torch has CUDA.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from upbench.ops._sources import all_files, op_sources, source_root

LIB_NAME = "upbench_ops"
CFLAGS = ["-O3", "-march=native", "-fopenmp", "-DUPB_WITH_TORCH"]
LDFLAGS = ["-fopenmp"]
NVCC_FLAGS = ["-O3", "--expt-relaxed-constexpr"]


class NativeBuildError(RuntimeError):
    """The native library failed to compile or load; the message names the op and the fix."""


@dataclass
class BuildInfo:
    """What was built (or reused) and where."""

    directory: Path
    library: Path
    with_cuda: bool
    seconds: float
    reused: bool
    ops: list[str] = field(default_factory=list)


_lock = threading.Lock()
_state: dict[str, object] = {}


def cache_dir() -> Path:
    """Root directory of upbench's build cache."""
    return Path(os.environ.get("UPBENCH_CACHE_DIR", Path.home() / ".cache" / "upbench"))


def torch_has_cuda() -> bool:
    """True when this torch was built with CUDA and a toolkit (nvcc) is available to JIT with."""
    if os.environ.get("UPBENCH_FORCE_CUDA") == "0" or torch.version.cuda is None:
        return False
    from torch.utils.cpp_extension import CUDA_HOME

    return CUDA_HOME is not None


def _cuda_arch() -> str:
    if not torch_has_cuda():
        return "cpu"
    arch = os.environ.get("TORCH_CUDA_ARCH_LIST")
    if arch:
        return arch
    if torch.cuda.is_available():
        return ";".join(
            f"{major}.{minor}"
            for major, minor in sorted(
                {torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count())}
            )
        )
    return "default"


def _cpu_signature() -> str:
    """The host CPU's model and feature flags: -march=native code is only valid on such a CPU."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        import platform

        return platform.processor() or platform.machine()
    keep = [ln for ln in info.splitlines() if ln.startswith(("model name", "flags", "Features"))]
    return "\n".join(sorted(set(keep)))


def build_key(with_cuda: bool | None = None) -> str:
    """Hash of every source and header, the torch version, flags and CUDA arch list."""
    with_cuda = torch_has_cuda() if with_cuda is None else with_cuda
    root = source_root()
    h = hashlib.sha256()
    for f in all_files(root):
        h.update(str(f.relative_to(root)).encode())
        h.update(f.read_bytes())
    for part in (torch.__version__, _cpu_signature(), str(with_cuda), _cuda_arch(), sys.version, *CFLAGS, *LDFLAGS,
                 *NVCC_FLAGS):
        h.update(part.encode())
    return h.hexdigest()[:16]


def build_directory(with_cuda: bool | None = None) -> Path:
    """The build directory for the current sources, torch and CUDA arch."""
    return cache_dir() / "build" / f"{LIB_NAME}-{build_key(with_cuda)}"


def _sources(with_cuda: bool) -> list[str]:
    root = source_root()
    srcs = [root / "register.cpp"]
    for op in op_sources(root):
        srcs += op.cpu
        if with_cuda:
            srcs += op.cuda_kernels + op.cuda_bindings
    return [str(s) for s in srcs]


def _explain_failure(err: Exception) -> NativeBuildError:
    text = str(err)
    lines_in = text.splitlines()
    failed, commands = [], []
    for i, ln in enumerate(lines_in):
        m = re.match(r"\s*FAILED: (\S+)", ln)
        if m:  # ninja prints the failing command on the line after "FAILED: <object>"
            failed.append(m.group(1))
            if i + 1 < len(lines_in):
                commands.append(lines_in[i + 1].strip())
    ops = sorted({re.split(r"_cpu|_cuda|\.", Path(f).name)[0] for f in failed})
    if not commands:
        commands = [ln.strip() for ln in lines_in if re.search(r"(^|\s)(c\+\+|g\+\+|gcc|nvcc)\s", ln)]
    lines = [
        f"upbench could not build its native operators (op: {', '.join(ops) or 'unknown'}).",
        f"compiler command: {commands[0] if commands else '(see the build log below)'}",
        "fix: make sure a C++17 compiler (g++ >= 9) and ninja are installed (`pip install ninja`),",
        "     that torch's headers match the installed torch, and rerun with",
        "     UPBENCH_VERBOSE_BUILD=1 to see the full compiler output.",
        "Meanwhile upsamplers can run with impl='reference' (pure PyTorch).",
        "--- build log ---",
        text[-4000:],
    ]
    return NativeBuildError("\n".join(lines))


def build(verbose: bool | None = None) -> BuildInfo:
    """Build (or reuse) the native library and load it into ``torch.ops.upbench``.

    Args:
        verbose: show compiler output; defaults to ``UPBENCH_VERBOSE_BUILD=1``.

    Returns:
        A :class:`BuildInfo` describing the library.

    Raises:
        NativeBuildError: when the build or the load fails.
    """
    with _lock:
        if "info" in _state:
            return _state["info"]  # type: ignore[return-value]
        if "error" in _state:
            raise _state["error"]  # type: ignore[misc]
        try:
            info = _build_locked(verbose)
        except NativeBuildError as e:
            _state["error"] = e
            raise
        _state["info"] = info
        return info


def _build_locked(verbose: bool | None) -> BuildInfo:
    from filelock import FileLock
    from torch.utils import cpp_extension

    if verbose is None:
        verbose = os.environ.get("UPBENCH_VERBOSE_BUILD") == "1"
    with_cuda = torch_has_cuda()
    bdir = build_directory(with_cuda)
    bdir.mkdir(parents=True, exist_ok=True)
    lib = bdir / f"{LIB_NAME}.so"
    t0 = time.perf_counter()
    reused = lib.is_file()
    root = source_root()
    with FileLock(str(bdir) + ".lock"):
        reused = lib.is_file()
        if not reused:
            try:
                cpp_extension.load(
                    name=LIB_NAME,
                    sources=_sources(with_cuda),
                    # copies: cpp_extension appends to the lists it is given
                    extra_cflags=list(CFLAGS),
                    extra_ldflags=list(LDFLAGS),
                    extra_cuda_cflags=list(NVCC_FLAGS),
                    extra_include_paths=[str(root)],
                    build_directory=str(bdir),
                    with_cuda=with_cuda,
                    is_python_module=False,
                    verbose=verbose,
                )
            except Exception as e:
                raise _explain_failure(e) from e
        else:
            try:
                torch.ops.load_library(str(lib))
            except Exception as e:
                raise _explain_failure(e) from e
    return BuildInfo(
        directory=bdir,
        library=lib,
        with_cuda=with_cuda,
        seconds=time.perf_counter() - t0,
        reused=reused,
        ops=[o.name for o in op_sources(root)],
    )


def native_available() -> bool:
    """True when the native library is (or can be) built and loaded; never raises."""
    try:
        build()
    except NativeBuildError:
        return False
    return True


def build_error() -> NativeBuildError | None:
    """The error of a failed build attempt in this process, if any."""
    return _state.get("error")  # type: ignore[return-value]
