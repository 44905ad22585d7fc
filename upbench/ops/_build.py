"""The one loader of upbench's native operators.

All sources under ``ops_cuda/`` compile into **one** shared library with
``torch.utils.cpp_extension.load(is_python_module=False)`` and ninja. The build directory is keyed
by a hash of every source and header, the torch version, the compile flags, the host CPU and, for
a CUDA build, the toolkit and the arch list, so an edit or a torch upgrade rebuilds and an
unchanged tree loads in milliseconds. A file lock guards concurrent builds (pytest-xdist, two
shells, several Ray workers on one node). Whether the CUDA sources are part of the build, where
the toolkit is and which archs are compiled is decided by :mod:`upbench.ops._cuda_env`.

Environment:
    UPBENCH_CACHE_DIR: where builds go (default ``~/.cache/upbench``).
    UPBENCH_VERBOSE_BUILD=1: show the compiler output.
    UPBENCH_FORCE_CUDA=1 / 0: build the CUDA sources even without a GPU / never.
    CUDA_HOME, TORCH_CUDA_ARCH_LIST: the toolkit and the archs of a CUDA build.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from upbench.ops._cuda_env import (
    CudaSetupError,
    cuda_arch_list,
    cuda_choice,
    find_cuda_home,
    import_cpp_extension,
)
from upbench.ops._sources import all_files, op_sources, source_root

LIB_NAME = "upbench_ops"
CFLAGS = ["-O3", "-march=native", "-fopenmp", "-DUPB_WITH_TORCH"]
LDFLAGS = ["-fopenmp"]
NVCC_FLAGS = ["-O3", "--expt-relaxed-constexpr"]
# rough build times on a 2-core machine, for the one line the first build prints
EXPECTED_MINUTES = {False: 1, True: 8}


class NativeBuildError(RuntimeError):
    """The native library failed to compile or load; the message names the op and the fix."""


class CacheDirError(NativeBuildError):
    """The build cache (``UPBENCH_CACHE_DIR``) cannot be written: unusable input (exit 2)."""


def _writable_build_dir(bdir: Path) -> None:
    """Create ``bdir`` and probe its lock file, or raise :class:`CacheDirError` naming the cache
    directory, the reason and the fix."""
    try:
        bdir.mkdir(parents=True, exist_ok=True)
        probe = Path(str(bdir) + ".lock")
        with open(probe, "a"):
            pass
        if not os.access(bdir, os.W_OK):
            raise PermissionError(13, "permission denied")
    except OSError as e:
        why = e.strerror or str(e)
        raise CacheDirError(f"upbench's build cache {cache_dir()} is not writable ({why} at "
                            f"{e.filename or bdir}); set UPBENCH_CACHE_DIR to a writable "
                            "directory") from None


@dataclass
class BuildInfo:
    """What was built (or reused) and where."""

    directory: Path
    library: Path
    with_cuda: bool
    seconds: float
    reused: bool
    ops: list[str] = field(default_factory=list)
    archs: str | None = None
    cuda_home: str | None = None


_lock = threading.Lock()
_state: dict[str, object] = {}


def cache_dir() -> Path:
    """Root directory of upbench's build cache."""
    return Path(os.environ.get("UPBENCH_CACHE_DIR", Path.home() / ".cache" / "upbench"))


def torch_has_cuda() -> bool:
    """True when the CUDA sources are part of this process's build (:func:`cuda_choice`):
    torch has CUDA and a GPU is visible, or ``UPBENCH_FORCE_CUDA=1``."""
    try:
        return cuda_choice()[0]
    except CudaSetupError:
        return True  # forced: the build reports what is missing


def _cpu_signature() -> str:
    """The host CPU's model and feature flags: -march=native code is only valid on such a CPU."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        import platform

        return platform.processor() or platform.machine()
    keep = [ln for ln in info.splitlines() if ln.startswith(("model name", "flags", "Features"))]
    return "\n".join(sorted(set(keep)))


def build_key(with_cuda: bool | None = None, archs: str | None = None) -> str:
    """Hash of every source and header, torch and Python versions, the host CPU, the flags and,
    for a CUDA build, the arch list."""
    with_cuda = torch_has_cuda() if with_cuda is None else with_cuda
    archs = (archs or cuda_arch_list()) if with_cuda else "cpu"
    root = source_root()
    h = hashlib.sha256()
    for f in all_files(root):
        h.update(str(f.relative_to(root)).encode())
        h.update(f.read_bytes())
    for part in (torch.__version__, _cpu_signature(), str(with_cuda), archs, sys.version,
                 *CFLAGS, *LDFLAGS, *NVCC_FLAGS):
        h.update(part.encode())
    return h.hexdigest()[:16]


def build_directory(with_cuda: bool | None = None, cache: Path | None = None,
                    archs: str | None = None) -> Path:
    """The build directory for the current sources, torch and CUDA choice."""
    return (cache or cache_dir()) / "build" / f"{LIB_NAME}-{build_key(with_cuda, archs)}"


def _sources(with_cuda: bool) -> list[str]:
    root = source_root()
    srcs = [root / "register.cpp"]
    for op in op_sources(root):
        srcs += op.cpu
        if with_cuda:
            srcs += op.cuda_kernels + op.cuda_bindings
    return [str(s) for s in srcs]


def _op_of(obj: str) -> str:
    """The op folder an object file belongs to (``nrd_decode_cuda.cuda.o`` → ``nrd_decode``)."""
    return re.split(r"_cpu\b|_cpu\.|_cuda\b|_cuda\.|\.", Path(obj).name)[0]


def failed_files(log: str) -> list[dict[str, str]]:
    """The files ninja reports as ``FAILED`` in a build log: object, op, the compiler command
    and the first compiler error line of each."""
    lines = log.splitlines()
    out = []
    for i, ln in enumerate(lines):
        m = re.match(r"\s*FAILED: (?:\[code=\d+\] )?(\S+)", ln)
        if not m:
            continue
        command = lines[i + 1].strip() if i + 1 < len(lines) else ""
        error = ""
        for nxt in lines[i + 2:]:
            if re.match(r"\s*(FAILED: |\[\d+/\d+\] )", nxt):
                break
            if re.search(r"\berror\b", nxt, re.IGNORECASE):
                error = nxt.strip()
                break
        out.append({"object": m.group(1), "op": _op_of(m.group(1)), "command": command,
                    "error": error})
    return out


def _explain_failure(err: Exception, log: str | None = None) -> NativeBuildError:
    """A :class:`NativeBuildError` naming the op(s) whose files failed, the first compiler error
    line of each, and the fix."""
    text = log or str(err)
    failed = failed_files(text)
    ops = sorted({f["op"] for f in failed})
    cuda = any(".cu" in f["object"] or "_cuda" in f["object"] for f in failed)
    lines = [f"upbench could not build its native operators (op: {', '.join(ops) or 'unknown'})."]
    for f in failed:
        lines.append(f"  {f['op']}: {f['object']}: {f['error'] or '(no error line; see the log)'}")
    if failed:
        lines.append(f"compiler command: {failed[0]['command']}")
    else:
        cmds = [ln.strip() for ln in text.splitlines()
                if re.search(r"(^|\s)(c\+\+|g\+\+|gcc|nvcc)\s", ln)]
        lines.append(f"compiler command: {cmds[0] if cmds else '(see the build log below)'}")
    if cuda:
        lines.append(f"fix: the CUDA sources need the toolkit torch was built with (CUDA "
                     f"{torch.version.cuda}; CUDA_HOME or nvcc on PATH), or build the CPU "
                     "kernels only with UPBENCH_FORCE_CUDA=0;")
    else:
        lines.append("fix: make sure a C++17 compiler (g++ >= 9) and ninja are installed "
                     "(`pip install ninja`) and that torch's headers match the installed torch;")
    lines += ["     rerun with UPBENCH_VERBOSE_BUILD=1 to see the full compiler output.",
              "Meanwhile upsamplers can run with impl='reference' (pure PyTorch).",
              "--- build log ---", text[-4000:]]
    return NativeBuildError("\n".join(lines))


def _rebuild_log(bdir: Path) -> str | None:
    """The compiler output of the failing files, by running ninja again in the build directory
    (a verbose build streamed it to the terminal instead of the error)."""
    try:
        out = subprocess.run(["ninja", "-v"], cwd=bdir, capture_output=True, text=True,
                             timeout=3600, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout + out.stderr


def build(verbose: bool | None = None, with_cuda: bool | None = None, cache: Path | None = None,
          archs: str | None = None) -> BuildInfo:
    """Build (or reuse) the native library and load it into ``torch.ops.upbench`` (once per
    process: later calls return the same library).

    Args:
        verbose: show compiler output; defaults to ``UPBENCH_VERBOSE_BUILD=1``.
        with_cuda: build the CUDA sources (default: :func:`upbench.ops._cuda_env.cuda_choice`).
        cache: the cache root (default :func:`cache_dir`).
        archs: the CUDA arch list (default :func:`upbench.ops._cuda_env.cuda_arch_list`).

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
            if with_cuda is None and cache is None and archs is None:
                info = _build_locked(verbose)
            else:
                info = build_library(torch_has_cuda() if with_cuda is None else with_cuda,
                                     cache or cache_dir(), archs, bool(verbose),
                                     "requested")
        except NativeBuildError as e:
            _state["error"] = e
            raise
        _state["info"] = info
        return info


def loaded() -> BuildInfo | None:
    """The library this process loaded, if any (no build is attempted)."""
    return _state.get("info")  # type: ignore[return-value]


def _build_locked(verbose: bool | None) -> BuildInfo:
    if verbose is None:
        verbose = os.environ.get("UPBENCH_VERBOSE_BUILD") == "1"
    try:
        with_cuda, why = cuda_choice()
    except CudaSetupError as e:
        raise NativeBuildError(str(e)) from e
    return build_library(with_cuda, cache_dir(), verbose=verbose, why=why)


def build_library(with_cuda: bool, cache: Path, archs: str | None = None, verbose: bool = False,
                  why: str = "") -> BuildInfo:
    """Build (or reuse) the library under ``cache`` and load it into this process.

    Args:
        with_cuda: compile the CUDA kernels and bindings too (needs the toolkit).
        cache: the cache root (``<cache>/build/upbench_ops-<key>``).
        archs: the CUDA arch list (default :func:`cuda_arch_list`).
        verbose: stream the compiler output.
        why: the reason of the CUDA choice, for the one line a new build prints.

    Raises:
        NativeBuildError: the toolkit is missing, or the build or the load failed.
    """
    from filelock import FileLock

    archs = (archs or cuda_arch_list()) if with_cuda else None
    try:
        cuda_home = find_cuda_home() if with_cuda else None
    except CudaSetupError as e:
        raise NativeBuildError(f"upbench cannot build its CUDA kernels: {e}") from e
    cpp_extension = import_cpp_extension(cuda_home)
    bdir = build_directory(with_cuda, cache, archs)
    _writable_build_dir(bdir)
    lib = bdir / f"{LIB_NAME}.so"
    t0 = time.perf_counter()
    root = source_root()
    with FileLock(str(bdir) + ".lock"):
        reused = lib.is_file()
        if not reused:
            what = f"CPU + CUDA for {archs}" if with_cuda else "CPU only"
            sys.stderr.write(f"upbench: building native ops ({what}; {why or 'default'}), about "
                             f"{EXPECTED_MINUTES[with_cuda]} min on 2 cores, in {bdir}\n")
            sys.stderr.flush()
            env: dict[str, str] = {"TORCH_CUDA_ARCH_LIST": archs} if with_cuda and archs else {}
            saved = {k: os.environ.get(k) for k in env}
            os.environ.update(env)
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
                log = str(e) if "FAILED" in str(e) else _rebuild_log(bdir)
                raise _explain_failure(e, log) from e
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
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
        archs=archs,
        cuda_home=str(cuda_home) if cuda_home else None,
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
