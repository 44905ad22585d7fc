"""Mixed precision (train.precision) and channels-last: every registered upsampler trains a step
and evaluates under bf16 autocast on CPU in every task that can host it; fp16 with its grad
scaler; the recipe keys' validation."""

from __future__ import annotations

import math

import pytest
import torch

from upbench.engine.suite import build_suite
from upbench.engine.train import evaluate, train
from upbench.tasks import Unhostable
from upbench.upsamplers import list_upsamplers
from upbench.utils.schema import ConfigError

TINY = {
    "segmentation": {"input_size": [32, 32],
                     "dataset": {"kind": "synthetic", "num_classes": 4, "train_size": 4,
                                 "val_size": 2},
                     "model": {"widths": [4, 8, 8, 8], "decoder_channels": 8}},
    "depth": {"input_size": [32, 32],
              "dataset": {"kind": "synthetic", "train_size": 4, "val_size": 2},
              "model": {"widths": [4, 8, 8, 8], "decoder_channels": [8, 8, 8, 8]}},
    "matting": {"input_size": [32, 32],
                "dataset": {"kind": "synthetic", "train_size": 4, "val_size": 2},
                "model": {"widths": [4, 8, 8, 8], "full_channels": 4,
                          "decoder_channels": [8, 8, 8, 8, 8]}},
    # the paper baseline (MiT-B1 + SegFormer head): LayerNorm, attention, six cascaded slots
    "segformer-b1": {"task": "segmentation", "baseline": "segformer-b1", "input_size": [32, 32],
                     "dataset": {"kind": "synthetic", "num_classes": 4, "train_size": 4,
                                 "val_size": 2}},
    "detection": {"input_size": [64, 64],
                  "dataset": {"kind": "synthetic", "num_classes": 3, "train_size": 4,
                              "val_size": 2},
                  "model": {"widths": [4, 8, 8, 8], "fpn_channels": 8,
                            "representation_size": 16}},
}


def tiny_suite(task: str, **train):
    """A tiny suite of ``task`` (a key of TINY: a task, or a task's paper baseline)."""
    raw = {"name": "t", "task": task, "upsamplers": "all", "threads": 1,
           "train": {"iterations": 1, "batch_size": 2, "eval_batch_size": 2} | train} | TINY[task]
    return build_suite(raw)


def _train_and_eval(suite, entry):
    task = suite.task_def
    try:
        model = task.build_model(suite, entry.name, entry.hparams, entry.placement, 0,
                                 **entry.host)
    except Unhostable:
        return None
    tr, va = task.splits(suite)
    rec = train(model, tr, suite.train, 0, torch.device("cpu"))
    metrics = evaluate(model, va, task.evaluator(suite), 2, torch.device("cpu"),
                       suite.train.precision, suite.train.channels_last)
    return rec, metrics


@pytest.mark.parametrize("task", [pytest.param(t, marks=pytest.mark.slow) if t == "segformer-b1"
                                  else t for t in sorted(TINY)])
def test_every_upsampler_trains_and_evaluates_under_bf16(native, task):
    suite = tiny_suite(task, precision="bf16")
    hosted = 0
    for entry in suite.upsamplers:
        out = _train_and_eval(suite, entry)
        if out is None:
            continue
        rec, metrics = out
        hosted += 1
        assert math.isfinite(rec["final_loss"]), entry.name
        assert rec["precision"] == "bf16"
        primary = suite.task_def.primary.key
        assert metrics[primary] is not None and not (isinstance(metrics[primary], float)
                                                     and math.isnan(metrics[primary])), entry.name
    assert hosted >= 6
    assert len(suite.upsamplers) == len(list_upsamplers())


def test_fp16_with_grad_scaler_and_channels_last(native):
    suite = tiny_suite("segmentation", precision="fp16", channels_last=True, iterations=2)
    for entry in suite.upsamplers:
        if entry.name in ("fade", "dysample", "carafe", "sapa-b"):
            rec, metrics = _train_and_eval(suite, entry)
            assert math.isfinite(rec["final_loss"]) and rec["precision"] == "fp16"
            assert 0 <= metrics["mIoU"] <= 100


def test_fp32_default_is_the_plain_loop(native):
    """precision fp32 (the default) leaves the config, the hash and the numbers as before."""
    a = tiny_suite("segmentation")
    b = tiny_suite("segmentation", precision="fp32", channels_last=False, workers=0)
    from upbench.engine.suite import expand

    assert [c.hash for c in expand(a)] == [c.hash for c in expand(b)]
    assert "precision" not in expand(a)[0].config["train"]
    c = tiny_suite("segmentation", precision="bf16")
    assert expand(c)[0].config["train"]["precision"] == "bf16"
    assert expand(c)[0].hash != expand(a)[0].hash


@pytest.mark.parametrize(("key", "value", "match"), [
    ("precision", "fp8", "must be one of 'fp32', 'bf16', 'fp16'"),
    ("workers", -1, "must be >= 0"),
    ("devices", 0, "must be >= 1"),
    ("devices", 3, "multiple of devices"),
    ("sync_bn", True, "needs devices > 1"),
    ("checkpoint_every", 0, "must be >= 1"),
])
def test_bad_recipe_keys(key, value, match):
    with pytest.raises(ConfigError, match=match):
        tiny_suite("segmentation", **{key: value})
