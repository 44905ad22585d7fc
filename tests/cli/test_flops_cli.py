"""``upbench flops --baseline`` (slot table, conventions, parameter counts) and
``upbench baselines``."""

from __future__ import annotations

import json

from click.testing import CliRunner

from upbench.cli.main import cli


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def flops_json(*args):
    r = invoke("flops", *args, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_slot_table_and_mmcv_convention():
    data = flops_json("--baseline", "seg", "--upsampler", "sapa-b", "--size", "64x64",
                      "--convention", "mmcv")
    assert data["convention"] == "mmcv" and data["baseline"] == "seg"
    slots = data["slot_table"]
    assert [s["name"] for s in slots] == data["slots"] == ["up.0", "up.1", "up.2"]
    for s in slots:
        assert s["upsampler"] == "sapa-b" and s["scale"] == 2
        assert s["in_channels"] > 0 and s["guide_channels"] > 0 and s["params"] > 0
    # the slots' FLOPs are the upsampler share; each slot works at twice the previous resolution
    assert sum(s["flops"] for s in slots) == data["flops_upsampler"] > 0
    assert slots[0]["flops"] < slots[1]["flops"] < slots[2]["flops"]
    assert sum(s["params"] for s in slots) == data["params_upsampler"]
    assert data["uncounted_modules"].get("LayerNorm") == 6  # two per SAPA-B, as mmcv 1.2
    fv = flops_json("--baseline", "seg", "--upsampler", "sapa-b", "--size", "64x64")
    assert fv["convention"] == "fvcore" and fv["flops_total"] != data["flops_total"]


def test_table_output_and_deprecated_model_alias():
    r = invoke("flops", "--model", "seg", "--upsampler", "carafe", "--size", "64x64")
    assert r.exit_code == 0, r.output
    assert "--model is deprecated; use --baseline seg" in r.stderr
    out = r.stdout
    assert out.index("upsampler slots") < out.index("total (fvcore)")
    assert "guide ch" in out and "up.2" in out
    r = invoke("flops", "--baseline", "seg", "--model", "bts")
    assert r.exit_code == 2 and "--model is its deprecated alias" in r.output


def test_params_trainable_and_bad_names():
    data = flops_json("--baseline", "seg", "--size", "64x64", "--params", "trainable")
    assert data["params_counted"] == "trainable"
    assert data["params_total"] == data["params_trainable"] > 0
    r = invoke("flops", "--baseline", "sgformer")
    assert r.exit_code == 2 and "seg" in r.output
    r = invoke("flops", "--baseline", "seg", "--convention", "ptflops")
    assert r.exit_code == 2


def test_baselines_lists_every_task():
    r = invoke("baselines", "--json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    from upbench.tasks import TASKS

    assert {(x["task"], x["name"]) for x in rows} == {
        (t.name, b) for t in TASKS.values() for b in t.baseline_names}
    seg = next(x for x in rows if x["name"] == "seg")
    assert seg["kind"] == "tiny" and seg["flops_size"] == [512, 512]
    assert [s["name"] for s in seg["slots"]] == ["up.0", "up.1", "up.2"]
    assert all(s["guide_channels"] for s in seg["slots"]) and seg["slots_of"] == "sapa-b"
    r = invoke("baselines", "--task", "depth", "--no-slots")
    assert r.exit_code == 0 and "bts" in r.stdout
    assert invoke("baselines", "--task", "dpeth").exit_code == 2
