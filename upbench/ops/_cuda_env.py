"""Whether, where and for which GPUs the CUDA sources are built.

* **When** (:func:`cuda_choice`): by default only where torch has CUDA *and* a GPU is visible, so a
  CPU-only machine with a CUDA build of torch builds the CPU library quickly.
  ``UPBENCH_FORCE_CUDA=1`` builds the CUDA sources anyway (compile verification, or a GPU attached
  later); ``UPBENCH_FORCE_CUDA=0`` never.
* **Where** (:func:`find_cuda_home`): ``CUDA_HOME`` / ``CUDA_PATH`` when set; else the toolkit the
  ``nvcc`` on PATH belongs to (its resolved parent, or where ``nvcc --dryrun`` says it lives —
  a wrapper script in ``/usr/local/bin`` is not a toolkit root); else ``/usr/local/cuda``. A root
  must hold ``bin/nvcc`` and ``include/cuda_runtime.h``.
* **Which archs** (:func:`cuda_arch_list`): ``TORCH_CUDA_ARCH_LIST`` when set; else the visible
  GPUs' compute capabilities; else ``8.0;9.0`` (A100, H100).
* **Flags** (:func:`torch_nvcc_flags`): exactly what ``torch.utils.cpp_extension`` passes to
  nvcc, so a compile check fails wherever the real build fails.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

import torch

DEFAULT_ARCHS = "8.0;9.0"


class CudaSetupError(RuntimeError):
    """The CUDA toolkit or the CUDA build of torch needed for the CUDA sources is missing."""


def force_setting() -> str | None:
    """``UPBENCH_FORCE_CUDA`` as ``"1"``, ``"0"`` or None (unset / anything else: automatic)."""
    v = os.environ.get("UPBENCH_FORCE_CUDA", "").strip()
    return v if v in ("0", "1") else None


def cuda_choice() -> tuple[bool, str]:
    """(build the CUDA sources?, why).

    Raises:
        CudaSetupError: ``UPBENCH_FORCE_CUDA=1`` with a torch built without CUDA.
    """
    force = force_setting()
    if force == "0":
        return False, "UPBENCH_FORCE_CUDA=0"
    if torch.version.cuda is None:
        if force == "1":
            raise CudaSetupError(
                f"UPBENCH_FORCE_CUDA=1 but this torch ({torch.__version__}) was built without "
                "CUDA; install a CUDA build (e.g. `pip install torch==2.14.1 torchvision==0.29.1`)"
                " or unset UPBENCH_FORCE_CUDA")
        return False, f"torch {torch.__version__} has no CUDA"
    if force == "1":
        return True, "UPBENCH_FORCE_CUDA=1"
    if torch.cuda.is_available():
        return True, f"a GPU is visible ({torch.cuda.get_device_name(0)})"
    return False, ("no GPU is visible (UPBENCH_FORCE_CUDA=1 builds the CUDA kernels anyway)")


def is_toolkit_root(root: Path) -> bool:
    """True when ``root`` holds ``bin/nvcc`` and ``include/cuda_runtime.h``."""
    return (root / "bin" / "nvcc").is_file() and (root / "include" / "cuda_runtime.h").is_file()


def _nvcc_top(nvcc: str) -> Path | None:
    """The toolkit root ``nvcc --dryrun`` reports (``#$ TOP=...``), or None."""
    try:
        out = subprocess.run([nvcc, "--dryrun", "-x", "cu", "-c", os.devnull, "-o", os.devnull],
                             capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"^#\$ TOP=(.+)$", out.stdout + out.stderr, re.MULTILINE)
    return Path(m.group(1).strip()).resolve() if m else None


def find_cuda_home() -> Path:
    """The CUDA toolkit root (see the module docstring).

    Raises:
        CudaSetupError: naming every place looked at and how to fix it.
    """
    env = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")
    if env:
        root = Path(env).expanduser()
        if is_toolkit_root(root):
            return root
        raise CudaSetupError(f"CUDA_HOME={env} is not a CUDA toolkit (it needs bin/nvcc and "
                             "include/cuda_runtime.h); point it at the toolkit, e.g. "
                             "CUDA_HOME=/usr/local/cuda")
    looked = []
    nvcc = shutil.which("nvcc")
    if nvcc:
        for candidate in (Path(nvcc).resolve().parent.parent, _nvcc_top(nvcc)):
            if candidate is not None:
                root = candidate
                looked.append(str(root))
                if is_toolkit_root(root):
                    return root
    default = Path("/usr/local/cuda")
    looked.append(str(default))
    if is_toolkit_root(default):
        return default
    raise CudaSetupError(
        "no CUDA toolkit found (looked at " + ", ".join(looked)
        + (f"; nvcc on PATH: {nvcc}" if nvcc else "; no nvcc on PATH")
        + "): install the CUDA toolkit matching torch's CUDA "
        f"({torch.version.cuda}) and set CUDA_HOME to its root, or build without CUDA "
        "(UPBENCH_FORCE_CUDA=0)")


def cuda_arch_list() -> str:
    """``TORCH_CUDA_ARCH_LIST``, else the visible GPUs' capabilities, else ``8.0;9.0``."""
    env = os.environ.get("TORCH_CUDA_ARCH_LIST", "").strip()
    if env:
        return env
    if torch.cuda.is_available():
        caps = sorted({torch.cuda.get_device_capability(i)
                       for i in range(torch.cuda.device_count())})
        return ";".join(f"{a}.{b}" for a, b in caps)
    return DEFAULT_ARCHS


def import_cpp_extension(cuda_home: Path | None = None):
    """``torch.utils.cpp_extension`` with its ``CUDA_HOME`` set to ``cuda_home`` (it guesses the
    toolkit once at import, from nvcc's parent — wrongly where nvcc is a wrapper), and without
    its "No CUDA runtime is found" warning on machines without a GPU."""
    log = logging.getLogger("torch.utils.cpp_extension")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        from torch.utils import cpp_extension
    finally:
        log.setLevel(level)
    if cuda_home is not None:
        cpp_extension.CUDA_HOME = str(cuda_home)
    return cpp_extension


def torch_nvcc_flags() -> list[str]:
    """The flags ``torch.utils.cpp_extension`` always passes to nvcc (no implicit half
    conversions, relaxed constexpr)."""
    return list(import_cpp_extension().COMMON_NVCC_FLAGS)
