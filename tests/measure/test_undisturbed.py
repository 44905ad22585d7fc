"""No measurement disturbs the process that times (issue 17 item 3), checked by its mechanism,
never by a clock: a memory measurement runs in a forked child, so the caller's allocator policy
and its page-reuse behaviour stay as they were, and a suite's cells give the same results in
either order. The timings themselves are in ``scripts/bench_undisturbed.py``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from upbench.measure import allocator
from upbench.measure.memory import isolated_peak_memory_bytes

# In a fresh process (a policy changes its whole process): the "steady" policy, then a memory
# measurement — isolated or in-process — then the page faults of fresh 40 MiB outputs. The steady
# heap hands back touched pages (a few faults per call); the "resident" policy that an in-process
# measurement switches to maps every block afresh (thousands of faults per call), which is what
# made latencies measured after a memory probe up to 2x slower.
_PROBE = r"""
import json, resource, sys, torch
from upbench.measure import allocator
from upbench.measure.memory import isolated_peak_memory_bytes, peak_memory_bytes
allocator.set_policy("steady")
x = torch.randn(1, 16, 96, 96)
conv = torch.nn.Conv2d(16, 32, 3, padding=1)
measure = isolated_peak_memory_bytes if sys.argv[1] == "isolated" else peak_memory_bytes
with torch.no_grad():
    peak = measure(lambda: conv(x))
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    torch.empty(40 * 2**20 // 4).fill_(1.0)
before = faults()
for _ in range(5):
    torch.empty(40 * 2**20 // 4).fill_(1.0)
print(json.dumps({"policy": allocator.policy(), "peak": peak, "faults": (faults() - before) / 5}))
"""


def _probe(how: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _PROBE, how], capture_output=True, text=True,
                         check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt, /proc")
def test_a_memory_measurement_leaves_the_allocator_as_it_was():
    isolated, in_process = _probe("isolated"), _probe("in-process")
    assert isolated["peak"] and isolated["peak"] > 96 * 96 * 32 * 4  # the hidden activation
    # isolated: the caller keeps its policy (what the policy does to page reuse, and so to
    # latency, is tests/measure/test_allocator.py; fault counts of a loaded machine vary)
    assert isolated["policy"] == "steady", isolated
    # the same measurement in-process switches it (so the check above can fail)
    assert in_process["policy"] == "resident", in_process


def test_an_isolated_measurement_changes_nothing_here():
    before = allocator.policy()
    model = torch.nn.Conv2d(16, 32, 3, padding=1).eval()
    with torch.no_grad():
        peak = isolated_peak_memory_bytes(lambda: model(torch.randn(1, 16, 64, 64)))
    assert peak is not None and allocator.policy() == before


def test_the_child_measures_what_the_parent_would():
    from upbench.measure.memory import peak_memory_bytes

    x = torch.zeros(1)
    # 64 MiB allocated inside the call: both see it (the parent's own number, measured last,
    # is the one that changes its allocator settings)
    child = isolated_peak_memory_bytes(lambda: torch.ones(16 * 2**20) + x)
    assert child is not None and 60 * 2**20 < child < 200 * 2**20
    assert peak_memory_bytes(lambda: torch.ones(16 * 2**20) + x) == pytest.approx(child, rel=0.5)


SUITE = """\
name: order
input_size: [64, 64]
dataset: {num_classes: 3, train_size: 4, val_size: 2}
model: {widths: [8, 8, 16, 16], decoder_channels: 8}
train: {iterations: 1, batch_size: 2}
upsamplers: ORDER
threads: 1
profile: {flops: false, latency_size: [64, 64], latency_repeats: 2, latency_warmup: 1,
          memory: true}
"""


def test_the_cell_order_changes_no_result_and_leaves_the_driver_as_it_was(tmp_path):
    from upbench.engine import expand, load_suite
    from upbench.engine.runner import run_suite

    before = allocator.policy()
    runs = []
    for order in ("[nearest, carafe]", "[carafe, nearest]"):
        p = tmp_path / "s.yaml"
        p.write_text(SUITE.replace("ORDER", order))
        suite = load_suite(p)
        runs.append({r["label"]: r for r in run_suite(suite, expand(suite), tmp_path / order
                                                      ).results})
        assert allocator.policy() == before  # the memory measurements ran in children
    for label in ("nearest", "carafe"):
        a, b = runs[0][label], runs[1][label]
        assert a["metrics"] == b["metrics"] and a["train"]["loss_curve"] == b["train"]["loss_curve"]
        assert a["memory"]["method"].startswith("cpu_rss_growth (forked child")
        assert a["speed"]["repeats"] == b["speed"]["repeats"] == 2
