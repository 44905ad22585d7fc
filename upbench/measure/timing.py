"""Latency measurement: warm-ups, then repeats interleaved across the candidates.

Interleaving (A B C A B C ...) spreads machine noise evenly over the candidates, so ratios
measured in one run are meaningful even where absolute times are not (docs/metrics.md, Speed).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch


@dataclass
class Timing:
    """Repeated latencies of one candidate, in seconds."""

    samples: list[float]

    @property
    def median(self) -> float:
        """Median latency."""
        return statistics.median(self.samples)

    @property
    def iqr(self) -> float:
        """Inter-quartile range of the latencies."""
        if len(self.samples) < 2:
            return 0.0
        q = statistics.quantiles(self.samples, n=4, method="inclusive")
        return q[2] - q[0]

    def as_dict(self) -> dict[str, float | list[float]]:
        """Median, IQR and the raw samples."""
        return {"median_s": self.median, "iqr_s": self.iqr, "samples_s": self.samples}


def _sync(device: torch.device | None) -> None:
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)


def time_interleaved(
    candidates: Mapping[str, Callable[[], object]],
    repeats: int = 7,
    warmup: int = 2,
    device: torch.device | None = None,
    rewarm: bool = False,
) -> dict[str, Timing]:
    """Time every candidate ``repeats`` times, interleaved (the order reversed every other
    repeat), after ``warmup`` untimed calls each.

    ``rewarm``: every timed call follows untimed calls of the same candidate (``REWARM_CALLS``,
    fewer where they already took ``REWARM_S``), so it runs in the steady state of repeated calls,
    inputs in cache as for an op inside a network (the previous layer just wrote them), not after
    the other candidates' calls evicted them (one call is not enough to recover from a
    reference's large temporaries: measured 0.69 ms, 0.54 ms after two, 0.45 ms after three).

    On CUDA every call is timed with CUDA events, the device synchronised before and after.
    """
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    _sync(device)
    samples: dict[str, list[float]] = {k: [] for k in candidates}
    order = list(candidates.items())
    for i in range(repeats):
        # A B C, C B A, ...: no candidate always runs first (caches, turbo, allocator state)
        for name, fn in order if i % 2 == 0 else order[::-1]:
            if rewarm:
                _rewarm(fn, device)
            samples[name].append(_time_one(fn, device))
    return {k: Timing(v) for k, v in samples.items()}


# untimed calls before each timed call with rewarm (see time_interleaved)
REWARM_CALLS = 3
REWARM_S = 0.02


def _rewarm(fn: Callable[[], object], device: torch.device | None) -> None:
    start = time.perf_counter()
    for _ in range(REWARM_CALLS):
        fn()
        _sync(device)
        if time.perf_counter() - start >= REWARM_S:
            break


def _time_one(fn: Callable[[], object], device: torch.device | None) -> float:
    """Seconds of one call: CUDA events on the current stream (the device synchronised before
    and after) on a GPU, ``perf_counter`` on the CPU."""
    if device is not None and device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize(device)
        start.record()
        fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0
