"""Executors: the Ray executor against a local Ray instance (``num_cpus=2``) gives the same cells
and metrics as ``local``, resumes, survives a killed worker and a failed build, cancels on
Ctrl-C; the ``executor:`` section is checked and never enters a cell's hash."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
import ray  # make test installs upbench[ray]: a missing Ray is an install fault, not a skip
from click.testing import CliRunner

import upbench
from upbench.engine import expand, load_suite
from upbench.engine.compare import aggregate
from upbench.engine.executors import ExecutorConfig, LocalExecutor
from upbench.engine.executors.ray import ExecutorUnavailable, RayExecutor, worker_cell
from upbench.engine.runner import run_cell, run_suite
from upbench.utils.schema import ConfigError

TINY = """\
name: tiny
input_size: [32, 32]
dataset: {num_classes: 4, train_size: 8, val_size: 4}
model: {widths: [8, 8, 8, 8], decoder_channels: 8}
train: {iterations: 3, batch_size: 4, eval_batch_size: 4}
upsamplers: [bilinear, nearest, carafe]
profile: {latency_repeats: 2, latency_warmup: 0, latency_size: [32, 32], flops_size: [32, 32],
          memory: false}
metrics: {trimap_widths: [1]}
threads: 1
"""


@pytest.fixture(scope="module")
def ray_instance():
    """A local Ray instance with 2 CPUs whose workers can import this test module."""
    root = str(Path(upbench.__file__).resolve().parent.parent)
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, old) if p)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()
    if old is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = old


@pytest.fixture
def suite_file(tmp_path):
    p = tmp_path / "tiny.yaml"
    p.write_text(TINY)
    return p


def _results(d: Path) -> dict[str, dict]:
    return {r["hash"]: r for r in (json.loads(f.read_text()) for f in d.glob("*.json"))}


def _die_on_carafe(cell, reporter=None):
    """A cell function whose worker process dies (as if killed) on the carafe cell."""
    if cell.upsampler.name == "carafe":
        os._exit(9)
    return run_cell(cell, reporter)


def _slow_on_carafe(cell, reporter=None):
    if cell.upsampler.name == "carafe":
        time.sleep(120)
    return run_cell(cell, reporter)


def test_ray_gives_the_same_cells_and_metrics_as_local_and_resumes(ray_instance, suite_file,
                                                                   tmp_path):
    suite = load_suite(suite_file)
    cells = expand(suite)
    local = run_suite(suite, cells, tmp_path / "local", executor=LocalExecutor())
    ex = RayExecutor(ExecutorConfig(kind="ray"))
    remote = run_suite(suite, cells, tmp_path / "ray", executor=ex)
    assert remote.exit_code == local.exit_code == 0
    a, b = _results(tmp_path / "local"), _results(tmp_path / "ray")
    assert set(a) == set(b) == {c.hash for c in cells}
    for h in a:
        assert b[h]["status"] == "ok"
        assert b[h]["metrics"] == a[h]["metrics"], b[h]["label"]
        assert b[h]["params"] == a[h]["params"] and b[h]["flops"] == a[h]["flops"]
        assert b[h]["impl"] == a[h]["impl"]
        assert (a[h]["executor"], b[h]["executor"]) == ("local", "ray")
        assert b[h]["host"] and b[h]["env"]["threads"] == 1
    # resume: every cell has a result, nothing is submitted again
    again = run_suite(suite, cells, tmp_path / "ray", executor=ex)
    assert again.results == [] and len(again.skipped) == len(cells)


def test_a_killed_worker_fails_its_cell_and_the_suite_goes_on(ray_instance, suite_file, tmp_path):
    suite = load_suite(suite_file)
    cells = expand(suite)
    summary = run_suite(suite, cells, tmp_path / "out",
                        executor=RayExecutor(ExecutorConfig(kind="ray"), cell_fn=_die_on_carafe))
    by_name = {r["upsampler"]: r for r in _results(tmp_path / "out").values()}
    assert set(by_name) == {"bilinear", "nearest", "carafe"}
    assert by_name["carafe"]["status"] == "failed"
    assert "worker lost" in by_name["carafe"]["error"]
    assert by_name["bilinear"]["status"] == by_name["nearest"]["status"] == "ok"
    assert summary.exit_code == 1
    # the failed cell is retried with rerun_failed, and now succeeds
    retry = run_suite(suite, cells, tmp_path / "out", rerun_failed=True,
                      executor=RayExecutor(ExecutorConfig(kind="ray")))
    assert [r["status"] for r in retry.results] == ["ok"]


def test_interrupt_cancels_outstanding_cells_and_keeps_finished(ray_instance, suite_file,
                                                                tmp_path, monkeypatch):
    suite = load_suite(suite_file)
    cells = expand(suite, ["nearest", "carafe"])
    ex = RayExecutor(ExecutorConfig(kind="ray"), cell_fn=_slow_on_carafe)
    got = []

    def on_result(cell, rec):
        got.append(rec)
        raise KeyboardInterrupt  # Ctrl-C as the first cell finishes

    cancelled = []
    real_cancel = ex.ray.cancel

    def cancel(ref, **kw):
        cancelled.append((ref, kw))
        return real_cancel(ref, **kw)

    monkeypatch.setattr(ex.ray, "cancel", cancel)
    with pytest.raises(KeyboardInterrupt):
        ex.run(cells, on_result)
    assert [r["upsampler"] for r in got] == ["nearest"]
    # the 120 s cell was cancelled (its worker killed), not waited for
    assert [kw for _, kw in cancelled] == [{"force": True}]


def test_a_node_that_cannot_build_records_its_cells_failed(suite_file, monkeypatch):
    from upbench import ops
    from upbench.ops import NativeBuildError

    def broken(*a, **k):
        raise NativeBuildError("carafe_cpu.cpp: error: boom")

    monkeypatch.setattr(ops, "build", broken)
    cell = expand(load_suite(suite_file), ["carafe"])[0]
    rec = worker_cell(cell, 1)
    assert rec["status"] == "failed" and "native build failed" in rec["error"]
    assert "boom" in rec["error"]
    assert rec.get("impl") is None  # never recorded as a (silent) reference run


def test_resources_follow_threads_and_device(suite_file):
    cell = expand(load_suite(suite_file))[0]
    assert RayExecutor(ExecutorConfig(kind="ray")).resources(cell) == (1, 0.0)
    ex = RayExecutor(ExecutorConfig(kind="ray", cpus_per_cell=2, gpus_per_cell=0.5))
    assert ex.resources(cell) == (2, 0.5)
    cuda = dict(cell.config, device="cuda", threads=None)
    assert RayExecutor(ExecutorConfig(kind="ray")).resources(
        type(cell)(cell.suite, cell.upsampler, cell.seed, cuda, cell.hash)) == (1, 1.0)


def test_executor_section_is_checked_and_not_in_the_hash(tmp_path, suite_file):
    plain = expand(load_suite(suite_file))
    p = tmp_path / "with.yaml"
    p.write_text(TINY + "executor: {kind: ray, cpus_per_cell: 1}\n")
    assert [c.hash for c in expand(load_suite(p))] == [c.hash for c in plain]
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY + "executor: {kind: local, address: 'ray://x:1'}\n")
    with pytest.raises(ConfigError, match="only apply to kind: ray"):
        load_suite(bad)
    bad.write_text(TINY + "executor: {kind: ray, cpus_per_cell: 0}\n")
    with pytest.raises(ConfigError, match="cpus_per_cell"):
        load_suite(bad)
    bad.write_text(TINY + "executor: {kind: slurm}\n")
    with pytest.raises(ConfigError, match="executor.kind"):
        load_suite(bad)


def test_without_ray_the_cli_says_how_to_install_it(suite_file, tmp_path, monkeypatch):
    from upbench.cli.main import cli

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray → ImportError
    with pytest.raises(ExecutorUnavailable, match=r"upbench\[ray\]"):
        RayExecutor()
    res = CliRunner().invoke(cli, ["run", str(suite_file), "--out", str(tmp_path / "o"),
                                   "--executor", "ray"])
    assert res.exit_code == 2
    assert "pip install 'upbench[ray]'" in res.output
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").glob("*.json"))


def test_cli_flags_override_the_suite_and_are_checked(suite_file, tmp_path):
    from upbench.cli.main import cli

    res = CliRunner().invoke(cli, ["run", str(suite_file), "--out", str(tmp_path / "o"),
                                   "--address", "ray://nowhere:1"])
    assert res.exit_code == 2 and "only apply to kind: ray" in res.output


def test_compare_warns_when_fps_come_from_different_hosts(tmp_path):
    def rec(label, host, threads):
        return {"suite": "s", "task": "segmentation", "upsampler": label, "label": label,
                "seed": 0, "hash": label, "status": "ok", "host": host,
                "env": {"threads": threads}, "finished_at": "2026-01-01T00:00:00+00:00",
                "metrics": {"mIoU": 50.0}, "latency": {"fps": 10.0}}

    _, warns = aggregate([rec("bilinear", "a", 1), rec("carafe", "a", 1)])
    assert not [w for w in warns if "FPS" in w]
    _, warns = aggregate([rec("bilinear", "a", 1), rec("carafe", "b", 2)])
    assert any("different host" in w and "a×1 thread" in w and "b×2 threads" in w for w in warns)
