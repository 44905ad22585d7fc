"""The sharper gate (:mod:`upbench.gate`, issue 18): a baseline records its environment; a rerun
in that environment (same torch, CPU, threads, compiler, native ops, device, config and seed) is
gated with the metric's tight rerun tolerance, anything else with the seed-spread tolerance — and
the table says which."""

from __future__ import annotations

import json

import pytest

from tests.cli.helpers import invoke
from tests.helpers.results import ENV, load, write_results
from upbench.gate import load_baseline
from upbench.gate.baseline import ENV_KEYS


def _check(d, baseline):
    r = invoke("check", d, "--baseline", baseline, "--json")
    return r.exit_code, json.loads(r.stdout)


def _miou_rows(out):
    return {r["cell"]: r for r in out["rows"] if r["quantity"] == "mIoU"}


def test_baseline_records_its_environment(syn_baseline):
    baseline, _ = syn_baseline
    data = load(baseline)
    assert data["environment"] == {k: ENV[k] for k in ENV_KEYS} | {"device": "cpu"}
    tol = data["tolerances"]["mIoU"]
    assert tol["rerun_abs"] == pytest.approx(0.01) and tol["abs"] > 9.5  # the seed spread
    assert all(c["hash"] for c in data["cells"].values())


def test_a_9_5_point_drop_fails_when_the_environment_matches(syn_baseline, tmp_path):
    baseline, seed0 = syn_baseline
    drop = [dict(r, metrics=dict(r["metrics"], mIoU=r["metrics"]["mIoU"] - 9.5))
            if r["label"] == "bilinear" else r for r in seed0]
    code, out = _check(write_results(tmp_path / "same", drop), baseline)
    rows = _miou_rows(out)
    assert code == 1 and rows["bilinear"]["verdict"] == "REGRESSION"
    assert rows["bilinear"]["env"] == "same env" and rows["bilinear"]["tolerance"] == "−0.01"
    assert out["environment"] == ["same env"]


def test_the_same_drop_passes_from_another_environment(syn_baseline, tmp_path):
    baseline, seed0 = syn_baseline
    tol = load(baseline)["tolerances"]["mIoU"]["abs"]
    for key, value in (("torch", "2.15.0"), ("cpu", "Other CPU"), ("threads", 4),
                       ("compiler", "clang 18"), ("native_ops", False), ("cuda", None)):
        other = [dict(r, env=dict(r["env"], **{key: value}),
                      metrics=dict(r["metrics"], mIoU=r["metrics"]["mIoU"] - 9.5))
                 for r in seed0]
        code, out = _check(write_results(tmp_path / f"other-{key}", other), baseline)
        rows = _miou_rows(out)
        assert code == 0, (key, out)
        assert {r["env"] for r in rows.values()} == {"other env"}, key
        assert rows["bilinear"]["tolerance"] == f"−{tol}"
    # another device, config hash or implementation is not a rerun either
    for change in ({"config": {"device": "cuda", "seed": 0}}, {"hash": "f" * 16},
                   {"impl": "reference"}):
        other = [dict(r, **change) for r in seed0]
        code, out = _check(write_results(tmp_path / f"other-{min(change)}", other), baseline)
        assert code == 0 and {r["env"] for r in _miou_rows(out).values()} == {"other env"}


def test_the_table_says_which_tolerance_applied(syn_baseline, tmp_path):
    baseline, seed0 = syn_baseline
    r = invoke("check", write_results(tmp_path / "same", seed0), "--baseline", baseline)
    text = " ".join(r.output.split())
    assert r.exit_code == 0 and "same env" in text and "tight rerun tolerance" in text
    other = [dict(x, env=dict(x["env"], torch="2.15.0")) for x in seed0]
    r = invoke("check", write_results(tmp_path / "other", other), "--baseline", baseline)
    text = " ".join(r.output.split())
    assert r.exit_code == 0 and "other env: seed-spread tolerance" in text and "2.15.0" in text


def test_an_old_baseline_without_environment_loads_and_uses_the_seed_spread(syn_baseline,
                                                                            tmp_path):
    baseline, seed0 = syn_baseline
    data = load(baseline)
    del data["environment"]
    for t in data["tolerances"].values():
        t.pop("rerun_abs"), t.pop("rerun_rule")
    for c in data["cells"].values():
        c.pop("hash")
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data))
    assert load_baseline(old).environment is None
    drop = [dict(r, metrics=dict(r["metrics"], mIoU=r["metrics"]["mIoU"] - 9.5)) for r in seed0]
    code, out = _check(write_results(tmp_path / "drop", drop), old)
    assert code == 0 and {r["env"] for r in _miou_rows(out).values()} == {"other env"}
    r = invoke("check", tmp_path / "drop", "--baseline", old)
    assert "the baseline records no environment" in r.output
