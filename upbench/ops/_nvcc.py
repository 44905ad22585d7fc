"""Compile-check of the torch-free CUDA kernels (``ops_cuda/*/*_cuda.cu``) with ``nvcc -c``.

No GPU is needed: the check proves the kernels compile for the given architectures. Results are
cached per file content and arch list, so ``upbench ops list`` can show them without recompiling.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
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
    """Path of nvcc (``$CUDA_HOME/bin/nvcc`` or on PATH), or None."""
    home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")
    if home and (Path(home) / "bin" / "nvcc").is_file():
        return str(Path(home) / "bin" / "nvcc")
    return shutil.which("nvcc")


def _key(cu: Path, archs: tuple[str, ...]) -> str:
    root = source_root()
    h = hashlib.sha256()
    for f in sorted([cu, *cu.parent.glob("*.h"), *cu.parent.glob("*.cuh"),
                     *(root / "common").glob("*")]):
        h.update(f.read_bytes())
    h.update(",".join(archs).encode())
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
        cmd = [nvcc, "-c", str(cu), "-o", str(Path(tmp) / "k.o"), "-I", str(root), "-O3",
               "-std=c++17", "--expt-relaxed-constexpr"]
        for a in archs:
            cmd += ["-gencode", f"arch=compute_{a[3:]},code={a}"]
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
