"""The per-cell training log: JSON lines with loss, lr, throughput and ETA; TensorBoard scalars
when the package is there; the console line."""

from __future__ import annotations

import json

import torch

from upbench.cli.run import progress_text
from upbench.engine import trainlog
from upbench.engine.suite import build_suite
from upbench.engine.train import train
from upbench.engine.trainlog import TrainLog, log_interval


def test_interval():
    assert log_interval(7) == 1 and log_interval(500) == 10 and log_interval(160_000) == 50


def test_training_writes_its_log(native, tmp_path, monkeypatch):
    scalars = []

    class FakeWriter:
        def add_scalar(self, tag, value, step):
            scalars.append((tag, step))

        def close(self):
            scalars.append(("closed", None))

    monkeypatch.setattr(trainlog, "_tensorboard_writer", lambda d: FakeWriter())
    suite = build_suite({"name": "l", "input_size": [32, 32], "threads": 1,
                         "dataset": {"num_classes": 3, "train_size": 4, "val_size": 2},
                         "model": {"widths": [4, 4, 8, 8], "decoder_channels": 8},
                         "upsamplers": ["nearest"],
                         "train": {"iterations": 3, "batch_size": 2, "warmup_iters": 2}})
    e = suite.upsamplers[0]
    model = suite.task_def.build_model(suite, e.name, e.hparams, None, 0)
    tr, _ = suite.task_def.splits(suite)
    seen = []
    path = tmp_path / "c.train.jsonl"
    train(model, tr, suite.train, 0, torch.device("cpu"), log_path=path, on_log=seen.append)
    lines = [json.loads(s) for s in path.read_text().splitlines()]
    assert [r["iteration"] for r in lines] == [1, 2, 3] and lines == json.loads(json.dumps(seen))
    assert lines[0]["lr"] == suite.train.lr / 2 and lines[1]["lr"] == suite.train.lr  # warm-up
    assert set(lines[-1]) >= {"loss", "terms", "lr", "it_per_s", "samples_per_s", "eta_s"}
    assert lines[-1]["eta_s"] == 0
    assert ("train/loss", 3) in scalars and scalars[-1] == ("closed", None)
    assert "lr 2.0e-03" in progress_text(lines[1]) and "it/s" in progress_text(lines[1])


def test_log_without_a_file_still_computes_records():
    log = TrainLog(None, 4, 8)
    assert log.due(2) and log.due(4)
    rec = log.record(2, 0.5, {}, 0.1)
    assert rec["samples_per_s"] == rec["it_per_s"] * 8
