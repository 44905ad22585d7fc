"""End to end on a tiny suite: validate, run, resume after an interruption, failures, compare in
every format, flops."""

from __future__ import annotations

import json

import pytest

from tests.cli.helpers import invoke

TINY = """\
name: tiny
input_size: [32, 32]
dataset: {num_classes: 4, train_size: 8, val_size: 4}
model: {widths: [8, 8, 8, 8], decoder_channels: 8}
train: {iterations: 2, batch_size: 4, eval_batch_size: 4}
upsamplers: [bilinear, nearest, {carafe: {up_kernel: 3}}]
profile: {latency_repeats: 2, latency_warmup: 1}
metrics: {trimap_widths: [1]}
threads: 1
"""


@pytest.fixture
def suite(tmp_path):
    p = tmp_path / "tiny.yaml"
    p.write_text(TINY)
    return p


def results(d):
    return sorted((json.loads(f.read_text()) for f in d.glob("*.json")),
                  key=lambda r: (r["label"], r["seed"]))


def test_validate(suite, tmp_path):
    r = invoke("suite", "validate", suite, "--json")
    assert r.exit_code == 0, r.output
    assert [c["upsampler"] for c in json.loads(r.stdout)["cells"]] == [
        "bilinear", "nearest", "carafe(up_kernel=3)"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY.replace("nearest", "neerest"))
    r = invoke("suite", "validate", bad, "--json")
    assert r.exit_code == 2
    out = json.loads(r.stdout)
    assert out["key"] == "upsamplers[1]" and out["suggestion"] == "nearest"
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    r = invoke("suite", "validate", broken)
    assert r.exit_code == 2 and "invalid YAML" in r.output
    r = invoke("run", bad, "--out", tmp_path / "never")
    assert r.exit_code == 2 and "did you mean 'nearest'" in r.output
    assert not (tmp_path / "never").exists()  # nothing ran


def test_run_resume_compare_flops(suite, tmp_path, monkeypatch):
    out = tmp_path / "out"
    # a simulated Ctrl-C in the second cell: the first is kept, the run exits 130
    from upbench.cli import run as run_mod

    calls = {"cells": 0}
    orig_start = run_mod.RichReporter.cell_start

    def start(self, cell, index, total):
        calls["cells"] += 1
        orig_start(self, cell, index, total)

    def iteration(self, cell, it, total, loss):
        if calls["cells"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(run_mod.RichReporter, "cell_start", start)
    monkeypatch.setattr(run_mod.RichReporter, "iteration", iteration)
    r = invoke("run", suite, "--out", out)
    assert r.exit_code == 130, r.output
    assert [x["label"] for x in results(out)] == ["bilinear"]
    assert not list(out.glob(".*tmp"))  # no partial files
    monkeypatch.undo()

    r = invoke("run", suite, "--out", out, "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert len(summary["skipped"]) == 1
    assert [c["label"] for c in summary["cells"]] == ["nearest", "carafe(up_kernel=3)"]
    res = {x["label"]: x for x in results(out)}
    # an even up_kernel is refused before any work (tests/engine/test_suite_bounds.py); n/a
    # cells are covered by the depth, detection and matting tests
    assert res["carafe(up_kernel=3)"]["status"] == "ok"
    ok = res["bilinear"]
    assert ok["status"] == "ok"
    assert set(ok["metrics"]) >= {"mIoU", "aAcc", "mAcc", "bIoU", "trimap_mIoU@1"}
    assert ok["params"]["total"] > 0 and ok["params"]["upsampler"] == 0
    assert ok["flops"]["total"] > 0 and ok["flops"]["unsupported_ops"] == {}
    assert ok["flops"]["counter"] == "fvcore"
    lat = ok["latency"]
    assert lat["batch_size"] == 1 and lat["repeats"] == 2 and lat["median_ms"] > 0
    # profiled at the task's evaluation size, not the 32×32 training size, and timed
    # interleaved with the task's reference upsampler (the ratio is in every result)
    assert lat["input_size"] == [512, 512] and ok["flops"]["input_size"] == [512, 512]
    assert lat["interleaved_with"] == "bilinear" and res["nearest"]["speed"]["reference"] == "bilinear"
    assert len(res["nearest"]["speed"]["ratio_samples"]) == 2
    assert lat["iqr_ms"] >= 0 and lat["threads"] >= 1 and lat["device"] == "cpu"
    assert "peak_mb" in ok["memory"]
    assert ok["train"]["time_s"] > 0 and ok["train"]["iterations"] == 2
    assert ok["impl"] in ("native-cpu", "reference") and res["nearest"]["impl"] == "aten"
    assert {"torch", "cpu", "compiler", "git_commit"} <= set(ok["env"])

    # a rerun does nothing
    r = invoke("run", suite, "--out", out, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["cells"] == []

    # compare in every format, with a plot
    for fmt in ("table", "markdown", "csv", "latex"):
        r = invoke("compare", out, "--format", fmt)
        assert r.exit_code == 0, r.output
        assert "nearest" in r.output or fmt == "table"  # rich crops on narrow terminals
    r = invoke("compare", out, "--json", "--plot", tmp_path / "p.png")
    rows = json.loads(r.stdout)
    assert rows[0]["upsampler"] == "bilinear" and rows[0]["dmIoU"] == 0
    assert (tmp_path / "p.png").stat().st_size > 0
    r = invoke("compare", out, "--report", tmp_path / "report")
    assert r.exit_code == 0, r.output
    page = (tmp_path / "report" / "out.md").read_text()
    assert "## segmentation (suite tiny): deltas vs bilinear" in page and "× ref latency" in page
    assert "noise floor" in page  # one seed, no stored spread for "tiny": it says it is unknown
    for png in ("out-segmentation-accuracy.png", "out-segmentation-latency.png",
                "out-segmentation-loss.png"):
        assert f"]({png})" in page and (tmp_path / "report" / png).stat().st_size > 5000
    near = next(x for x in rows if x["upsampler"] == "nearest")
    assert near["dmIoU"] == pytest.approx(near["mIoU"] - rows[0]["mIoU"])
    assert invoke("compare", tmp_path / "nothing").exit_code == 2

    # flops: the baseline and one upsampler alone
    r = invoke("flops", "--model", "seg", "--upsampler", "carafe", "--size", "64x64", "--json")
    data = json.loads(r.stdout)
    assert data["unsupported_ops"] == {} and 0 < data["flops_upsampler"] < data["flops_total"]
    r = invoke("flops", "--upsampler", "carafe", "--channels", "256", "--size", "16x16", "--json")
    data = json.loads(r.stdout)
    # SAPA Table 1: CARAFE (defaults) ≈ 99K multiply-adds per low-resolution location at C = 256
    assert 95_000 < data["flops_per_input_location"] < 105_000
    r = invoke("flops", "--model", "seg", "--size", "64x64")
    assert r.exit_code == 0 and "unsupported ops: none" in r.output
    r = invoke("flops", "--upsampler", "carafee")
    assert r.exit_code == 2 and "did you mean 'carafe'" in r.output


def test_diverging_cells_are_recorded_and_the_suite_goes_on(suite, tmp_path):
    out = tmp_path / "div"
    r = invoke("run", suite, "--out", out, "--only", "bilinear", "--only", "nearest",
               "--set", "train.optimizer=sgd", "--set", "train.lr=1e12",
               "--set", "train.iterations=6")
    assert r.exit_code == 1, r.output
    res = results(out)
    assert [x["status"] for x in res] == ["failed", "failed"]
    assert all("diverged" in x["error"] for x in res)
    r = invoke("run", suite, "--out", out, "--only", "bilinar")
    assert r.exit_code == 2 and "did you mean 'bilinear'" in r.output
