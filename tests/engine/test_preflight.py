"""The shared preflight (:mod:`upbench.engine.preflight`): memory estimate against the machine,
upsampler entries probed (errors name the entry)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.cli.helpers import invoke
from tests.helpers.suites import write_suite
from upbench.engine import ConfigError, expand, load_suite
from upbench.engine.preflight import machine_memory_bytes, preflight

_PEAK = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], capture_output=True, check=False, timeout=300)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _peak_rss_gib(*cmd: str) -> float:
    """Peak resident set (GiB) of ``cmd`` run by a fresh process (its only child)."""
    out = subprocess.run([sys.executable, "-c", _PEAK, *cmd], capture_output=True, text=True,
                         check=True, timeout=320)
    return int(out.stdout.split()[-1]) / 2**20  # ru_maxrss is in KiB on Linux


def test_huge_input_size_refused_by_the_memory_estimate(tmp_path):
    p = write_suite(tmp_path / "s.yaml", input_size=[65536, 65536])
    # estimated from a probe, never allocated: validating in a fresh process peaks far below
    # one 65536² image (48 GiB as float32 RGB)
    peak = _peak_rss_gib(sys.executable, "-m", "upbench.cli.main", "suite", "validate", str(p))
    assert peak < 4, peak
    r = invoke("suite", "validate", p, "--json")
    assert r.exit_code == 2, r.output
    out = json.loads(r.stdout)
    assert out["key"] == "input_size" and "GiB" in out["error"] and "lower input_size" in out[
        "error"]
    r = invoke("run", p, "--out", tmp_path / "out")
    assert r.exit_code == 2 and "GiB" in r.output and not (tmp_path / "out").exists()


def test_memory_estimate_scales_with_size_and_batch(tmp_path):
    small = load_suite(write_suite(tmp_path / "a.yaml"))
    big = load_suite(write_suite(tmp_path / "b.yaml", input_size=[128, 128],
                                 train={"batch_size": 4}))
    a, b = preflight(small).memory, preflight(big).memory
    assert b["activations_bytes"] == pytest.approx(a["activations_bytes"] * 16 * 2, rel=0.05)
    assert b["dataset_bytes"] == pytest.approx(a["dataset_bytes"] * 16, rel=0.01)
    assert a["limit_bytes"] == machine_memory_bytes() > 0


def test_every_entry_is_probed_and_na_is_not_an_error(tmp_path):
    p = tmp_path / "d.yaml"
    p.write_text("name: d\ntask: depth\ninput_size: [32, 32]\n"
                 "dataset: {train_size: 2, val_size: 2}\n"
                 "model: {widths: [4, 4, 4, 4], decoder_channels: [4, 4, 4, 4]}\n"
                 "train: {iterations: 1, batch_size: 2}\nupsamplers: [bilinear, dupsampling]\n")
    rep = preflight(load_suite(p))
    assert rep.probed == ["bilinear"] and "label-space" in rep.unhostable["dupsampling"]


@pytest.mark.parametrize(("entry", "words"), [
    ({"carafe": {"up_kernel": 4}}, ["carafe(up_kernel=4)", "odd", "fix the hyper-parameters"]),
    ({"carafe": {"up_group": 3}}, ["carafe(up_group=3)", "divisible"]),
    ({"carafe": {"up_kernel": "5"}}, ["upsamplers[1].carafe.up_kernel", "expected an integer"]),
    ({"carafe": {"encoder_kernel": 0}}, ["carafe(encoder_kernel=0)", "cannot be built"]),
    ({"carafe": {"compressed_channels": -1}}, ["carafe(compressed_channels=-1)", "negative"]),
    ({"dysample": {"groups": 0}}, ["dysample(groups=0)", "groups must be a positive"]),
])
def test_bad_hyper_parameters_name_the_entry(tmp_path, entry, words):
    r = invoke("run", write_suite(tmp_path / "s.yaml", upsamplers=["bilinear", entry]),
               "--out", tmp_path / "out")
    assert r.exit_code == 2
    text = " ".join(r.output.split())
    assert "not all arguments converted" not in text
    for w in words:
        assert w in text, text
    assert not (tmp_path / "out").exists()


def test_preflight_only_probes_the_selected_cells(tmp_path, monkeypatch):
    suite = load_suite(write_suite(tmp_path / "s.yaml", upsamplers=["bilinear", "carafe"]))
    rep = preflight(suite, expand(suite, ["carafe"]))
    assert rep.probed == ["carafe"]


def test_preflight_errors_are_config_errors(tmp_path):
    suite = load_suite(write_suite(tmp_path / "s.yaml", input_size=[65536, 65536]))
    with pytest.raises(ConfigError, match="input_size"):
        preflight(suite)
