"""Honest measurement: timing with warm-up and interleaved repeats, peak memory, probes."""
