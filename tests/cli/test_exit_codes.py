"""Exit codes that tell the truth (issue 18, item 5): ``run`` exits 1 whenever the results
directory holds failed cells of the suite (skipped now or not); ``check`` exits 2, not 1 (the
regression code), on malformed results or baselines; any unexpected crash exits 2, Ctrl-C 130."""

from __future__ import annotations

import json

import pytest

from tests.cli.helpers import invoke
from tests.helpers.results import load, result, write_results


@pytest.fixture
def failing_training(monkeypatch):
    from upbench.engine import runner

    def train(*a, **k):
        raise RuntimeError("injected failure")

    monkeypatch.setattr(runner, "train", train)


def test_rerun_of_a_directory_whose_cells_all_failed_exits_1(suite, tmp_path, failing_training):
    out = tmp_path / "out"
    r = invoke("run", suite, "--out", out)
    assert r.exit_code == 1
    r = invoke("run", suite, "--out", out, "--json")  # every cell skipped: still failed
    assert r.exit_code == 1
    data = json.loads(r.stdout)
    assert data["exit_code"] == 1 and len(data["skipped"]) == 2 and not data["cells"]
    assert "failed in an earlier run" in " ".join(r.stderr.split())


def test_rerun_with_some_stored_failures_exits_1_even_when_new_cells_pass(suite, tmp_path,
                                                                         monkeypatch):
    from upbench.engine import runner

    out = tmp_path / "out"
    real = runner.train
    calls = {"n": 0}

    def train(model, *a, **k):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("injected failure")
        return real(model, *a, **k)

    monkeypatch.setattr(runner, "train", train)
    r = invoke("run", suite, "--out", out, "--only", "bilinear")
    assert r.exit_code == 1
    r = invoke("run", suite, "--out", out)  # bilinear skipped (failed), nearest runs fine
    assert r.exit_code == 1 and "--rerun-failed" in " ".join(r.output.split())
    r = invoke("run", suite, "--out", out, "--rerun-failed")
    assert r.exit_code == 0, r.output


def test_failures_of_other_suites_in_the_directory_do_not_count(suite, tmp_path):
    out = write_results(tmp_path / "out", [result("x", 0, 1.0, suite="other", status="failed")])
    r = invoke("run", suite, "--out", out, "--only", "bilinear")
    assert r.exit_code == 0, r.output


MALFORMED_RESULTS = {
    "hash is a list": lambda r: r.update(hash=["a"]),
    "seed is a string": lambda r: r.update(seed="0"),
    "label missing": lambda r: r.pop("label"),
    "metrics is a list": lambda r: r.update(metrics=[1, 2]),
    "flops is a number": lambda r: r.update(flops=3),
}


@pytest.mark.parametrize("case", list(MALFORMED_RESULTS))
def test_check_on_a_malformed_result_exits_2_naming_it(syn_baseline, tmp_path, case):
    baseline, seed0 = syn_baseline
    d = write_results(tmp_path / "r", seed0)
    f = min(d.glob("*.json"))
    rec = load(f)
    MALFORMED_RESULTS[case](rec)
    f.write_text(json.dumps(rec))
    r = invoke("check", d, "--baseline", baseline)
    assert r.exit_code == 2 and f.name in " ".join(r.output.split()), r.output
    assert "Traceback" not in r.output


MALFORMED_BASELINES = {
    "cells is a list": lambda b: b.update(cells=[1]),
    "a metric is a string": lambda b: b["cells"]["bilinear"]["metrics"].update(mIoU="high"),
    "tolerance is negative": lambda b: b["tolerances"]["mIoU"].update(abs=-1),
    "flops is a number": lambda b: b["cells"]["bilinear"].update(flops=7),
    "seed is a string": lambda b: b.update(seed="zero"),
    "environment is a string": lambda b: b.update(environment="cpu"),
    "not UTF-8": None,
    "the schema only": lambda b: [b.pop(k) for k in list(b) if k != "schema"],
}


@pytest.mark.parametrize("case", list(MALFORMED_BASELINES))
def test_check_on_a_malformed_baseline_exits_2(syn_baseline, tmp_path, case):
    baseline, seed0 = syn_baseline
    d = write_results(tmp_path / "r", seed0)
    if MALFORMED_BASELINES[case] is None:
        baseline.write_bytes(b'{"schema": "upbench.baseline/1", "suite": "\xff\xfe"}')
    else:
        data = load(baseline)
        MALFORMED_BASELINES[case](data)
        baseline.write_text(json.dumps(data))
    r = invoke("check", d, "--baseline", baseline)
    assert r.exit_code == 2, (case, r.output)
    assert "Traceback" not in r.output and str(baseline.name) in r.output


def test_an_unexpected_crash_exits_2_not_1(syn_baseline, tmp_path, monkeypatch):
    from upbench.engine import compare

    def boom(*a, **k):
        raise ZeroDivisionError("unanticipated")

    monkeypatch.setattr(compare, "aggregate", boom)
    r = invoke("compare", tmp_path / "base")
    assert r.exit_code == 2 and "internal error" in r.output and "ZeroDivisionError" in r.output


def test_ctrl_c_exits_130(syn_baseline, tmp_path, monkeypatch):
    from upbench.engine import compare

    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(compare, "aggregate", interrupt)
    r = invoke("compare", tmp_path / "base")
    assert r.exit_code == 130
