"""The output locations (:mod:`upbench.engine.outdir`) — nothing finished is lost (issue 18):
output locations are checked before any work, one run per results directory, temp files of a
killed run removed."""

from __future__ import annotations

import os
import threading

import pytest

from tests.cli.helpers import invoke
from upbench.engine.outdir import LockedError, OutputError, RunLock, prepare_dir, prepare_file


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if any cell starts training."""
    from upbench.engine import runner

    def train(*a, **k):
        raise AssertionError("training started")

    monkeypatch.setattr(runner, "train", train)


# ---- unwritable outputs, found before any work ----------------------------------------------


def test_prepare_dir_and_file(tmp_path, readonly_dir):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(OutputError, match="is under .*file, which is a file"):
        prepare_dir(f / "out")
    with pytest.raises(OutputError, match="is a file"):
        prepare_dir(f)
    with pytest.raises(OutputError, match="cannot write in"):
        prepare_dir(readonly_dir)
    with pytest.raises(OutputError, match="cannot create"):
        prepare_dir(readonly_dir / "new" / "out")
    with pytest.raises(OutputError, match="is a directory"):
        prepare_file(tmp_path)
    assert prepare_dir(tmp_path / "a" / "b").is_dir()
    assert not list((tmp_path / "a" / "b").iterdir())  # the probe is gone


def test_run_with_an_unwritable_out_exits_2_before_training(suite, tmp_path, readonly_dir,
                                                            no_training):
    f = tmp_path / "file"
    f.write_text("x")
    for out in (f / "out", f, readonly_dir, readonly_dir / "out"):
        r = invoke("run", suite, "--out", out)
        assert r.exit_code == 2, (out, r.output)
        text = " ".join(r.output.split()).replace("'", "")
        assert str(out) in text and "Traceback" not in text, r.output
        assert out == f or "unusable output directory" in text  # (click itself rejects a file)


def test_compare_plot_and_report_to_unwritable_paths_exit_2(syn_baseline, tmp_path,
                                                            readonly_dir, monkeypatch):
    from upbench.engine import compare

    def aggregate(*a, **k):
        raise AssertionError("work started")

    monkeypatch.setattr(compare, "aggregate", aggregate)
    f = tmp_path / "file"
    f.write_text("x")
    for opt, path in (("--plot", f / "p.png"), ("--plot", readonly_dir / "p.png"),
                      ("--plot", tmp_path), ("--report", f / "rep"),
                      ("--report", readonly_dir / "rep")):
        r = invoke("compare", tmp_path / "base", opt, path)
        assert r.exit_code == 2 and "Traceback" not in r.output, (opt, path, r.output)
        assert str(path) in " ".join(r.output.split())


def test_update_to_an_unwritable_baseline_exits_2(syn_baseline, tmp_path, readonly_dir):
    f = tmp_path / "file"
    f.write_text("x")
    for path in (f / "b.json", readonly_dir / "b.json", tmp_path):
        r = invoke("check", tmp_path / "base", "--baseline", path, "--update")
        assert r.exit_code == 2 and "Traceback" not in r.output, (path, r.output)


def test_baseline_path_that_is_a_directory_is_reported_as_such(syn_baseline, tmp_path):
    r = invoke("check", tmp_path / "base", "--baseline", tmp_path)
    assert r.exit_code == 2 and "is a directory" in r.output and "does not exist" not in r.output


# ---- run lock, stale temp files -------------------------------------------------------------


def test_second_run_on_the_same_out_exits_2_naming_the_pid(suite, tmp_path, no_training):
    out = tmp_path / "out"
    with RunLock(out):
        r = invoke("run", suite, "--out", out)
        assert r.exit_code == 2
        assert f"pid {os.getpid()}" in r.output and "--wait" in r.output
        with pytest.raises(LockedError, match="in use by another upbench run"):
            RunLock(out)
    RunLock(out).release()  # free again once the first run ended


def test_wait_queues_behind_the_first_run(tmp_path):
    out = tmp_path / "out"
    first = RunLock(out)
    waited, events = [], []

    def release_first():
        events.append("first released")
        first.release()

    threading.Timer(0.5, release_first).start()
    second = RunLock(out, wait=True, on_wait=waited.append)
    events.append("second acquired")
    # it blocked (said whom it waits for) and got the lock only after the first let go
    assert events == ["first released", "second acquired"]
    assert waited and f"pid {os.getpid()}" in waited[0]
    second.release()


def test_run_waits_with_the_wait_flag(suite, tmp_path):
    out = tmp_path / "out"
    first = RunLock(out)
    threading.Timer(0.5, first.release).start()
    r = invoke("run", suite, "--out", out, "--wait", "--only", "bilinear")
    assert r.exit_code == 0, r.output
    assert "waiting for the other run" in r.output


def test_stale_temp_files_are_removed_at_start(suite, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    stale = [out / ".upbench-tmp.bilinear__seed0__0123456789abcdef.json.k3j_x9a1.upbench-tmp",
             out / ".upbench-tmp.tiny.json.abcdefgh.upbench-tmp"]
    for f in stale:
        f.write_text('{"trunc')
    # not upbench's temp files: a user's own, even when named like a mkstemp file
    keep = [out / "notes.tmp", out / ".notes.json.abcdefgh.tmp"]
    for f in keep:
        f.write_text("mine")
    r = invoke("run", suite, "--out", out, "--only", "bilinear")
    assert r.exit_code == 0, r.output
    assert not any(f.exists() for f in stale) and all(f.read_text() == "mine" for f in keep)
    assert "removed 2 temp file(s)" in r.output
