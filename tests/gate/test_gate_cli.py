"""``upbench check`` end to end: a real tiny suite run, a baseline built from it, and the failure
paths — changed FLOPs, a metric dropped beyond tolerance, a slowed operator (its measured ratio
samples doubled), corrupt or missing files, mismatched suites."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from tests.cli.helpers import invoke
from upbench.upsamplers import Upsampler, register_upsampler
from upbench.upsamplers._registry import _REGISTRY

SUITE = """\
name: gate-tiny
input_size: [32, 32]
dataset: {num_classes: 4, train_size: 8, val_size: 4}
model: {widths: [8, 8, 8, 8], decoder_channels: 8}
train: {iterations: 3, batch_size: 4, eval_batch_size: 4}
upsamplers: [bilinear, test-delay]
profile: {latency_repeats: 2, latency_warmup: 1, memory: false, speed_reference: bilinear,
          speed_repeats: 12}
metrics: {trimap_widths: [1]}
threads: 1
"""


@pytest.fixture(scope="module", autouse=True)
def delay_upsampler():
    """A test-only upsampler: bilinear under another name (a second cell with speed samples)."""

    @register_upsampler("test-delay")
    class DelayUpsampler(Upsampler):
        """Bilinear upsampling registered as a separate upsampler (tests of the speed gate)."""

        def forward(self, x, guide=None):
            self.check_input(x, guide)
            return torch.nn.functional.interpolate(x, scale_factor=self.scale, mode="bilinear")

    yield
    del _REGISTRY["test-delay"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, delay_upsampler):
    """A baseline from seeds 0 and 1, and a fresh seed-0 result set."""
    tmp = tmp_path_factory.mktemp("gate")
    suite = tmp / "gate.yaml"
    suite.write_text(SUITE)
    r = invoke("run", suite, "--out", tmp / "base", "--seeds", "0,1")
    assert r.exit_code == 0, r.output
    baseline = tmp / "baseline.json"
    r = invoke("check", tmp / "base", "--baseline", baseline, "--update")
    assert r.exit_code == 0, r.output
    r = invoke("run", suite, "--out", tmp / "again", "--seeds", "0")
    assert r.exit_code == 0, r.output
    return {"tmp": tmp, "suite": suite, "baseline": baseline, "again": tmp / "again"}


def _check(results, baseline, *extra):
    r = invoke("check", results, "--baseline", baseline, "--json", *extra)
    return r.exit_code, json.loads(r.stdout)


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def _edit(d, label, fn):
    for f in d.glob("*.json"):
        rec = json.loads(f.read_text())
        if rec["label"] == label:
            fn(rec)
            f.write_text(json.dumps(rec))


def test_baseline_states_tolerances_from_the_seed_spread(runs):
    data = json.loads(runs["baseline"].read_text())
    assert data["schema"] == "upbench.baseline/1" and data["suite"] == "gate-tiny"
    assert set(data["cells"]) == {"bilinear", "test-delay"}
    tol = data["tolerances"]["mIoU"]
    assert tol["seeds"] == [0, 1] and tol["abs"] >= 0.5 and "pooled seed-to-seed std" in tol["rule"]
    assert data["cells"]["test-delay"]["speed"]["ratio_samples"]


QUIET = [1.0 + 0.01 * ((7 * i) % 12 - 6) for i in range(12)]  # constructed ratios: 0.94-1.05


def _quiet_speed(runs, tmp_path, slow: dict[str, float] | None = None):
    """The rerun and a copy of the baseline with constructed speed samples (the measured ones
    of a loaded machine may differ by anything): every cell at QUIET, ``slow``'s cells times
    their factor in the rerun. Returns (results dir, baseline file)."""
    base = json.loads(runs["baseline"].read_text())
    for cell in base["cells"].values():
        cell["speed"].update(ratio=1.0, ratio_samples=QUIET)
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps(base))
    d = _copy(runs["again"], tmp_path / "r")
    for f in d.glob("*.json"):
        rec = json.loads(f.read_text())
        k = (slow or {}).get(rec["label"], 1.0)
        rec["speed"].update(ratio=k * 1.0, ratio_samples=[k * x for x in reversed(QUIET)])
        f.write_text(json.dumps(rec))
    return d, baseline


def test_equal_results_pass(runs, tmp_path):
    d, baseline = _quiet_speed(runs, tmp_path)
    code, out = _check(d, baseline)
    assert code == 0, out
    quantities = {r["quantity"] for r in out["rows"]}
    assert {"flops.total", "params.upsampler", "mIoU", "speed_ratio"} <= quantities
    assert all(r["verdict"] == "ok" for r in out["rows"])


def test_changed_flops_fails_with_the_row_named(runs, tmp_path):
    d = _copy(runs["again"], tmp_path / "r")
    _edit(d, "test-delay", lambda rec: rec["flops"].update(total=rec["flops"]["total"] + 1))
    code, out = _check(d, runs["baseline"])
    assert code == 1
    bad = [(r["cell"], r["quantity"]) for r in out["rows"] if r["verdict"] == "REGRESSION"]
    assert bad == [("test-delay", "flops.total")]


def test_metric_drop_beyond_tolerance_fails(runs, tmp_path):
    tol = json.loads(runs["baseline"].read_text())["tolerances"]["mIoU"]["abs"]
    d = _copy(runs["again"], tmp_path / "r")
    _edit(d, "bilinear", lambda rec: rec["metrics"].update(mIoU=rec["metrics"]["mIoU"] - 2 * tol))
    code, out = _check(d, runs["baseline"])
    assert code == 1
    bad = [(r["cell"], r["quantity"]) for r in out["rows"] if r["verdict"] == "REGRESSION"]
    assert bad == [("bilinear", "mIoU")]
    # a drop within the seed-spread tolerance passes from another environment (another torch)...
    d2 = _copy(runs["again"], tmp_path / "r2")

    def other_env(rec):
        rec["metrics"].update(mIoU=rec["metrics"]["mIoU"] - tol / 2)
        rec["env"]["torch"] = "0.0-other"

    _edit(d2, "bilinear", other_env)
    code, out = _check(d2, runs["baseline"])
    assert code == 0 and {r["env"] for r in out["rows"] if r["quantity"] == "mIoU"} == {
        "same env", "other env"}
    # ...but not as a rerun in the baseline's environment, where training is deterministic
    d3 = _copy(runs["again"], tmp_path / "r3")
    _edit(d3, "bilinear", lambda rec: rec["metrics"].update(mIoU=rec["metrics"]["mIoU"] - tol / 2))
    code, out = _check(d3, runs["baseline"])
    assert code == 1 and [r["env"] for r in out["rows"] if r["verdict"] == "REGRESSION"] == [
        "same env"]


def test_slowed_operator_fails_on_the_speed_row(runs, tmp_path):
    # a constructed 2x slowdown of one cell: its ratio samples doubled (the measured effect of a
    # really slowed op is scripts/gate_slowdown.py; tests use no clock)
    d, baseline = _quiet_speed(runs, tmp_path, slow={"test-delay": 2.0})
    code, out = _check(d, baseline)
    assert code == 1
    bad = [(r["cell"], r["quantity"]) for r in out["rows"] if r["verdict"] == "REGRESSION"]
    assert bad == [("test-delay", "speed_ratio")]
    assert out["speed"]["compared"]  # the same machine: speed is judged
    # a higher threshold than the slowdown lets it pass
    assert _check(d, baseline, "--factor", "1000")[0] == 0


def test_missing_and_corrupt_files_exit_2(runs, tmp_path):
    r = invoke("check", tmp_path / "nope", "--baseline", runs["baseline"])
    assert r.exit_code == 2 and "no such results directory" in r.output
    r = invoke("check", runs["again"], "--baseline", tmp_path / "missing.json")
    assert r.exit_code == 2 and "does not exist" in r.output
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text("{not json")
    r = invoke("check", runs["again"], "--baseline", corrupt)
    assert r.exit_code == 2 and "not valid JSON" in r.output
    d = _copy(runs["again"], tmp_path / "r")
    next(d.glob("*.json")).write_text('{"schema": "upbench.result/1", "trunc')
    r = invoke("check", d, "--baseline", runs["baseline"])
    assert r.exit_code == 2 and "corrupt result file" in r.output


def test_mismatched_suite_exits_2(runs, tmp_path):
    d = _copy(runs["again"], tmp_path / "r")
    for f in d.glob("*.json"):
        rec = json.loads(f.read_text())
        rec["suite"] = "other"
        f.write_text(json.dumps(rec))
    r = invoke("check", d, "--baseline", runs["baseline"])
    assert r.exit_code == 2 and "baseline is for suite 'gate-tiny'" in r.output
    one = tmp_path / "one"
    one.mkdir()
    src = next(f for f in runs["again"].glob("*.json") if "bilinear" in f.name)
    shutil.copy(src, one)
    r = invoke("check", one, "--baseline", runs["baseline"])
    assert r.exit_code == 2 and "lack cells" in r.output


def test_update_says_what_changed(runs, tmp_path):
    baseline = tmp_path / "b.json"
    shutil.copy(runs["baseline"], baseline)
    d = _copy(runs["again"], tmp_path / "r")
    _edit(d, "test-delay", lambda rec: rec["params"].update(total=rec["params"]["total"] + 5))
    r = invoke("check", d, "--baseline", baseline, "--update")
    assert r.exit_code == 0
    assert "params.total" in r.output
    assert _check(d, baseline)[0] == 0
