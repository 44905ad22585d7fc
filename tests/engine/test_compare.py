"""Aggregation: mean ± std over seeds, paired deltas against the reference, formats."""

from __future__ import annotations

import json

import pytest

from upbench.engine.compare import aggregate, render


def res(label, seed, miou, status="ok", flops=1e9, params=1e6):
    return {"suite": "s", "task": "segmentation", "label": label, "seed": seed, "status": status,
            "metrics": {"mIoU": miou, "bIoU": miou / 2, "mAcc": 1.0, "aAcc": 2.0},
            "flops": {"total": flops, "upsampler": 0, "unsupported_ops": {}},
            "params": {"total": params, "upsampler": 0}, "latency": {"fps": 10.0},
            "impl": "aten", "error": None if status == "ok" else "boom"}


def test_mean_std_and_paired_deltas():
    rs = [res("bilinear", 0, 70), res("bilinear", 1, 72), res("bilinear", 2, 74),
          res("x", 0, 71, flops=2e9, params=3e6), res("x", 1, 74, flops=2e9, params=3e6),
          res("x", 2, 75, flops=2e9, params=3e6), res("x", 3, 0, status="failed")]
    rows, warnings = aggregate(rs, "bilinear")
    assert not warnings
    ref, x = rows
    assert ref["upsampler"] == "bilinear" and ref["mIoU"] == pytest.approx(72)
    assert ref["mIoU_std"] == pytest.approx(2)
    assert x["mIoU"] == pytest.approx(220 / 3)
    # paired: diffs 1, 2, 1 → mean 4/3, sample std 0.577
    assert x["dmIoU"] == pytest.approx(4 / 3) and x["dmIoU_std"] == pytest.approx(0.57735, 1e-4)
    assert x["dGFLOPs"] == pytest.approx(1.0) and x["dparams_M"] == pytest.approx(2.0)
    assert x["n_ok"] == 3 and x["n_failed"] == 1
    # 95 % CI: 4/3 ± t(0.975, 2)·0.57735/√3 = 4/3 ± 1.434 → [-0.10, 2.77]: not significant
    assert x["dmIoU_ci"] == pytest.approx([4 / 3 - 1.4342, 4 / 3 + 1.4342], abs=1e-3)
    assert x["dmIoU_significant"] is False and x["dmIoU_n"] == 3
    assert "+1.33 [-0.10, +2.77]~ |" in render(rows, "markdown")
    assert "+1.33 [-0.10, +2.77]" in render(rows, "latex")
    assert "1.333" in render(rows, "csv") and "dmIoU_ci_low" in render(rows, "csv")
    assert json.loads(render(rows, "json"))[1]["upsampler"] == "x"


def test_missing_reference_warns():
    rows, warnings = aggregate([res("x", 0, 50)], "bilinear")
    assert warnings and rows[0]["dmIoU"] is None


def test_repeated_seed_keeps_the_newest():
    old, new = res("x", 0, 10), res("x", 0, 20)
    old["finished_at"], new["finished_at"] = "2026-01-01T00:00:00", "2026-01-02T00:00:00"
    old["hash"], new["hash"] = "a" * 16, "b" * 16
    rows, warnings = aggregate([new, old], "")
    assert rows[0]["mIoU"] == 20 and rows[0]["n_ok"] == 1 and "newest" in warnings[0]
    # the same result read twice (compare A A) is not "another config hash"
    rows, warnings = aggregate([new, dict(new)], "")
    assert rows[0]["n_ok"] == 1 and not warnings


def test_default_reference_is_the_tasks():
    rows, warnings = aggregate([res("bilinear", 0, 70), res("x", 0, 71)])
    assert not warnings and rows[1]["dmIoU"] == pytest.approx(1) and rows[1]["reference"] == "bilinear"


def test_significance_marks_only_intervals_that_exclude_zero():
    """The issue's example: over five seeds +0.65 ± 0.52 is real, +0.55 ± 0.75 is not."""
    from upbench.engine.compare import paired_delta

    def diffs(mean, sd):
        base = [-1.2649, -0.6325, 0.0, 0.6325, 1.2649]  # mean 0, sample std 1
        return [mean + sd * b for b in base]

    real, noise = paired_delta(diffs(0.65, 0.52)), paired_delta(diffs(0.55, 0.75))
    assert real["std"] == pytest.approx(0.52, 1e-3) and real["significant"] is True
    assert real["ci"][0] > 0
    assert noise["significant"] is False and noise["ci"][0] < 0 < noise["ci"][1]
    two = paired_delta([0.5, 0.7])  # fewer than three seeds: no interval, no mark
    assert two["ci"] is None and two["significant"] is None

    rs = [res("bilinear", s, 70 + s) for s in range(5)]
    rs += [res("carafe", s, 70 + s + d) for s, d in enumerate(diffs(0.65, 0.52))]
    rs += [res("pixelshuffle", s, 70 + s + d) for s, d in enumerate(diffs(0.55, 0.75))]
    rows, _ = aggregate(rs)
    md = render(rows, "markdown")
    assert "+0.65 [+0.00, +1.30]*" in md and "+0.55 [-0.38, +1.48]~ |" in md
    assert "* = the interval excludes 0" in md
    row = json.loads(render(rows, "json"))[1]
    assert row["upsampler"] == "carafe" and row["dmIoU_significant"] is True
    assert len(row["dmIoU_ci"]) == 2
    rows, _ = aggregate([r for r in rs if r["seed"] < 2])
    md = render(rows, "markdown")
    table = md.split("- Δ")[0].split("\n", 1)[1]  # without the bold title
    assert "*" not in table and "fewer than 3 seeds" in md


def test_latex_escapes_every_special_character_and_names_booktabs():
    from upbench.engine.compare import latex_escape

    assert latex_escape("a_b&c%d$e#f{g}h~i^j\\k") == (
        "a\\_b\\&c\\%d\\$e\\#f\\{g\\}h\\textasciitilde{}i\\textasciicircum{}j\\textbackslash{}k")
    rows, _ = aggregate([res("bilinear", 0, 70), res("x_{1}^2", 0, 71)])
    tex = render(rows, "latex")
    assert "x\\_\\{1\\}\\textasciicircum{}2" in tex and "booktabs" in tex and "\\toprule" in tex


def test_compare_json_errors_are_json(tmp_path):
    from click.testing import CliRunner

    from upbench.cli.main import cli

    r = CliRunner().invoke(cli, ["compare", str(tmp_path / "missing"), "--json"])
    assert r.exit_code == 2
    out = json.loads(r.stdout)
    assert out["exit_code"] == 2 and "missing" in out["error"]
    (tmp_path / "empty").mkdir()
    r = CliRunner().invoke(cli, ["compare", str(tmp_path / "empty"), "--format", "json"])
    assert r.exit_code == 2 and "no upbench result files" in json.loads(r.stdout)["error"]


def test_flop_conventions_are_shown_and_mixing_them_warns():
    a, b = res("bilinear", 0, 70), res("x", 0, 71)
    a["flops"]["convention"] = b["flops"]["convention"] = "mmcv"
    rows, warnings = aggregate([a, b], "bilinear")
    assert not warnings and {r["flops_convention"] for r in rows} == {"mmcv"}
    b["flops"]["convention"] = "fvcore"
    rows, warnings = aggregate([a, b], "bilinear")
    assert any("2 conventions (fvcore, mmcv)" in w for w in warnings)
    # results from before conventions were recorded were counted with fvcore
    rows, _ = aggregate([res("bilinear", 0, 70)], "bilinear")
    assert rows[0]["flops_convention"] == "fvcore"
