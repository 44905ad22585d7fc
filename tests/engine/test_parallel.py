"""The parallel local executor: the same metrics as a serial run, measurements alone, a lost
worker fails only its cell, several suites share one pool."""

from __future__ import annotations

import copy
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from upbench.engine import expand, load_suite
from upbench.engine.exclusive import IDLE, MEASURING, SHARED, WAITING, MachineShare
from upbench.engine.executors import LocalExecutor, default_jobs
from upbench.engine.runner import SuiteRun, run_cell, run_suite, run_suites

SUITE = """\
name: par
input_size: [32, 32]
dataset: {num_classes: 4, train_size: 8, val_size: 4}
model: {widths: [8, 8, 8, 8], decoder_channels: 8}
train: {iterations: 4, batch_size: 4, eval_batch_size: 4}
upsamplers: [bilinear, nearest, {carafe: {up_kernel: 3}}, dysample]
profile: {latency_repeats: 2, latency_warmup: 1, latency_size: [64, 64], flops_size: [64, 64]}
metrics: {trimap_widths: [1]}
threads: 1
denormals: flush
"""

#: what a serial and a parallel run must agree on, bit for bit (timings naturally differ)
SAME = ("hash", "status", "metrics", "params", "flops", "impl", "impl_by_op", "slots")


@pytest.fixture
def suite(tmp_path):
    p = tmp_path / "par.yaml"
    p.write_text(SUITE)
    return load_suite(p)


def _by_label(results):
    return {r["label"]: r for r in results}


def test_parallel_metrics_equal_a_serial_run(suite, tmp_path):
    cells = expand(suite)
    serial = run_suite(suite, cells, tmp_path / "serial", executor=LocalExecutor(jobs=1))
    par = run_suite(suite, cells, tmp_path / "par", executor=LocalExecutor(jobs=2))
    assert serial.exit_code == par.exit_code == 0
    a, b = _by_label(serial.results), _by_label(par.results)
    assert list(a) == list(b) == [c.label for c in cells]  # results in the suite's order
    for label in a:
        for key in SAME:
            assert a[label].get(key) == b[label].get(key), (label, key)
        assert a[label]["env"]["denormals"] == b[label]["env"]["denormals"] == "flush"
        # the training trajectory too: every logged loss, exactly
        assert a[label]["train"]["loss_curve"] == b[label]["train"]["loss_curve"], label
        assert a[label]["train"]["final_loss"] == b[label]["train"]["final_loss"], label
        assert b[label]["speed"]["repeats"] == a[label]["speed"]["repeats"] == 2
        assert b[label]["memory"]["peak_mb"] is not None
        assert b[label]["exclusive_wait_s"] >= 0 and "exclusive_wait_s" not in a[label]
        assert b[label]["machine"]["threads"] == 1 and b[label]["machine"]["isa"]
        assert b[label]["cpu_time_s"] > 0 and a[label]["cpu_time_s"] > 0
    # the files on disk are the records handed back
    for cell in cells:
        on_disk = json.loads((tmp_path / "par" / cell.filename).read_text())
        assert on_disk["metrics"] == b[cell.label]["metrics"]


def test_several_suites_share_the_pool_each_into_its_directory(suite, tmp_path):
    p2 = tmp_path / "par2.yaml"
    p2.write_text(SUITE.replace("name: par", "name: par2"))
    other = load_suite(p2)
    runs = [SuiteRun(suite, expand(suite, ["nearest"]), tmp_path / "a"),
            SuiteRun(other, expand(other, ["bilinear", "nearest"]), tmp_path / "b")]
    first, second = run_suites(runs, executor=LocalExecutor(jobs=2))
    assert [r["label"] for r in first.results] == ["nearest"]
    assert [r["label"] for r in second.results] == ["bilinear", "nearest"]
    assert {r["suite"] for r in second.results} == {"par2"}
    assert len(list((tmp_path / "a").glob("*.json"))) == 1
    assert len(list((tmp_path / "b").glob("*.json"))) == 2
    # the same cell config in another suite is another cell with the same metrics
    assert first.results[0]["metrics"] == second.results[1]["metrics"]
    with pytest.raises(ValueError, match="same results directory"):
        run_suites([runs[0], SuiteRun(other, runs[1].cells, tmp_path / "a")])


def dies_on_nearest(cell, reporter=None, share=None):
    """A cell function whose worker process dies on the ``nearest`` cell (module level: the
    spawned workers import it)."""
    if cell.upsampler.name == "nearest":
        os._exit(3)
    return run_cell(cell, reporter, share=share)


def test_a_lost_worker_fails_its_cell_and_the_others_finish(suite, tmp_path):
    cells = expand(suite, ["nearest", "bilinear", "dysample"])
    s = run_suite(suite, cells, tmp_path / "out",
                  executor=LocalExecutor(cell_fn=dies_on_nearest, jobs=2))
    status = {r["label"]: r["status"] for r in s.results}
    # the replacement worker ran a later cell
    assert status == {"nearest": "failed", "bilinear": "ok", "dysample": "ok"}
    lost = _by_label(s.results)["nearest"]["error"]
    assert "worker lost" in lost and "exit code 3" in lost
    assert s.exit_code == 1
    assert not multiprocessing.active_children()  # every worker ended with the run


def test_interrupt_stops_the_workers_and_keeps_finished_cells(suite, tmp_path):
    cells = expand(suite, ["nearest", "bilinear", "dysample"])
    got = []

    def on_result(cell, rec):
        got.append(rec)
        raise KeyboardInterrupt  # Ctrl-C as the first cell finishes

    with pytest.raises(KeyboardInterrupt):
        LocalExecutor(jobs=2).run(cells, on_result)
    assert len(got) == 1 and got[0]["status"] == "ok"
    assert not multiprocessing.active_children()


def sleeps_on_carafe(cell, reporter=None, share=None):
    """A cell function whose ``carafe`` cell announces its worker's pid and then hangs (giving
    up its shared use of the machine, so the other cells can still be measured)."""
    if cell.upsampler.name == "carafe":
        share.release_shared()
        Path(os.environ["UPBENCH_TEST_PIDS"], str(os.getpid())).touch()
        time.sleep(3600)
    return run_cell(cell, reporter, share=share)


_DRIVER = """
import sys
from upbench.engine import expand, load_suite
from upbench.engine.executors import LocalExecutor
from upbench.engine.runner import run_suite
from tests.engine.test_parallel import sleeps_on_carafe
suite = load_suite(sys.argv[1])
s = run_suite(suite, expand(suite, ["carafe", "nearest"]), sys.argv[2],
              executor=LocalExecutor(cell_fn=sleeps_on_carafe, jobs=2))
print("interrupted" if s.interrupted else "finished", [r["label"] for r in s.results])
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has ended (nobody may reap it in a container)


def _until(cond, what: str) -> None:
    """Block until ``cond()`` holds (a deadlock guard, not a timing check)."""
    ev = threading.Event()
    for _ in range(12000):  # up to ten minutes on a loaded machine
        if cond():
            return
        ev.wait(0.05)
    raise AssertionError(f"never: {what}")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc, PR_SET_PDEATHSIG")
def test_sigterm_to_the_driver_stops_the_workers_and_keeps_finished_cells(suite, tmp_path):
    pids = tmp_path / "pids"
    pids.mkdir()
    env = os.environ | {"UPBENCH_TEST_PIDS": str(pids),
                        "PYTHONPATH": os.pathsep.join(filter(None, [
                            str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH")]))}
    driver = subprocess.Popen([sys.executable, "-c", _DRIVER, suite.source, tmp_path / "out"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        _until(lambda: list(pids.iterdir()), "the carafe worker started")
        _until(lambda: list((tmp_path / "out").glob("nearest__*.json")), "nearest finished")
        worker = int(next(pids.iterdir()).name)
        assert _alive(worker)
        driver.send_signal(signal.SIGTERM)  # what `timeout` sends
        out, err = driver.communicate(timeout=600)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert out.strip() == "interrupted ['nearest']", (out, err)
    _until(lambda: not _alive(worker), "the hanging worker ended")


def test_default_jobs_divides_the_cores_by_the_threads_per_cell(monkeypatch):
    from upbench.measure import machine

    monkeypatch.setattr(machine, "usable_cores", lambda: 8)
    assert default_jobs([1]) == 8
    assert default_jobs([2, 1]) == 4  # the widest cell decides
    assert default_jobs([None]) == 1  # torch's default: every core per cell
    assert default_jobs([16]) == 1


# -- the machine share, step by step (threads stand in for worker processes) -------------------

def _views(n):
    share = MachineShare(multiprocessing.get_context("spawn"), n)
    return share, [copy.copy(share).bind(i) for i in range(n)]


def _wait_for(share, want, what):
    """Block until the share's states are ``want`` (a deadlock guard, not a timing check)."""
    ev = threading.Event()
    for _ in range(12000):  # up to a minute on a loaded machine
        if share.states() == want:
            return
        ev.wait(0.005)
    raise AssertionError(f"{what}: states {share.states()} never became {want}")


def test_a_measurement_waits_for_training_to_yield_and_training_waits_for_it():
    share, (trainer, timer) = _views(2)
    trainer.acquire_shared()
    timer.acquire_shared()
    inside = threading.Event()
    done = threading.Event()

    def measure():
        with timer.exclusive():
            timer.checkpoint()  # a progress report inside the measurement yields nothing
            inside.set()
            done.wait()

    t = threading.Thread(target=measure)
    t.start()
    # the timer asked; the trainer still trains (holds shared use): no measurement yet
    _wait_for(share, [SHARED, WAITING], "timer waiting")
    assert not inside.is_set()
    # the trainer reaches its next iteration: it yields, and blocks until the measurement ends
    resumed = threading.Event()

    def next_iteration():
        trainer.checkpoint()
        resumed.set()

    c = threading.Thread(target=next_iteration)
    c.start()
    assert inside.wait(120)
    assert share.states() == [IDLE, MEASURING] and not resumed.is_set()
    done.set()
    t.join(120)
    c.join(120)
    assert resumed.is_set() and share.states() == [SHARED, SHARED]
    trainer.checkpoint()  # nobody waits: returns at once, keeps shared use
    assert share.states() == [SHARED, SHARED]
    trainer.release_shared()
    timer.release_shared()
    assert share.states() == [IDLE, IDLE]


def test_two_measurements_take_turns_and_a_dead_worker_is_forgotten():
    share, (a, b, c) = _views(3)
    for v in (a, b, c):
        v.acquire_shared()
    order = []
    gate = {name: threading.Event() for name in "ab"}

    def measure(view, name):
        with view.exclusive():
            others = [s for i, s in enumerate(share.states()) if i != view.slot]
            order.append((name, MEASURING in others or SHARED in others))
            gate[name].wait()

    ta = threading.Thread(target=measure, args=(a, "a"))
    ta.start()
    _wait_for(share, [WAITING, SHARED, SHARED], "a waiting")
    tb = threading.Thread(target=measure, args=(b, "b"))
    tb.start()
    _wait_for(share, [WAITING, WAITING, SHARED], "b waiting")
    share.forget(2)  # worker c died holding shared use: the driver releases it
    for name in "ab":
        gate[name].set()
    ta.join(120)
    tb.join(120)
    # one after the other, each with nobody else measuring or training
    assert sorted(order) == [("a", False), ("b", False)]
    assert share.states() == [SHARED, SHARED, IDLE]
