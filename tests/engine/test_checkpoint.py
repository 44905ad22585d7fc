"""Checkpoints inside a cell: a cell killed after its first checkpoint resumes and ends with the
same weights and metrics as an uninterrupted run; keep_checkpoints bounds the files; a checkpoint
of another config is refused before training."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from upbench.engine import expand, load_suite
from upbench.engine.checkpoint import CheckpointMismatch, CheckpointStore, checkpoint_dir
from upbench.engine.outdir import STALE_TMP
from upbench.engine.preflight import check_checkpoints
from upbench.engine.results import load_results
from upbench.engine.runner import Reporter, run_suite
from upbench.utils.schema import ConfigError

SUITE = """\
name: ck
input_size: [32, 32]
dataset: {num_classes: 3, train_size: 8, val_size: 4}
model: {widths: [4, 4, 8, 8], decoder_channels: 8}
train: {iterations: 7, batch_size: 2, checkpoint_every: 3, keep_checkpoints: 2, lr: 0.01}
upsamplers: [dysample]
threads: 1
profile: {flops: false, latency: false, memory: false}
"""


class Crash(Exception):
    """What the test hook raises to kill a cell mid-training."""


class KillAt(Reporter):
    """A test hook: the cell dies at iteration ``at`` (after the checkpoints before it)."""

    def __init__(self, at: int) -> None:
        self.at = at

    def iteration(self, cell, it, total, loss) -> None:
        if it == self.at:
            raise Crash(f"killed at iteration {it}")


def _suite(tmp_path, text=SUITE):
    p = tmp_path / "ck.yaml"
    p.write_text(text)
    return p, load_suite(p)


def _final_state(out, cell):
    store = CheckpointStore(checkpoint_dir(out, cell), cell.hash, cell.config)
    return store, store.load()


def test_killed_cell_resumes_to_the_same_weights_and_metrics(native, tmp_path):
    _, suite = _suite(tmp_path)
    cells = expand(suite)
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert run_suite(suite, cells, whole).exit_code == 0
    s = run_suite(suite, expand(suite), cut, reporter=KillAt(5))
    assert s.results[0]["status"] == "failed" and "killed at iteration 5" in s.results[0]["error"]
    store, state = _final_state(cut, cells[0])
    assert state["iteration"] == 3  # the last checkpoint before the kill
    assert check_checkpoints(expand(suite), cut) == {"dysample@0": 3}
    s = run_suite(suite, expand(suite), cut, rerun_failed=True)
    (r,) = s.results
    assert r["status"] == "ok" and r["train"]["resumed_from"] == 3
    (ref,) = load_results(whole)
    assert r["metrics"] == ref["metrics"]
    assert r["train"]["loss_curve"] == ref["train"]["loss_curve"]
    assert r["train"]["final_loss"] == ref["train"]["final_loss"]
    _, a = _final_state(whole, cells[0])
    _, b = _final_state(cut, cells[0])
    assert a["iteration"] == b["iteration"] == 7
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    # keep_checkpoints: 2 → the newest two (6 and the final 7)
    assert [p.name for p in store.paths()] == ["iter_00000006.pt", "iter_00000007.pt"]
    # `upbench eval --only` re-evaluates the cell from its final checkpoint: the same metrics
    from upbench.cli.evaluate import evaluate_checkpoint

    again = evaluate_checkpoint(expand(suite, ["dysample"])[0], str(cut))
    assert again["iteration"] == 7 and again["metrics"] == ref["metrics"]
    # the training log was continued, not restarted
    log = (cut / f"{cells[0].stem}.train.jsonl").read_text().splitlines()
    assert log and '"iteration": 7' in log[-1]


def test_checkpoint_of_another_config_is_refused_before_training(native, tmp_path):
    path, suite = _suite(tmp_path)
    out = tmp_path / "out"
    assert run_suite(suite, expand(suite), out).exit_code == 0
    _, changed = _suite(tmp_path, SUITE.replace("lr: 0.01", "lr: 0.02"))
    with pytest.raises(ConfigError, match=r"another config.*differing keys: train\.lr"):
        check_checkpoints(expand(changed), out)
    # the store itself refuses it too (a cell started without the preflight fails clearly)
    cell = expand(changed)[0]
    with pytest.raises(CheckpointMismatch, match="delete"):
        CheckpointStore(checkpoint_dir(out, cell), cell.hash, cell.config).load()
    # and the CLI exits 2 before any work
    r = subprocess.run([sys.executable, "-m", "upbench.cli.main", "run", str(path), "--out",
                        str(out), "--set", "train.lr=0.02"], capture_output=True, text=True,
                       timeout=300, check=False, env=os.environ | {"PYTHONPATH": _root()})
    assert r.returncode == 2 and "another config" in r.stderr and "Traceback" not in r.stderr


def test_damaged_checkpoint_is_reported(tmp_path):
    store = CheckpointStore(tmp_path, "h", {})
    (tmp_path / "iter_00000001.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointMismatch, match="not a readable checkpoint"):
        store.load()


def test_a_save_killed_midway_leaves_a_temp_file_the_next_save_removes(tmp_path, monkeypatch):
    store = CheckpointStore(tmp_path, "h", {})
    names = []

    def killed(obj, f):  # the process dies while writing: nothing after this line runs
        names.extend(p.name for p in tmp_path.iterdir())
        f.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        store.save(3, {"w": torch.zeros(1)})
    monkeypatch.undo()
    assert store.paths() == [] and STALE_TMP.match(names[0]), names  # a name the cleanup knows
    # a real kill skips the cleanup that the interrupt above ran: leave its temp file behind
    stale = tmp_path / ".upbench-tmp.iter_00000003.pt.k1ll3d.upbench-tmp"
    stale.write_bytes(b"partial")
    mine = tmp_path / "notes.tmp"  # a user's own file is never touched
    mine.write_text("x")
    store.save(6, {"w": torch.ones(1)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["iter_00000006.pt", "notes.tmp"]
    assert store.load()["w"].item() == 1.0


def _root() -> str:
    return str(Path(__file__).resolve().parents[2])


def test_cli_run_killed_by_sigkill_resumes(native, tmp_path):
    """The real thing: a `upbench run` process killed (SIGKILL) after its first checkpoint; the
    rerun resumes and ends where an uninterrupted run ends."""
    text = SUITE.replace("iterations: 7", "iterations: 60").replace("checkpoint_every: 3",
                                                                     "checkpoint_every: 10")
    path, suite = _suite(tmp_path, text)
    cell = expand(suite)[0]
    cmd = [sys.executable, "-m", "upbench.cli.main", "run", str(path), "--json", "--out"]
    env = os.environ | {"PYTHONPATH": _root()}
    whole = subprocess.run(cmd + [str(tmp_path / "whole")], capture_output=True, text=True,
                           env=env, timeout=600, check=False)
    assert whole.returncode == 0, whole.stderr
    cut = tmp_path / "cut"
    proc = subprocess.Popen(cmd + [str(cut)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    ckdir = checkpoint_dir(cut, cell)
    try:
        while proc.poll() is None and not list(ckdir.glob("iter_*.pt")):
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the run finished before it could be killed (machine too fast)")
    assert not load_results(cut)  # nothing finished
    rerun = subprocess.run(cmd + [str(cut)], capture_output=True, text=True, env=env,
                           timeout=600, check=False)
    assert rerun.returncode == 0, rerun.stderr
    (a,), (b,) = load_results(tmp_path / "whole"), load_results(cut)
    assert b["train"].get("resumed_from", 0) >= 10
    assert a["metrics"] == b["metrics"] and a["train"]["loss_curve"] == b["train"]["loss_curve"]


def test_cli_eval_needs_a_checkpoint(tmp_path):
    from tests.cli.helpers import invoke

    path, _ = _suite(tmp_path)
    r = invoke("eval", path, "--out", tmp_path / "empty")
    assert r.exit_code == 2 and "no checkpoint" in r.output and "checkpoint_every" in r.output
