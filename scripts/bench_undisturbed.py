"""Timings that show no measurement disturbs the process that times (issue 17 item 3; the
tests check the mechanism, tests/measure/test_undisturbed.py, this measures the effect).

Run: ``python scripts/bench_undisturbed.py`` (about a minute on 2 cores). Prints

* the median latency of a small conv net before and after an isolated memory measurement (and,
  for contrast, after an in-process one in a fresh process: the allocator setting it leaves
  behind made later calls up to 2x slower);
* the latency ratio carafe / reference of a tiny suite run in both cell orders.

Expect ``after/before`` near 1.0 for the isolated measurement and the two order ratios within
noise of each other; on a loaded machine the absolute numbers move, which is why this is a
benchmark and not a test.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

_BEFORE_AFTER = r"""
import json, sys, torch
from upbench.measure.memory import isolated_peak_memory_bytes, peak_memory_bytes
from upbench.measure.timing import time_interleaved
torch.set_num_threads(1)
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(),
                            torch.nn.Conv2d(32, 16, 3, padding=1)).eval()
x = torch.randn(1, 16, 96, 96)
measure = isolated_peak_memory_bytes if sys.argv[1] == "isolated" else peak_memory_bytes
with torch.no_grad():
    time_interleaved({"m": lambda: model(x)}, repeats=5, warmup=5)
    before = time_interleaved({"m": lambda: model(x)}, repeats=15, warmup=3)["m"].median
    measure(lambda: model(x))
    after = time_interleaved({"m": lambda: model(x)}, repeats=15, warmup=3)["m"].median
print(json.dumps({"before_ms": before * 1e3, "after_ms": after * 1e3}))
"""

SUITE = """\
name: order
input_size: [64, 64]
dataset: {num_classes: 3, train_size: 4, val_size: 2}
model: {widths: [8, 8, 16, 16], decoder_channels: 8}
train: {iterations: 1, batch_size: 2}
upsamplers: ORDER
threads: 1
profile: {flops: false, latency_size: [128, 128], latency_repeats: 9, latency_warmup: 2,
          memory: true}
"""


def before_after(how: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _BEFORE_AFTER, how], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def order_ratios() -> list[float]:
    from upbench.engine import expand, load_suite
    from upbench.engine.runner import run_suite

    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        for order in ("[nearest, carafe]", "[carafe, nearest]"):
            p = Path(tmp) / "s.yaml"
            p.write_text(SUITE.replace("ORDER", order))
            suite = load_suite(p)
            res = {r["label"]: r for r in run_suite(suite, expand(suite), Path(tmp) / order
                                                    ).results}
            ratios.append(res["carafe"]["speed"]["ratio"])
    return ratios


def main() -> None:
    torch.set_num_threads(1)
    for how in ("isolated", "in-process"):
        r = before_after(how)
        print(f"memory measured {how:10}: before {r['before_ms']:.3f} ms, after "
              f"{r['after_ms']:.3f} ms, after/before {r['after_ms'] / r['before_ms']:.2f}")
    a, b = order_ratios()
    print(f"carafe latency ratio: order nearest,carafe {a:.3f}; carafe,nearest {b:.3f}; "
          f"quotient {a / b:.2f}")


if __name__ == "__main__":
    main()
