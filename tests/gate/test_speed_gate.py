"""The speed half of the gate (issue 25): it compares speed only against a baseline from the same
kind of machine, says so when it does not, and its test can flag a real slowdown at the suite's
repeat counts — checked with constructed ratio samples, never with a clock."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.cli.helpers import invoke
from tests.helpers.results import SPREAD, result, write_results
from upbench.engine.suite import ProfileConfig
from upbench.gate import build_baseline, check_results, load_baseline
from upbench.gate.baseline import DEFAULT_SPEED
from upbench.gate.check import min_p_value, speed_comparison, speed_test
from upbench.utils.schema import bounds_of

MACHINE = {"cpu": "Intel(R) Xeon(R) Processor", "isa": "x86_64 AVX2: avx avx2 fma",
           "cores": 2, "threads": 1, "gpu": None}
EPYC = MACHINE | {"cpu": "AMD EPYC 9R14", "isa": "x86_64 AVX512: avx avx2 avx512f fma"}


def _noise(rng, n, center=1.0, sigma=0.08):
    """Per-repeat latency ratios of a shared machine: log-normal scatter around ``center``."""
    return list(center * np.exp(rng.normal(0.0, sigma, n)))


def _min_repeats() -> int:
    return int(bounds_of(ProfileConfig)["speed_repeats"].ge)


def test_the_default_alpha_is_reachable_at_the_smallest_allowed_repeats():
    n = _min_repeats()
    assert n == 5 and min_p_value(5, 5) == pytest.approx(1 / 252)
    assert min_p_value(n, n) < DEFAULT_SPEED["alpha"]
    # every current sample above every scaled baseline sample: the exact test gives that minimum
    assert speed_test([2.0, 2.1, 2.2, 2.3, 2.4], [1.0, 1.01, 0.99, 1.02, 0.98], 1.25) == pytest.approx(
        1 / 252)


@pytest.mark.parametrize("n", [5, 15])
def test_a_2x_slowdown_is_flagged_and_noise_is_not(n):
    rng = np.random.default_rng(25)
    factor, alpha = DEFAULT_SPEED["factor"], DEFAULT_SPEED["alpha"]
    flagged_slow = flagged_noise = flagged_near = 0
    trials = 200
    for _ in range(trials):
        base = _noise(rng, n)
        flagged_slow += speed_test(_noise(rng, n, 2.0), base, factor) < alpha
        flagged_noise += speed_test(_noise(rng, n), base, factor) < alpha
        flagged_near += speed_test(_noise(rng, n, 1.1), base, factor) < alpha  # within factor
    assert flagged_slow == trials  # a real 2x slowdown: every time
    assert flagged_noise == 0 and flagged_near == 0


def _records(machine, slow: str | None = None, factor: float = 1.0, n: int = 5):
    """Seed 0-2 records of two cells with speed samples; ``slow``'s ratios times ``factor``."""
    rng = np.random.default_rng(7)
    recs = []
    for label, vals in SPREAD.items():
        for s, v in enumerate(vals):
            r = result(label, s, v)
            samples = _noise(rng, n, 1.3 if label == "carafe" else 1.0)
            if label == slow:
                samples = [x * factor for x in samples]
            r["speed"] = {"reference": "bilinear", "ratio": float(np.median(samples)),
                          "ratio_samples": samples}
            r["machine"] = dict(machine)
            recs.append(r)
    return recs


@pytest.fixture
def baseline(tmp_path):
    d = write_results(tmp_path / "base", _records(MACHINE))
    path = tmp_path / "baseline.json"
    r = invoke("check", d, "--baseline", path, "--update")
    assert r.exit_code == 0, r.output
    assert "machine: cpu=Intel(R) Xeon(R) Processor" in r.output
    return path


def _check(d, baseline, *extra):
    r = invoke("check", d, "--baseline", baseline, *extra)
    j = invoke("check", d, "--baseline", baseline, "--json", *extra)
    return r, json.loads(j.stdout)


def test_update_records_the_machine(baseline):
    data = json.loads(baseline.read_text())
    assert data["machine"] == MACHINE | {"device": "cpu"}
    assert data["speed"] == DEFAULT_SPEED


def test_a_2x_slowdown_of_one_op_on_the_same_machine_exits_1(baseline, tmp_path):
    d = write_results(tmp_path / "now", [r for r in _records(MACHINE, "carafe", 2.0)
                                         if r["seed"] == 0])
    r, out = _check(d, baseline)
    assert r.exit_code == 1, r.output
    bad = [(x["cell"], x["quantity"]) for x in out["rows"] if x["verdict"] == "REGRESSION"]
    assert bad == [("carafe", "speed_ratio")]
    assert out["speed"]["compared"] and "speed compared" in r.output
    # the same speed without the slowdown passes
    d2 = write_results(tmp_path / "same", [r for r in _records(MACHINE) if r["seed"] == 0])
    assert _check(d2, baseline)[0].exit_code == 0


def test_against_a_baseline_from_another_cpu_speed_is_not_compared(baseline, tmp_path):
    d = write_results(tmp_path / "epyc", [r for r in _records(EPYC, "carafe", 2.0)
                                          if r["seed"] == 0])
    r, out = _check(d, baseline)
    assert r.exit_code == 0, r.output
    assert "speed not compared" in r.output and "AMD EPYC 9R14" in r.output
    assert not out["speed"]["compared"]
    assert not [x for x in out["rows"] if x["quantity"] == "speed_ratio"]
    assert {"flops.total", "mIoU"} <= {x["quantity"] for x in out["rows"]}  # still checked
    # on request it compares anyway, and the slowdown shows
    r, out = _check(d, baseline, "--speed", "always")
    assert r.exit_code == 1 and "although the machines differ" in r.output


def test_an_old_baseline_without_a_machine_does_not_compare_speed(baseline, tmp_path):
    data = json.loads(baseline.read_text())
    del data["machine"]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data))
    d = write_results(tmp_path / "now", [r for r in _records(MACHINE, "carafe", 2.0)
                                         if r["seed"] == 0])
    r, _ = _check(d, old)
    assert r.exit_code == 0 and "records no machine" in r.output and "--update" in r.output


def test_a_blind_speed_rule_says_so():
    recs = _records(MACHINE, n=5)
    base = build_baseline(recs, "bilinear")
    base.speed = {"factor": 1.25, "alpha": 0.002}  # an older baseline's rule: 1/252 > 0.002
    rows, code = check_results([r for r in recs if r["seed"] == 0], base)
    speed = [r for r in rows if r.quantity == "speed_ratio"]
    assert code == 0 and speed and all("CANNOT FLAG" in r.detail for r in speed)


def test_the_machine_kind_ignores_the_gpu_of_a_cpu_suite_and_the_core_count():
    recs = _records(MACHINE)
    base = build_baseline(recs, "bilinear")
    other = [r | {"machine": MACHINE | {"gpu": "NVIDIA H100", "cores": 64}} for r in recs]
    assert speed_comparison(other, base)[0]
    threads = [r | {"machine": MACHINE | {"threads": 2}} for r in recs]
    same, why = speed_comparison(threads, base)
    assert not same and "threads 1 → 2" in why


def test_load_baseline_keeps_the_machine(baseline):
    assert load_baseline(baseline).machine["isa"] == MACHINE["isa"]
