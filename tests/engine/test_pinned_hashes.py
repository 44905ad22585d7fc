"""Config hashes of the suites as they were before the task-generic engine (pinned).

Result directories and ``results/baselines/`` identify cells by these hashes: an engine change
that alters any of them would make every stored result look unfinished. The suite files are
frozen copies in ``tests/engine/pinned/``; ``hashes.json`` holds their cells' hashes.
``changed.json`` lists the cells whose meaning was changed on purpose since (with the reason):
they must have their new hash, every other cell its old one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from upbench.engine import expand, load_suite

PINNED = Path(__file__).parent / "pinned"
HASHES = json.loads((PINNED / "hashes.json").read_text())
CHANGED = json.loads((PINNED / "changed.json").read_text())["cells"]


@pytest.mark.parametrize("name", sorted(HASHES))
def test_cell_hashes_are_unchanged(name):
    cells = expand(load_suite(PINNED / f"{name}.yaml"))
    got = {f"{c.label}@{c.seed}": c.hash for c in cells}
    want = HASHES[name] | CHANGED.get(name, {})
    assert all(HASHES[name][k] != v for k, v in CHANGED.get(name, {}).items())
    # cells of upsamplers registered later may be added; every pinned cell keeps its hash
    assert {k: got.get(k) for k in want} == want
