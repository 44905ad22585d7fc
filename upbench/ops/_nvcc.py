"""Quick compile-check of the torch-free CUDA kernels (``ops_cuda/*/*_cuda.cu``) with ``nvcc -c``
under **exactly the nvcc flags torch's JIT build passes** (``cpp_extension.COMMON_NVCC_FLAGS``:
no implicit half/bfloat16 conversions, ...), so it fails wherever the real build would.

No GPU is needed. It covers the kernels only, in seconds; the bindings (``*_cuda.cpp``) and the
link are covered by the full build of ``upbench ops cuda-check``. Results are cached per file
content, flags and arch list, so ``upbench ops list`` can show "compile-checked" without
recompiling.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from upbench.ops._build import cache_dir
from upbench.ops._sources import op_sources, source_root

DEFAULT_ARCHS = ("sm_80", "sm_90")


@dataclass
class NvccResult:
    """Outcome of compiling one ``.cu`` file for a list of architectures."""

    op: str
    file: str
    archs: list[str]
    ok: bool
    command: str
    output: str


def find_nvcc() -> str | None:
    """The nvcc of the CUDA toolkit (:func:`upbench.ops._cuda_env.find_cuda_home`), or None."""
    from upbench.ops._cuda_env import CudaSetupError, find_cuda_home

    try:
        return str(find_cuda_home() / "bin" / "nvcc")
    except CudaSetupError:
        return None


def nvcc_command(cu: Path, out: Path, archs: tuple[str, ...], nvcc: str) -> list[str]:
    """The compile command: torch's nvcc flags, C++17, the build's ``NVCC_FLAGS``, the archs."""
    from upbench.ops._build import NVCC_FLAGS
    from upbench.ops._cuda_env import torch_nvcc_flags

    cmd = [nvcc, "-c", str(cu), "-o", str(out), "-I", str(source_root()), "-std=c++17",
           *torch_nvcc_flags(), *NVCC_FLAGS]
    for a in archs:
        cmd += ["-gencode", f"arch=compute_{a[3:]},code={a}"]
    return cmd


def _key(cu: Path, archs: tuple[str, ...]) -> str:
    root = source_root()
    h = hashlib.sha256()
    for f in sorted([cu, *cu.parent.glob("*.h"), *cu.parent.glob("*.cuh"),
                     *(root / "common").glob("*")]):
        h.update(f.read_bytes())
    h.update(",".join(archs).encode())
    from upbench.ops._cuda_env import torch_nvcc_flags

    h.update(" ".join(torch_nvcc_flags()).encode())
    return h.hexdigest()[:16]


def _cache_file(cu: Path, archs: tuple[str, ...]) -> Path:
    return cache_dir() / "nvcc" / f"{cu.stem}-{_key(cu, archs)}.json"


def cached_result(cu: Path, archs: tuple[str, ...] = DEFAULT_ARCHS) -> NvccResult | None:
    """The cached compile-check result of the current content of ``cu``, if any."""
    f = _cache_file(cu, archs)
    if f.is_file():
        try:
            return NvccResult(**json.loads(f.read_text()))
        except (ValueError, TypeError):
            return None
    return None


def compile_check(cu: Path, op: str, archs: tuple[str, ...] = DEFAULT_ARCHS,
                  nvcc: str | None = None) -> NvccResult:
    """Compile one ``.cu`` file with ``nvcc -c`` for every arch; cache and return the result.

    Raises:
        FileNotFoundError: when nvcc is not installed.
    """
    nvcc = nvcc or find_nvcc()
    if nvcc is None:
        raise FileNotFoundError("nvcc not found (set CUDA_HOME or put nvcc on PATH)")
    root = source_root()
    with tempfile.TemporaryDirectory() as tmp:
        cmd = nvcc_command(cu, Path(tmp) / "k.o", archs, nvcc)
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    res = NvccResult(op=op, file=str(cu.relative_to(root)), archs=list(archs),
                     ok=proc.returncode == 0, command=" ".join(cmd),
                     output=(proc.stdout + proc.stderr)[-4000:])
    out = _cache_file(cu, archs)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(asdict(res)))
    return res


def kernel_files() -> list[tuple[str, Path]]:
    """(op folder, .cu file) for every CUDA kernel source."""
    return [(o.name, cu) for o in op_sources() for cu in o.cuda_kernels]
