"""The CPU numerics of a cell: its thread count and what happens to denormal numbers.

A float32 smaller than 1.18e-38 is *denormal*; x86 and ARM cores compute on denormals many times
slower than on normal numbers. Training can drift into them: in the depth quick suite CARAFE's
and FADE's mask-encoder gradients do after about a hundred iterations, and oneDNN's convolution
backward then takes 2.7 ms a call instead of 0.7 ms — the whole cell trained in 31.4 s instead
of 12.9 s (docs/benchmarks.md). ``denormals: flush`` (suite key) sets flush-to-zero and
denormals-are-zero, as GPUs' fast paths and many CPU training setups do; ``keep`` (the default,
PyTorch's own) leaves them.

``torch.set_flush_denormal`` sets only the calling thread, and an intra-op thread keeps the
state of the thread that created it, so a process whose thread pool already exists would flush
on one thread and not the others. :func:`set_flush` uses the native library's hook that sets
every intra-op thread, and :func:`probe` checks the result on all of them: what a result records
is what was in effect, never only what was asked.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

DENORMAL_MODES = ("keep", "flush")

# elements per intra-op thread in the probe: above ATen's grain size (32768), so every thread
# computes a chunk
_PROBE_PER_THREAD = 1 << 16


def probe() -> float:
    """The fraction of a parallel float32 product with a denormal result that came out zero:
    1.0 when every intra-op thread flushes denormals, 0.0 when none does."""
    n = max(1, torch.get_num_threads()) * _PROBE_PER_THREAD
    y = torch.full((n,), 1e-30, dtype=torch.float32) * 1e-10  # 1e-40: denormal
    return float((y == 0).float().mean())


def set_flush(on: bool) -> None:
    """Flush denormals (``on``) or keep them, on the calling thread and every intra-op thread
    (through the native library when it is loaded; else on the calling thread only, which
    :func:`probe` then shows)."""
    from upbench.ops import native_available

    if native_available():
        torch.ops.upbench._set_flush_denormal(on)
    else:
        torch.set_flush_denormal(on)


def describe(mode: str, flushed: float) -> str:
    """What a result records: ``mode`` when it is in effect on every thread, else what is."""
    if mode == "keep":
        return "keep" if flushed == 0.0 else f"keep (yet {flushed:.0%} flushed)"
    if flushed == 1.0:
        return "flush"
    if flushed == 0.0:
        return "keep (this CPU cannot flush denormals)"
    return f"flush on {flushed:.0%} of the threads' work (the others keep denormals)"


@contextlib.contextmanager
def cpu_numerics(threads: int | None, denormals: str = "keep") -> Iterator[dict[str, object]]:
    """Run the body with ``threads`` intra-op threads (None: unchanged) and denormals flushed
    or kept; yields what is in effect (``{"threads": n, "denormals": describe(...)}``) and
    restores the thread count and the flushing state (all threads) afterwards.

    Raises:
        ValueError: ``denormals`` is not one of :data:`DENORMAL_MODES`.
    """
    if denormals not in DENORMAL_MODES:
        raise ValueError(f"denormals must be one of {DENORMAL_MODES}, got {denormals!r}")
    old_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    was_flushing = probe() == 1.0
    try:
        set_flush(denormals == "flush")
        yield {"threads": torch.get_num_threads(),
               "denormals": describe(denormals, probe())}
    finally:
        set_flush(was_flushing)
        torch.set_num_threads(old_threads)


__all__ = ["DENORMAL_MODES", "cpu_numerics", "describe", "probe", "set_flush"]
