"""The engine on a tiny fake task (lower-is-better primary metric, two model inputs): suite
sections, the runner, picklable cells, compare and the gate are driven by the Task alone."""

from __future__ import annotations

import copy
import pickle

import pytest

from tests.engine.fake_task import SUITE, registered
from upbench.engine import ConfigError, expand, load_suite
from upbench.engine.compare import aggregate, display_rows, render
from upbench.engine.results import load_results
from upbench.engine.runner import run_cell, run_suite
from upbench.gate import build_baseline, check_results


@pytest.fixture
def fake(tmp_path):
    with registered():
        p = tmp_path / "fake.yaml"
        p.write_text(SUITE)
        yield p


def test_sections_come_from_the_task(fake, tmp_path):
    suite = load_suite(fake)
    assert suite.baseline == "tiny" and suite.dataset.train_size == 8 and suite.model.width == 4
    bad = tmp_path / "bad.yaml"
    bad.write_text(SUITE.replace("train_size: 8", "train_sise: 8"))
    with pytest.raises(ConfigError, match="dataset.train_sise.*train_size"):
        load_suite(bad)
    bad.write_text(SUITE.replace("task: fake", "task: fak"))
    with pytest.raises(ConfigError, match="unknown task 'fak'.*did you mean 'fake'"):
        load_suite(bad)
    bad.write_text(SUITE + "baseline: seg\n")
    with pytest.raises(ConfigError, match="baseline.*tiny"):
        load_suite(bad)
    bad.write_text(SUITE.replace("[16, 16]", "[15, 16]"))
    with pytest.raises(ConfigError, match="multiples of 2"):
        load_suite(bad)


def test_run_compare_and_gate(fake, tmp_path):
    suite = load_suite(fake, seeds=[0, 1])
    cells = expand(suite)
    summary = run_suite(suite, cells, tmp_path / "out")
    assert summary.exit_code == 0
    recs = load_results(tmp_path / "out")
    assert len(recs) == 6 and all(r["status"] == "ok" for r in recs)
    r = recs[0]
    assert r["task"] == "fake" and set(r["metrics"]) == {"err", "acc"}
    assert r["flops"]["total"] > 0 and r["flops"]["unsupported_ops"] == {}
    assert r["latency"]["input_size"] == [16, 16] and set(r["train"]["final_loss_terms"]) == {"l2"}

    rows, warnings = aggregate(recs)
    assert not warnings
    assert rows[0]["upsampler"] == "nearest"  # the task's reference first
    assert all(x["reference"] == "nearest" for x in rows)
    assert rows[0]["derr"] == 0 and "derr" in rows[1] and "dacc" not in rows[1]
    cols, _ = display_rows(rows)
    assert "err ↓" in cols and "acc ↑" in cols and "Δerr" in cols
    assert "fake (suite fake-suite): deltas vs nearest" in render(rows, "markdown")

    # the gate: a rise of a lower-is-better metric beyond its tolerance is the regression
    base = build_baseline(recs, "nearest")
    assert set(base.tolerances) == {"err", "acc"} and base.tolerances["err"]["abs"] >= 0.01
    rows_, code = check_results(recs, base)
    assert code == 0
    worse = copy.deepcopy(recs)
    tol = base.tolerances["err"]["abs"]
    for x in worse:
        if x["label"] == "bilinear":
            x["metrics"]["err"] += 2 * tol
    rows_, code = check_results(worse, base)
    bad = [x for x in rows_ if x.verdict == "REGRESSION"]
    assert code == 1 and [(x.cell, x.quantity) for x in bad] == [("bilinear", "err")]
    assert bad[0].tolerance.startswith("+")
    better = copy.deepcopy(recs)
    for x in better:
        x["metrics"]["err"] -= 2 * tol
    rows_, code = check_results(better, base)
    assert code == 0 and {x.detail for x in rows_ if x.quantity == "err"} == {"better"}


def test_a_cell_is_a_picklable_unit(fake):
    cell = expand(load_suite(fake))[1]
    again = pickle.loads(pickle.dumps(cell))
    a, b = run_cell(cell), run_cell(again)
    assert a["status"] == b["status"] == "ok" and a["hash"] == b["hash"] == cell.hash
    assert a["metrics"] == b["metrics"]  # training is deterministic for a seed on one machine
