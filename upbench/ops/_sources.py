"""Where the native sources live and which of them make up the library.

Every operator has a folder ``ops_cuda/<op>/`` (see docs/architecture.md). In a source checkout the
folder sits at the top of the repository; in an installed wheel it ships as ``upbench/_ops_cuda``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

_PKG_DIR = Path(__file__).resolve().parent.parent


def source_root() -> Path:
    """Return the directory holding ``register.cpp`` and one folder per operator.

    Raises:
        FileNotFoundError: when neither a checkout's ``ops_cuda/`` nor the wheel's copy exists.
    """
    for candidate in (_PKG_DIR.parent / "ops_cuda", _PKG_DIR / "_ops_cuda"):
        if (candidate / "register.cpp").is_file():
            return candidate
    raise FileNotFoundError(
        "upbench's native sources were not found (looked for ops_cuda/register.cpp next to the "
        "package and upbench/_ops_cuda/register.cpp inside it); reinstall upbench with "
        "`pip install .` from a full checkout"
    )


@dataclass(frozen=True)
class OpSources:
    """The native source files of one operator folder."""

    name: str
    cpu: tuple[Path, ...]
    cuda_kernels: tuple[Path, ...]
    cuda_bindings: tuple[Path, ...]
    headers: tuple[Path, ...]


def op_sources(root: Path | None = None) -> list[OpSources]:
    """List every operator folder under the source root with its files, sorted by name."""
    root = root or source_root()
    ops = []
    for d in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "common"):
        ops.append(
            OpSources(
                name=d.name,
                cpu=tuple(sorted(d.glob("*_cpu.cpp"))),
                cuda_kernels=tuple(sorted(d.glob("*_cuda.cu"))),
                cuda_bindings=tuple(sorted(d.glob("*_cuda.cpp"))),
                headers=tuple(sorted([*d.glob("*.h"), *d.glob("*.cuh")])),
            )
        )
    return ops


def all_files(root: Path | None = None) -> list[Path]:
    """Every file that can influence the build (sources and headers), sorted."""
    root = root or source_root()
    pats = ("*.cpp", "*.cu", "*.h", "*.cuh")
    return sorted({f for pat in pats for f in root.rglob(pat)})


@functools.lru_cache(maxsize=4)
def schemas(root: Path | None = None) -> dict[str, str]:
    """Every op's schema as ``register.cpp`` defines it (``m.def("<schema>")``), by op name: the
    one written source of the ops' signatures (the counting twins are defined from it)."""
    text = ((root or source_root()) / "register.cpp").read_text()
    return {m.group(2): m.group(1) for m in re.finditer(r'm\.def\("(([A-Za-z_0-9]+)\(.*?)"', text)}
