"""Runner details: skip / force / rerun-failed, atomic writes, exception → failed cell."""

from __future__ import annotations

import json

import pytest

from upbench.engine import expand, load_suite
from upbench.engine.results import finished_hashes, load_results, write_atomic
from upbench.engine.runner import run_suite

SUITE = """\
name: r
input_size: [32, 32]
dataset: {num_classes: 3, train_size: 4, val_size: 2}
model: {widths: [4, 4, 4, 4], decoder_channels: 4}
train: {iterations: 1, batch_size: 2}
upsamplers: [nearest]
threads: 1
profile: {flops: false, latency: false, memory: false}
"""


@pytest.fixture
def suite(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text(SUITE)
    return load_suite(p)


def test_skip_force_and_rerun_failed(suite, tmp_path, monkeypatch):
    out = tmp_path / "out"
    cells = expand(suite)
    s = run_suite(suite, cells, out)
    assert s.exit_code == 0 and len(s.results) == 1 and s.results[0]["status"] == "ok"
    assert finished_hashes(out) == {cells[0].hash: "ok"}
    assert run_suite(suite, cells, out).skipped == cells
    assert len(run_suite(suite, cells, out, force=True).results) == 1

    # an exception inside a cell → failed with the reason, exit code 1
    from upbench.engine import runner

    def boom(*a, **k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(runner, "train", boom)
    s = run_suite(suite, cells, out, force=True)
    assert s.exit_code == 1
    r = s.results[0]
    assert r["status"] == "failed" and r["error"] == "RuntimeError: kaboom" and r["traceback"]
    assert finished_hashes(out) == {cells[0].hash: "failed"}
    assert run_suite(suite, cells, out).skipped == cells  # a failed result is a result
    monkeypatch.undo()
    s = run_suite(suite, cells, out, rerun_failed=True)
    assert [x["status"] for x in s.results] == ["ok"]
    assert [x["status"] for x in load_results(out)] == ["ok"]


def test_write_atomic_leaves_no_partial_file(tmp_path):
    p = write_atomic(tmp_path / "a.json", {"x": float("nan"), "y": [1, 2]})
    assert json.loads(p.read_text()) == {"x": None, "y": [1, 2]}
    with pytest.raises(TypeError):
        write_atomic(tmp_path / "b.json", {"x": object()})
    assert sorted(f.name for f in tmp_path.iterdir()) == ["a.json"]
    with pytest.raises(FileNotFoundError):
        load_results(tmp_path / "missing")


def test_artifacts_are_written_beside_the_result_and_not_read_as_results(tmp_path):
    from upbench.engine.results import is_artifact, write_result

    rec = {"schema": "upbench.result/1", "hash": "0123456789abcdef", "label": "x", "seed": 0,
           "status": "ok", "artifacts": {"detections.json": [{"image_id": 1, "score": 0.5}]}}
    p = write_result(tmp_path, "x__seed0__0123456789abcdef.json", rec)
    art = tmp_path / "x__seed0__0123456789abcdef.detections.json"
    assert json.loads(art.read_text()) == [{"image_id": 1, "score": 0.5}]
    assert json.loads(p.read_text())["artifacts"] == [art.name]
    assert is_artifact(art) and not is_artifact(p)
    assert [r["label"] for r in load_results(tmp_path)] == ["x"]


def test_git_commit_only_from_upbench_own_checkout(tmp_path, monkeypatch):
    import subprocess

    import upbench
    from upbench.engine import profile

    assert profile.project_checkout() is not None  # the tests run from the checkout
    # a copy of the package inside another git repository: no commit of that repository
    other = tmp_path / "project"
    (other / "upbench").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(other)], check=True)
    monkeypatch.setattr(upbench, "__file__", str(other / "upbench" / "__init__.py"))
    assert profile.project_checkout() is None
