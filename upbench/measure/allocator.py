"""glibc's malloc thresholds, for the two ways upbench measures CPU calls.

* ``steady`` (timing): freed blocks of any size stay in the heap, so a call's fresh output reuses
  pages an earlier call already touched, as under jemalloc/tcmalloc (which
  ``torch.backends.xeon.run_cpu`` preloads) or CUDA's caching allocator. With glibc's defaults a
  block above the mmap threshold (32 MiB at most) is mapped fresh on every call and first touched
  one page fault at a time: on a VM that costs more than a large kernel's own arithmetic, and the
  time would measure the operating system, not the op.
* ``resident`` (peak memory, :mod:`upbench.measure.memory`): blocks >= 64 KiB are mapped and freed
  heap memory is trimmed, so memory freed by one call leaves the resident set.

Both only change glibc's thresholds (``mallopt``); elsewhere they do nothing and say so.
"""

from __future__ import annotations

import ctypes

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_POLICIES = {
    # (mmap threshold, trim threshold) in bytes
    "steady": (1 << 30, (1 << 31) - 1),
    "resident": (64 * 1024, 128 * 1024),
}
_libc: ctypes.CDLL | None = None
_policy = "system"


def _load_libc() -> ctypes.CDLL | None:
    global _libc
    if _libc is None:
        try:
            lib = ctypes.CDLL("libc.so.6")
            lib.mallopt  # noqa: B018 - glibc only
            lib.malloc_trim  # noqa: B018
            _libc = lib
        except (OSError, AttributeError):
            return None
    return _libc


def set_policy(name: str) -> str:
    """Apply policy ``"steady"``, ``"resident"`` or ``"system"`` (leave glibc as it is) to this
    process; returns the policy in effect (``"system"`` where glibc is absent or refuses)."""
    global _policy
    if name == "system":
        return _policy
    if name not in _POLICIES:
        raise ValueError(f"unknown allocator policy {name!r}; use one of steady, resident, system")
    lib = _load_libc()
    if lib is None:
        return _policy
    mmap_threshold, trim_threshold = _POLICIES[name]
    if lib.mallopt(_M_MMAP_THRESHOLD, mmap_threshold) == 1 and \
            lib.mallopt(_M_TRIM_THRESHOLD, trim_threshold) == 1:
        _policy = name
    return _policy


def policy() -> str:
    """The policy this process runs with: ``steady``, ``resident`` or ``system``."""
    return _policy


def trim() -> None:
    """Return freed heap memory to the system (glibc's ``malloc_trim``); no-op elsewhere."""
    lib = _load_libc()
    if lib is not None:
        lib.malloc_trim(0)
