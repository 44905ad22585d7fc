"""Result files (:mod:`upbench.engine.results`). Checks that do not mislead (issue 18, item 6):
``check`` takes the newest of duplicate results as ``compare`` does; unreadable result files are
named (compare warns, check exits 2); ``compare A A`` reads A once. Nothing finished is lost
(issue 18): result and baseline files keep the user's umask."""

from __future__ import annotations

import json
import os

import pytest

from tests.cli.helpers import invoke
from tests.helpers.results import result, strict_json, write_results
from upbench.engine.results import newest_per_cell, scan_results, write_atomic


def test_check_takes_the_newest_of_duplicate_results(syn_baseline, tmp_path):
    baseline, seed0 = syn_baseline
    bil = next(r for r in seed0 if r["label"] == "bilinear")
    old = dict(bil, finished_at="2026-01-01T00:00:00+00:00",
               metrics=dict(bil["metrics"], mIoU=bil["metrics"]["mIoU"] - 30))
    d = tmp_path / "r"
    write_results(d, seed0)
    # the old, regressed result sorts after the new one by file name
    (d / "zzz-old.json").write_text(json.dumps(old))
    r = invoke("check", d, "--baseline", baseline, "--json")
    assert r.exit_code == 0, r.output
    # and the other way round: a newer regressed result is the one gated
    new_bad = dict(old, finished_at="2027-01-01T00:00:00+00:00")
    (d / "zzz-old.json").write_text(json.dumps(new_bad))
    assert invoke("check", d, "--baseline", baseline, "--json").exit_code == 1


def test_compare_and_check_share_the_newest_rule():
    a = result("x", 0, 10, finished="2026-01-01T00:00:00")
    b = dict(result("x", 0, 20, finished="2026-01-02T00:00:00"), hash="b" * 16)
    latest, dup = newest_per_cell([b, a])
    assert next(iter(latest.values()))["metrics"]["mIoU"] == 20 and dup == 1


UNREADABLE = {
    "truncated": lambda f: f.write_text(f.read_text()[:40]),
    "not UTF-8": lambda f: f.write_bytes(b'{"schema": "upbench.result/1", "label": "\xff"}'),
    "garbage": lambda f: f.write_bytes(b"\x00\x01garbage"),
    "malformed": lambda f: f.write_text(json.dumps(
        dict(json.loads(f.read_text()), hash=[1, 2]))),
}


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_compare_warns_by_name_and_check_exits_2(syn_baseline, tmp_path, case):
    baseline, seed0 = syn_baseline
    d = write_results(tmp_path / "r", seed0)
    f = min(d.glob("*.json"))
    UNREADABLE[case](f)
    r = invoke("compare", d, "--format", "csv")
    assert r.exit_code == 0
    assert f.name in " ".join(r.stderr.split()) and "skipped unreadable result file" in r.stderr
    assert len(r.stdout.strip().splitlines()) == 2  # header + the one readable cell
    r = invoke("check", d, "--baseline", baseline)
    assert r.exit_code == 2 and f.name in " ".join(r.output.split())


def test_foreign_json_is_not_reported(tmp_path):
    d = write_results(tmp_path / "r", [result("x", 0, 50)])
    (d / "notes.json").write_text('{"any": "thing"}')
    scan = scan_results(d)
    assert len(scan.records) == 1 and not scan.bad


def test_compare_the_same_directory_twice_reads_it_once(tmp_path):
    recs = [result("bilinear", s, 50 + s) for s in (0, 1)] + [
        result("carafe", s, 52 + s) for s in (0, 1)]
    # a cell rerun with another config: a real duplicate, warned once
    recs.append(dict(result("carafe", 0, 60, finished="2027-01-01T00:00:00"), hash="c" * 16))
    d = write_results(tmp_path / "r", recs)
    one = invoke("compare", d, "--json")
    two = invoke("compare", d, d, "--json")
    three = invoke("compare", d, str(d) + "/", tmp_path / "r" / ".." / "r", "--json")
    assert strict_json(one.stdout) == strict_json(two.stdout) == strict_json(three.stdout)
    for r in (one, two, three):
        assert r.stderr.count("another config hash") == 1 and "1 result(s)" in r.stderr
    rows = strict_json(two.stdout)
    assert {x["upsampler"]: x["n_ok"] for x in rows} == {"bilinear": 2, "carafe": 2}
    assert len(scan_results(d, d).records) == 5


# ---- umask --------------------------------------------------------------------------------


@pytest.mark.parametrize("mask,mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_write_atomic_uses_the_umask(tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        p = write_atomic(tmp_path / "r.json", {"a": 1})
    finally:
        os.umask(old)
    assert p.stat().st_mode & 0o777 == mode


def test_write_atomic_keeps_the_mode_of_the_file_it_replaces(tmp_path):
    p = tmp_path / "b.json"
    p.write_text("{}")
    p.chmod(0o640)
    write_atomic(p, {"a": 1})
    assert p.stat().st_mode & 0o777 == 0o640


def test_baseline_written_by_update_is_not_private(syn_baseline):
    baseline, _ = syn_baseline
    assert baseline.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m
