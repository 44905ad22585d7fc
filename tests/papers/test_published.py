"""The stored published tables: well-formed, mapped to real upbench names, and the side-by-side
comparison on constructed results."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from upbench.cli.main import cli
from upbench.engine.results import SCHEMA
from upbench.papers import get_table, published_tables
from upbench.papers.compare import PublishedCompareError, published_comparison
from upbench.tasks import TASKS
from upbench.upsamplers import list_upsamplers

# baselines the paper tables name that the network helpers are adding (issues 23 / 24)
PAPER_BASELINES = {"segformer-b1", "deeplabv3plus-r50", "faster-rcnn-r50-fpn", "bts-r50",
                   "a2u-r34"}
NON_METRIC_COLUMNS = {"GFLOPs", "dGFLOPs", "params_M", "dparams_M", "decoder_GFLOPs", "ratio",
                      "trimap_mIoU"}


def test_every_table_is_well_formed_and_mapped():
    tables = published_tables()
    assert set(tables) == {
        "sapa-t2-segformer-b1", "sapa-t2-maskformer-swin-b", "sapa-t2-mask2former-swin-b",
        "sapa-t3-faster-rcnn-r50", "sapa-t4-bts-r50", "sapa-t5-a2u-r34", "lau-t1-encnet-r50",
        "nrd-t1-r50"}
    for t in tables.values():
        task = TASKS[t.task]
        assert t.baseline is None or t.baseline in task.baseline_names + tuple(PAPER_BASELINES)
        metrics = {m.key for m in task.metrics}
        for col in t.columns:
            assert col in metrics | NON_METRIC_COLUMNS, (t.id, col)
        assert t.rows[0].upsampler == t.reference
        for r in t.rows:
            assert r.upsampler is None or r.upsampler in list_upsamplers(), (t.id, r.method)
            # the reference row prints absolute numbers, the others deltas (never both)
            assert not ({"GFLOPs", "dGFLOPs"} <= set(r.values))
            assert not ({"params_M", "dparams_M"} <= set(r.values))
        assert t.accounting


def test_numbers_as_printed():
    t2 = get_table("sapa-t2-segformer-b1")
    by = {r.method: r.values for r in t2.rows}
    assert by["Bilinear"] == {"mIoU": 41.68, "GFLOPs": 15.91, "params_M": 13.74}
    assert by["CARAFE"] == {"mIoU": 42.82, "dGFLOPs": 1.45, "dparams_M": 0.44}
    assert by["SAPA-I"]["dGFLOPs"] == 0.75 and by["SAPA-B"]["dGFLOPs"] == 1.02
    assert t2.input_size == (512, 512) and t2.flops_convention == "mmcv"
    t3 = get_table("sapa-t3-faster-rcnn-r50")
    assert t3.rows[0].values["params_M"] == 41.53 and t3.params_counted == "trainable"
    assert get_table("sapa-t4-bts-r50").rows[0].values["params_M"] == 49.53
    assert get_table("sapa-t5-a2u-r34").rows[0].values["params_M"] == 8.05
    lau = get_table("lau-t1-encnet-r50")
    assert [r.values["mIoU"] for r in lau.rows] == [49.08, 49.61, 49.67, 50.27, 49.65]
    nrd = get_table("nrd-t1-r50")
    assert [r.values["GFLOPs"] for r in nrd.rows] == [290.6, 234.6, 215.5, 216.8]
    assert t2.columns[:3] == ["mIoU", "GFLOPs", "dGFLOPs"]


def rec(label, flops, params, miou, baseline="segformer-b1", convention="mmcv",
        size=(512, 512), trainable=None):
    return {"suite": "sf", "task": "segmentation", "baseline": baseline, "label": label,
            "upsampler": label, "seed": 0, "status": "ok", "metrics": {"mIoU": miou},
            "flops": {"total": flops, "upsampler": 0, "convention": convention,
                      "input_size": list(size)},
            "params": {"total": params, "upsampler": 0,
                       "trainable": params if trainable is None else trainable}}


BILINEAR = rec("bilinear", 15_912_000_000, 13_735_148, 41.00)
CARAFE = rec("carafe", 15_912_000_000 + 1_453_129_728, 13_735_148 + 444_888, 42.50)
SAPA_I = rec("sapa-i", 15_912_000_000 + 760_000_000, 13_735_148, 43.05)


def test_side_by_side_on_constructed_results():
    cmp = published_comparison([BILINEAR, CARAFE, SAPA_I], get_table("sapa-t2-segformer-b1"))
    rows = {r["method"]: r for r in cmp["rows"]}
    assert not cmp["warnings"]
    b = rows["Bilinear"]["values"]
    assert b["GFLOPs"]["upbench"] == pytest.approx(15.912) and b["GFLOPs"]["match"] is True
    assert b["params_M"]["match"] is True and b["mIoU"]["diff"] == pytest.approx(-0.68)
    assert b["mIoU"]["match"] is False
    c = rows["CARAFE"]["values"]
    assert c["dGFLOPs"]["upbench"] == pytest.approx(1.453129728)
    assert c["dGFLOPs"]["match"] is True and c["dparams_M"]["match"] is True
    assert c["GFLOPs"] == {"paper": None, "upbench": None, "diff": None, "match": None}
    s = rows["SAPA-I"]["values"]
    assert s["dGFLOPs"]["match"] is False and s["dGFLOPs"]["diff"] == pytest.approx(0.01)
    assert s["mIoU"]["match"] is True
    assert rows["IndexNet"]["status"] == "no upbench upsampler"
    assert rows["SAPA-B"]["status"] == "not in the results"
    assert rows["CARAFE"]["status"] == "1 ok" and rows["CARAFE"]["upbench_label"] == "carafe"


def test_settings_that_differ_warn_and_wrong_baseline_fails():
    other = [rec("bilinear", 1e9, 1e6, 40, convention="fvcore", size=(64, 64))]
    cmp = published_comparison(other, get_table("sapa-t2-segformer-b1"))
    assert any("64x64" in w and "512x512" in w for w in cmp["warnings"])
    assert any("fvcore" in w and "flops_convention: mmcv" in w for w in cmp["warnings"])
    with pytest.raises(PublishedCompareError, match="baseline 'segformer-b1'.*seg"):
        published_comparison([rec("bilinear", 1, 1, 1, baseline="seg")],
                             get_table("sapa-t2-segformer-b1"))
    with pytest.raises(PublishedCompareError, match="detection table"):
        published_comparison([BILINEAR], get_table("sapa-t3-faster-rcnn-r50"))


def test_trainable_parameters_for_mmdetection_tables():
    det = []
    for label, total, trainable in (("nearest", 41_753_056, 41_527_712),
                                    ("carafe", 41_753_056 + 222_444, 41_527_712 + 222_444)):
        r = rec(label, 1e9, total, 0.0, baseline="faster-rcnn-r50-fpn", trainable=trainable)
        r["task"], r["metrics"] = "detection", {"AP": 30.0}
        det.append(r)
    cmp = published_comparison(det, get_table("sapa-t3-faster-rcnn-r50"))
    rows = {r["method"]: r["values"] for r in cmp["rows"]}
    assert rows["Nearest"]["params_M"]["upbench"] == pytest.approx(41.527712)
    assert rows["Nearest"]["params_M"]["match"] is True
    assert rows["CARAFE"]["dparams_M"]["match"] is True


def test_cli(tmp_path):
    d = tmp_path / "res"
    d.mkdir()
    for r in (BILINEAR, CARAFE):
        (d / f"{r['label']}__seed0__{'0' * 16}.json").write_text(json.dumps(
            r | {"schema": SCHEMA, "hash": r["label"].ljust(16, "0")[:16]}))
    run = CliRunner().invoke
    r = run(cli, ["compare", str(d), "--published", "sapa-t2-segformer-b1", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["table"]["id"] == "sapa-t2-segformer-b1" and len(out["rows"]) == 7
    r = run(cli, ["compare", str(d), "--published", "sapa-t2-segformer-b1"])
    assert r.exit_code == 0 and "CARAFE" in r.stdout and "+1.45" in r.stdout
    r = run(cli, ["compare", str(d), "--published", "sapa-t2-segformr-b1"])
    assert r.exit_code == 2 and "sapa-t2-segformer-b1" in r.output
    r = run(cli, ["papers", "--json"])
    assert r.exit_code == 0 and len(json.loads(r.stdout)) == 8
    r = run(cli, ["papers", "nrd-t1-r50"])
    assert r.exit_code == 0 and "234.6" in r.stdout
    assert run(cli, ["papers", "nrd"]).exit_code == 2


def test_paper_class_counts_default_flops():
    from upbench.cli.flops import paper_classes
    from upbench.papers import tables_of_baseline

    assert get_table("sapa-t2-segformer-b1").num_classes == 150
    assert get_table("sapa-t3-faster-rcnn-r50").num_classes == 80
    assert get_table("sapa-t4-bts-r50").num_classes is None
    assert paper_classes("segformer-b1") == (150, "sapa-t2-segformer-b1")
    assert paper_classes("faster-rcnn-r50-fpn") == (80, "sapa-t3-faster-rcnn-r50")
    assert paper_classes("bts-r50") == (None, None) and paper_classes("seg") == (None, None)
    assert [t.id for t in tables_of_baseline("a2u-r34")] == ["sapa-t5-a2u-r34"]
