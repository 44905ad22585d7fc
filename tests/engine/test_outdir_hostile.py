"""The output directory under hostile conditions (issue 30): the stale-temp cleanup touches only
upbench's own temp files; a full disk, a directory or a symlink loop where a result goes fails
that one cell and the suite goes on; a cell without metrics fails."""

from __future__ import annotations

import errno
import os

import pytest

from tests.engine.fake_task import SUITE, FakeEvaluator, registered
from upbench.engine import expand, load_suite
from upbench.engine import results as results_mod
from upbench.engine.outdir import RunLock, remove_stale_temp_files
from upbench.engine.results import TMP_PREFIX, TMP_SUFFIX, load_results, scan_results, write_atomic
from upbench.engine.runner import has_metric, run_suite

TWO = SUITE.replace("[nearest, bilinear, sapa-b]", "[nearest, bilinear]").replace(
    "profile: {latency_repeats: 2, latency_warmup: 1, memory: false}",
    "profile: {flops: false, latency: false, memory: false}")


@pytest.fixture
def fake(tmp_path):
    with registered():
        p = tmp_path / "fake.yaml"
        p.write_text(TWO)
        suite = load_suite(p)
        yield suite, expand(suite)


USER_FILES = ["notes.tmp", ".notes.json.abcdefgh.tmp",
              ".bilinear__seed0__0123456789abcdef.json.k3j_x9a1.tmp", "x.upbench-tmp", ".upbench-tmp.notes", "upbench-tmp.a.b.upbench-tmp"]


def test_cleanup_removes_only_upbench_temp_files(tmp_path):
    for name in USER_FILES:
        (tmp_path / name).write_text("mine")
    ours = tmp_path / f"{TMP_PREFIX}r.json.abc_123{TMP_SUFFIX}"
    ours.write_text('{"trunc')
    (tmp_path / f"{TMP_PREFIX}d.json.abc{TMP_SUFFIX}").mkdir()  # a directory: never removed
    target = tmp_path / "precious"
    target.write_text("mine")
    (tmp_path / f"{TMP_PREFIX}l.json.abc{TMP_SUFFIX}").symlink_to(target)  # nor a link
    assert remove_stale_temp_files(tmp_path) == [ours]
    assert all((tmp_path / n).read_text() == "mine" for n in USER_FILES)
    assert target.read_text() == "mine"


def test_the_lock_cleans_the_same_way(tmp_path):
    for name in USER_FILES:
        (tmp_path / name).write_text("mine")
    with RunLock(tmp_path) as lock:
        assert lock.removed == []
    assert sorted(os.listdir(tmp_path)) == sorted([*USER_FILES, ".upbench.lock"])


def test_write_atomic_uses_a_name_upbench_owns(tmp_path, monkeypatch):
    seen = []
    real = os.replace

    def spy(src, dst):
        seen.append(os.path.basename(src))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    write_atomic(tmp_path / "r.json", {"a": 1})
    assert seen[0].startswith(TMP_PREFIX + "r.json.") and seen[0].endswith(TMP_SUFFIX)


def test_a_full_disk_fails_one_cell_and_the_rest_go_on(fake, tmp_path, monkeypatch):
    suite, cells = fake
    real = results_mod.write_atomic

    def full(path, data):
        if cells[0].hash in str(path):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, data)

    monkeypatch.setattr(results_mod, "write_atomic", full)
    summary = run_suite(suite, cells, tmp_path / "out")
    first, second = summary.results
    assert first["status"] == "failed" and "no space left on the device" in first["error"]
    assert cells[0].filename in first["error"] and "this one runs again" in first["error"]
    assert second["status"] == "ok" and summary.exit_code == 1
    assert [r["label"] for r in load_results(tmp_path / "out")] == [cells[1].label]
    assert not [f for f in os.listdir(tmp_path / "out") if f.startswith(TMP_PREFIX)]


def test_a_directory_or_a_symlink_loop_where_a_result_goes(fake, tmp_path):
    suite, cells = fake
    out = tmp_path / "out"
    out.mkdir()
    (out / cells[0].filename).mkdir()
    (out / "loop.json").symlink_to(out / "loop.json")
    summary = run_suite(suite, cells, out)
    assert summary.results[0]["status"] == "failed"
    assert "a directory is in the way" in summary.results[0]["error"]
    assert summary.results[1]["status"] == "ok" and summary.exit_code == 1
    bad = dict(scan_results(out).bad)
    assert "a directory, not a result file" in bad[str(out / cells[0].filename)]
    assert "a symlink loop" in bad[str(out / "loop.json")]


def test_a_cell_without_any_metric_fails(fake, tmp_path, monkeypatch):
    suite, cells = fake
    monkeypatch.setattr(FakeEvaluator, "compute", lambda self: {"err": None,
                                                                "acc": float("nan")})
    summary = run_suite(suite, cells[:1], tmp_path / "out")
    (r,) = summary.results
    assert r["status"] == "failed" and r["error"].startswith("no metric: the validation split "
                                                             "gave nothing to measure")
    assert summary.exit_code == 1


@pytest.mark.parametrize("metrics, ok", [({"a": 1.0}, True), ({"a": None, "b": 0}, True),
                                         ({}, False), (None, False), ({"a": float("inf")}, False),
                                         ({"a": True}, False), ({"a": "x", "b": [1]}, False)])
def test_has_metric(metrics, ok):
    assert has_metric(metrics) is ok
