"""The allocator policies of upbench.measure.allocator, each in a fresh process (a policy changes
its whole process)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from upbench.measure import allocator

_PROBE = r"""
import json, resource, sys, torch
from upbench.measure import allocator
policy = allocator.set_policy(sys.argv[1])
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):  # warm-up: the heap grows until freed blocks coalesce (aligned allocations
    torch.empty(40 * 2**20 // 4).fill_(1.0)  # ask a little more than the block they freed)
before = faults()
for _ in range(5):
    torch.empty(40 * 2**20 // 4).fill_(1.0)  # a fresh 40 MiB output, written in full
print(json.dumps({"policy": policy, "faults": (faults() - before) / 5}))
"""


def _probe(policy: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _PROBE, policy], capture_output=True, text=True,
                         check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_steady_policy_reuses_touched_pages():
    steady, system = _probe("steady"), _probe("system")
    assert steady["policy"] == "steady" and system["policy"] == "system"
    # glibc's default maps every 40 MiB block afresh: thousands of first-touch faults per call
    # (hundreds even with huge pages); the steady heap hands back pages already touched
    assert steady["faults"] < 50, steady
    assert system["faults"] > 10 * max(steady["faults"], 1), (steady, system)


def test_unknown_policy_is_refused_and_changes_nothing():
    before = allocator.policy()
    with pytest.raises(ValueError, match="steady, resident, system"):
        allocator.set_policy("fastest")
    assert allocator.policy() == before
