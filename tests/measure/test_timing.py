"""time_interleaved's warm-up per round (rewarm)."""

from __future__ import annotations

import time

from upbench.measure import timing
from upbench.measure.timing import time_interleaved


def test_rewarm_runs_untimed_calls_before_every_timed_one():
    calls = {"a": 0, "b": 0}

    def make(name):
        def fn():
            calls[name] += 1
        return fn

    time_interleaved({"a": make("a"), "b": make("b")}, repeats=5, warmup=2, rewarm=True)
    # fast calls: REWARM_CALLS untimed + 1 timed per round, after the warm-ups
    assert calls == {k: 2 + 5 * (timing.REWARM_CALLS + 1) for k in calls}


def test_rewarm_stops_early_for_slow_calls():
    calls = []

    def slow():
        calls.append(1)
        time.sleep(timing.REWARM_S * 1.2)

    time_interleaved({"slow": slow}, repeats=3, warmup=1, rewarm=True)
    assert len(calls) == 1 + 3 * 2  # one untimed call already took REWARM_S


def test_no_rewarm_by_default():
    n = []
    time_interleaved({"f": lambda: n.append(1)}, repeats=4, warmup=2)
    assert len(n) == 6
