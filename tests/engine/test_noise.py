"""The noise floor: pooled seed-to-seed spread, stored per suite, printed under every table, and
deltas inside it marked not significant (constructed result sets)."""

from __future__ import annotations

import json
import math

import pytest

from upbench.engine import noise
from upbench.engine.compare import aggregate, render, table_notes
from upbench.engine.noise import (
    NoiseFloor,
    Spread,
    config_fingerprint,
    floor_of,
    measure,
    pooled_spread,
    write_stored,
)

CONFIG = {"task": "segmentation", "baseline": "seg", "input_size": [64, 64],
          "dataset": {"kind": "synthetic"}, "model": {"widths": [8]},
          "train": {"iterations": 200}, "metrics": {}}


def res(label, seed, miou, suite="s", config=CONFIG):
    return {"suite": suite, "task": "segmentation", "label": label, "seed": seed, "status": "ok",
            "hash": f"{label}{seed}", "config": dict(config, seed=seed,
                                                     upsampler={"name": label}),
            "metrics": {"mIoU": miou, "bIoU": miou / 2},
            "flops": {"total": 1e9, "upsampler": 0, "unsupported_ops": {}},
            "params": {"total": 1e6, "upsampler": 0}, "impl": "aten", "error": None}


@pytest.fixture
def floors(tmp_path, monkeypatch):
    monkeypatch.setattr(noise, "NOISE_DIR", tmp_path)
    return tmp_path


def test_pooled_spread_by_hand():
    # cell a: 1, 3 (ss 2, df 1); cell b: 2, 4, 6 (ss 8, df 2); c has one value: ignored
    sp = pooled_spread({"a": [1, 3], "b": [2, 4, 6], "c": [9], "d": [float("nan")]})
    assert sp.df == 3 and sp.cells == 2 and sp.sigma == pytest.approx(math.sqrt(10 / 3))
    assert sp.floor == pytest.approx(1.96 * math.sqrt(2) * math.sqrt(10 / 3), 1e-4)
    assert pooled_spread({"a": [1], "b": [2]}) is None
    assert floor_of(1.0) == pytest.approx(2.7718, 1e-4)


def test_fingerprint_ignores_seed_upsampler_and_profile():
    a = dict(CONFIG, seed=0, upsampler={"name": "x"}, profile={"latency": True})
    b = dict(CONFIG, seed=3, upsampler={"name": "y"}, profile={"latency": False})
    assert config_fingerprint(a) == config_fingerprint(b)
    c = dict(a, train={"iterations": 400})
    assert config_fingerprint(a) != config_fingerprint(c)


def _store(directory, suite="s", sigma=1.0, config=CONFIG):
    recs = [res(n, s, 70 + s + (sigma * (-1) ** s), suite, config) for n in ("a", "b")
            for s in range(5)]
    fl = measure(suite, "segmentation", recs, ["mIoU", "bIoU"], "upbench noise x --seeds 0-4")
    fl.spreads["mIoU"] = Spread(sigma, 8, 2)
    write_stored(fl, directory / f"{suite}.json")
    return fl


def test_single_seed_table_uses_the_stored_floor(floors):
    _store(floors, sigma=1.0)  # floor ±2.77
    rows, _ = aggregate([res("bilinear", 0, 70.0), res("small", 0, 72.0), res("big", 0, 73.0)])
    by = {r["upsampler"]: r for r in rows}
    assert by["small"]["dmIoU_significant"] is False
    assert by["small"]["dmIoU_floor"] == pytest.approx(2.7718, 1e-4)
    assert by["big"]["dmIoU_significant"] is True
    assert by["bilinear"]["dmIoU_significant"] is None
    md = render(rows, "markdown")
    assert "| +2.00~ |" in md and "| +3.00 |" in md and "| +0.00 |" in md
    assert "noise floor of suite s: mIoU ±2.77" in md and "stored for suite s: 5 seeds" in md
    assert "~ = |Δ| inside the noise floor" in md
    assert "upbench noise x --seeds 0-4" in md


def test_stored_floor_of_another_configuration_is_not_applied(floors):
    _store(floors, config=dict(CONFIG, train={"iterations": 999}))
    rows, _ = aggregate([res("bilinear", 0, 70.0), res("x", 0, 70.5)])
    assert rows[1]["dmIoU_significant"] is None
    notes = " ".join(table_notes(rows))
    assert "another configuration" in notes and "not tested" in notes
    assert "~" not in render(rows, "markdown").split("- Δ")[0]


def test_no_floor_says_so(floors):
    rows, _ = aggregate([res("bilinear", 0, 70.0), res("x", 0, 70.5)])
    notes = " ".join(table_notes(rows))
    assert "noise floor unknown" in notes and "upbench noise" in notes
    assert rows[1]["dmIoU_significant"] is None


def test_own_seeds_give_the_floor_and_scale_with_the_paired_seeds(floors):
    _store(floors, sigma=100.0)  # ignored: the table has its own seeds
    # two seeds each: within-cell spreads 1 → σ = √(Σ 0.5 / 3) ... computed below
    rs = [res("bilinear", 0, 70.0), res("bilinear", 1, 71.0),
          res("x", 0, 72.0), res("x", 1, 73.0), res("y", 0, 70.4), res("y", 1, 71.6)]
    rows, _ = aggregate(rs)
    by = {r["upsampler"]: r for r in rows}
    sigma = math.sqrt((0.5 + 0.5 + 0.72) / 3)
    bar = floor_of(sigma) / math.sqrt(2)
    assert by["x"]["dmIoU_floor"] == pytest.approx(bar)
    assert by["x"]["dmIoU_significant"] is (2.0 >= bar)
    assert by["y"]["dmIoU_significant"] is False
    assert "pooled over this table's seeds: 3 upsampler(s)" in " ".join(table_notes(rows))


def test_multi_suite_tables_use_each_suites_floor(floors):
    _store(floors, suite="s", sigma=0.1)
    rows, _ = aggregate([res("bilinear", 0, 70.0), res("x", 0, 71.0),
                         res("bilinear", 0, 70.0, suite="t"), res("x", 0, 71.0, suite="t")])
    by = {(r["suite"], r["upsampler"]): r for r in rows}
    assert by[("s", "x")]["dmIoU_significant"] is True
    assert by[("t", "x")]["dmIoU_significant"] is None
    notes = table_notes(rows)
    assert any("suite s" in n for n in notes) and any("suite 't'" in n for n in notes)


def test_measure_needs_five_seeds_and_one_configuration():
    recs = [res("a", s, 70 + s) for s in range(4)]
    with pytest.raises(ValueError, match="≥ 5 seeds"):
        measure("s", "segmentation", recs, ["mIoU"], "cmd")
    recs = [res("a", s, 70 + s) for s in range(5)] + [
        res("b", s, 70 + s, config=dict(CONFIG, model={"widths": [4]})) for s in range(5)]
    with pytest.raises(ValueError, match="2 different configurations"):
        measure("s", "segmentation", recs, ["mIoU"], "cmd")


def test_stored_file_round_trip(tmp_path):
    recs = [res("a", s, 70 + s) for s in range(5)]
    fl = measure("s", "segmentation", recs, ["mIoU"], "cmd")
    assert fl.spreads["mIoU"].sigma == pytest.approx(math.sqrt(2.5))
    p = write_stored(fl, tmp_path / "s.json")
    back = NoiseFloor.from_dict(json.loads(p.read_text()))
    assert back.spreads["mIoU"].sigma == fl.spreads["mIoU"].sigma and back.seeds == [0, 1, 2, 3, 4]
    assert back.fingerprint == config_fingerprint(CONFIG)
    with pytest.raises(ValueError, match="schema"):
        NoiseFloor.from_dict({"schema": "other"})


def test_shipped_floors_are_readable():
    shipped = sorted(noise.NOISE_DIR.glob("*.json"))
    assert shipped, "the package ships at least one measured floor"
    for p in shipped:
        fl = noise.load_stored(p.stem)
        assert fl is not None and fl.suite == p.stem and len(fl.seeds) >= 5


def test_report_page_shows_the_floor_and_the_loss_curves(floors, tmp_path):
    from upbench.engine.report import write_report

    _store(floors, sigma=1.0)
    recs = [res("bilinear", 0, 70.0), res("x", 0, 71.0)]
    for r, base in zip(recs, (1.0, 2.0), strict=True):
        r["train"] = {"loss_curve": [[1, base], [5, base / 2], [9, base / 4]]}
    page = write_report("set", "dir", recs, tmp_path / "rep").read_text()
    assert "noise floor of suite s: mIoU ±2.77" in page and "+1.00~" in page
    assert "](set-segmentation-loss.png)" in page
    assert (tmp_path / "rep" / "set-segmentation-loss.png").stat().st_size > 5000
