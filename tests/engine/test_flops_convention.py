"""A suite's ``profile.flops_convention``: recorded in every result, out of the cell hash at its
default."""

from __future__ import annotations

from upbench.engine import expand, load_suite
from upbench.engine.runner import run_cell

SUITE = """\
name: conv
input_size: [32, 32]
dataset: {num_classes: 3, train_size: 4, val_size: 2}
model: {widths: [4, 4, 4, 4], decoder_channels: 4}
train: {iterations: 1, batch_size: 2}
upsamplers: [carafe]
threads: 1
profile: {flops_size: [32, 32], latency: false, memory: false%s}
"""


def suite(tmp_path, extra=""):
    p = tmp_path / f"s{len(extra)}.yaml"
    p.write_text(SUITE % extra)
    return load_suite(p)


def test_default_convention_keeps_the_hash(tmp_path):
    default = expand(suite(tmp_path))[0]
    assert "flops_convention" not in default.config["profile"]
    assert expand(suite(tmp_path, ", flops_convention: fvcore"))[0].hash == default.hash
    mm = expand(suite(tmp_path, ", flops_convention: mmcv"))[0]
    assert mm.hash != default.hash and mm.config["profile"]["flops_convention"] == "mmcv"


def test_result_records_the_convention_and_trainable_params(tmp_path):
    rec = run_cell(expand(suite(tmp_path, ", flops_convention: mmcv"))[0])
    assert rec["status"] == "ok", rec.get("error")
    assert rec["flops"]["convention"] == "mmcv" and rec["flops"]["counter"] == "mmcv-hooks"
    assert 0 < rec["flops"]["upsampler"] < rec["flops"]["total"]
    assert rec["params"]["trainable"] == rec["params"]["total"] > 0
    fv = run_cell(expand(suite(tmp_path))[0])
    assert fv["flops"]["convention"] == "fvcore"
