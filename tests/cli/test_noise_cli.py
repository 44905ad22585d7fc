"""``upbench noise``: measures a suite's floor from its results and stores it; bad input exits 2."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from upbench.cli.main import cli
from upbench.cli.suite import parse_seeds
from upbench.engine.results import write_result

SUITE = str(Path(__file__).resolve().parents[2] / "suites" / "ci.yaml")


def test_parse_seeds_ranges():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("0,2-3,7") == [0, 2, 3, 7]
    assert parse_seeds("1,1") == [1, 1]  # kept: the suite refuses a seed named twice
    with pytest.raises(click.BadParameter):
        parse_seeds("4-0")
    with pytest.raises(click.BadParameter):
        parse_seeds("a")


def _results(d: Path, seeds=range(5)) -> None:
    config = {"task": "segmentation", "baseline": "seg", "train": {"iterations": 200}}
    for label in ("bilinear", "carafe"):
        for s in seeds:
            write_result(d, f"{label}__seed{s}__{s:016x}.json", {
                "schema": "upbench.result/1", "suite": "ci", "task": "segmentation",
                "label": label, "seed": s, "status": "ok", "hash": f"{s:016x}",
                "config": dict(config, seed=s), "finished_at": "2026-01-01",
                "metrics": {"mIoU": 60.0 + (s % 2) * 2, "bIoU": 40.0}})


def test_measures_from_results_and_stores(tmp_path):
    _results(tmp_path / "r")
    out = tmp_path / "floor.json"
    r = CliRunner().invoke(cli, ["noise", SUITE, "--seeds", "0-4", "--no-run", "--out",
                                 str(tmp_path / "r"), "--write", str(out), "--json"])
    assert r.exit_code == 0, r.output
    stored = json.loads(out.read_text())
    assert stored["suite"] == "ci" and stored["seeds"] == [0, 1, 2, 3, 4]
    assert stored["upsamplers"] == ["bilinear", "carafe"]
    # per cell 60, 62, 60, 62, 60: ss 4.8, df 4; pooled over two equal cells
    assert stored["spreads"]["mIoU"]["sigma"] == pytest.approx((4.8 / 4) ** 0.5)
    assert stored["spreads"]["bIoU"]["sigma"] == 0
    assert stored["command"].startswith("upbench noise ")


def test_too_few_seeds_is_exit_2(tmp_path):
    r = CliRunner().invoke(cli, ["noise", SUITE, "--seeds", "0-3", "--no-run", "--out",
                                 str(tmp_path)])
    assert r.exit_code == 2 and "≥ 5 seeds" in r.output
    _results(tmp_path / "r", seeds=range(3))
    r = CliRunner().invoke(cli, ["noise", SUITE, "--seeds", "0-4", "--no-run", "--out",
                                 str(tmp_path / "r"), "--write", str(tmp_path / "f.json")])
    assert r.exit_code == 2 and "got 3" in r.output and not (tmp_path / "f.json").exists()


@pytest.mark.slow
def test_trains_the_seeds_then_stores(tmp_path):
    """The whole command: it runs the suite's cells over the seeds (through ``upbench run``),
    then stores the floor measured from them."""
    from upbench.catalog import resolve_suite

    out = tmp_path / "floor.json"
    r = CliRunner().invoke(cli, ["noise", str(resolve_suite("smoke")), "--seeds", "0-4", "--only",
                                 "bilinear", "--set", "train.iterations=2", "--set",
                                 "profile.latency=false", "--out", str(tmp_path / "r"),
                                 "--write", str(out), "--json"])
    assert r.exit_code == 0, r.output
    stored = json.loads(out.read_text())
    assert stored["seeds"] == [0, 1, 2, 3, 4] and stored["upsamplers"] == ["bilinear"]
    assert len(list((tmp_path / "r").glob("bilinear__seed*.json"))) == 5
