"""Suite loading refuses silent nonsense (:mod:`upbench.engine.suite`): every bad value is exit 2
from `suite validate` (and `run`, before any work), naming the key. Bounds are declared with
schema.bound() in every task's sections; the name is one safe path segment; ``--set`` overrides
are bounded too."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.cli.helpers import invoke
from tests.helpers.suites import TINY, merge, write_suite

# (overrides, the key the error must name)
SEGMENTATION = [
    ({"train": {"grad_clip": -1}}, "train.grad_clip"),
    ({"train": {"grad_clip": 0}}, "train.grad_clip"),
    ({"train": {"weight_decay": -0.1}}, "train.weight_decay"),
    ({"train": {"warmup_iters": -5}}, "train.warmup_iters"),
    ({"train": {"momentum": 1.5}}, "train.momentum"),
    ({"train": {"lr": float("nan")}}, "train.lr"),
    ({"train": {"lr": float("inf")}}, "train.lr"),
    ({"train": {"lr": "nan"}}, "train.lr"),
    ({"metrics": {"trimap_widths": [-2]}}, "metrics.trimap_widths[0]"),
    ({"metrics": {"trimap_widths": [2, 2]}}, "metrics.trimap_widths"),
    ({"metrics": {"boundary_dilation_ratio": -0.02}}, "metrics.boundary_dilation_ratio"),
    ({"metrics": {"boundary_dilation_ratio": float("nan")}}, "metrics.boundary_dilation_ratio"),
    ({"dataset": {"max_things": -1}}, "dataset.max_things"),
    ({"dataset": {"max_train": -1}}, "dataset.max_train"),
    ({"dataset": {"max_train": 0}}, "dataset.max_train"),
    ({"dataset": {"max_val": 0}}, "dataset.max_val"),
    ({"profile": {"latency_warmup": -1}}, "profile.latency_warmup"),
    ({"profile": {"flops_size": [10, 10]}}, "profile.flops_size"),
    ({"profile": {"latency_size": [48, 64]}}, "profile.latency_size"),
    ({"upsamplers": []}, "upsamplers"),
    ({"upsamplers": "all", "exclude": None}, "exclude"),
    ({"name": ""}, "name"),
    ({"name": "../../../x"}, "name"),
    ({"name": "a/b"}, "name"),
    ({"name": ".."}, "name"),
    ({"seeds": [0, 0]}, "seeds"),
    ({"seeds": []}, "seeds"),
    ({"threads": 0}, "threads"),
    ({"model": {"widths": [4, 4, -4, 4]}}, "model.widths[2]"),
    ({"upsamplers": [{"carafe": {"up_kernel": "5"}}]}, "upsamplers[0].carafe.up_kernel"),
    ({"upsamplers": [{"carafe": {"up_kernel": 5.5}}]}, "upsamplers[0].carafe.up_kernel"),
    ({"upsamplers": [{"carafe": {"up_kernel": [3]}}]}, "upsamplers[0].carafe.up_kernel"),
    ({"upsamplers": [{"carafe": {"up_kernel": 4}}]}, "upsamplers: carafe(up_kernel=4)"),
    ({"upsamplers": [{"carafe": {"up_group": 3}}]}, "upsamplers: carafe(up_group=3)"),
    ({"upsamplers": [{"sapa-b": {"up_kernel": 4}}]}, "upsamplers: sapa-b(up_kernel=4)"),
]

OTHER_TASKS = [
    ("detection", {"dataset": {"max_objects": -1}}, "dataset.max_objects"),
    ("detection", {"dataset": {"max_objects": 0}}, "dataset.max_objects"),
    ("detection", {"model": {"score_threshold": 1.5}}, "model.score_threshold"),
    ("detection", {"dataset": {"max_val": 0}}, "dataset.max_val"),
    ("depth", {"dataset": {"max_depth": -10}}, "dataset.max_depth"),
    ("depth", {"metrics": {"min_depth": -1}}, "metrics.min_depth"),
    ("depth", {"dataset": {"max_train": -1}}, "dataset.max_train"),
    ("matting", {"dataset": {"val_kernel": 0}}, "dataset.val_kernel"),
    ("matting", {"dataset": {"bg_per_fg": -1}}, "dataset.bg_per_fg"),
    ("matting", {"model": {"full_channels": 0}}, "model.full_channels"),
]


def _refused(path, key=None, *extra):
    """The JSON error of ``suite validate path`` (exit 2), naming ``key`` if given."""
    r = invoke("suite", "validate", path, "--json", *extra)
    assert r.exit_code == 2, r.output
    out = json.loads(r.stdout)
    assert out["valid"] is False and (key is None or out["key"] == key), out
    return out


@pytest.mark.parametrize(("over", "key"), SEGMENTATION, ids=[k for _, k in SEGMENTATION])
def test_segmentation_bounds(tmp_path, over, key):
    if over == {"upsamplers": "all", "exclude": None}:  # every upsampler excluded
        from upbench.upsamplers import list_upsamplers

        over = {"upsamplers": "all", "exclude": list_upsamplers()}
        key = "upsamplers"
    _refused(write_suite(tmp_path / "s.yaml", **over), key)


@pytest.mark.parametrize(("task", "over", "key"), OTHER_TASKS,
                         ids=[f"{t}-{k}" for t, _, k in OTHER_TASKS])
def test_other_task_bounds(tmp_path, task, over, key):
    data = {k: v for k, v in TINY.items() if k not in ("dataset", "model", "metrics")}
    data = merge(data | {"task": task, "dataset": {"train_size": 2, "val_size": 2}}, over)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    _refused(path, key)


def test_run_refuses_before_any_work(tmp_path):
    bad = write_suite(tmp_path / "s.yaml", train={"grad_clip": -1})
    out = tmp_path / "out"
    r = invoke("run", bad, "--out", out)
    assert r.exit_code == 2 and "train.grad_clip" in r.output and "must be > 0" in r.output
    assert not out.exists()


def test_duplicate_seeds_from_the_command_line(tmp_path):
    r = invoke("suite", "validate", write_suite(tmp_path / "s.yaml"), "--seeds", "1,1", "--json")
    assert r.exit_code == 2 and json.loads(r.stdout)["key"] == "seeds"


def test_device_cuda_without_cuda(tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    r = invoke("suite", "validate", write_suite(tmp_path / "s.yaml", device="cuda"), "--json")
    assert r.exit_code == 2
    out = json.loads(r.stdout)
    assert out["key"] == "device" and "set device: cpu" in out["error"]


def test_valid_tiny_suite_passes_with_a_preflight_report(tmp_path):
    r = invoke("suite", "validate", write_suite(tmp_path / "s.yaml"), "--json")
    assert r.exit_code == 0, r.output
    pre = json.loads(r.stdout)["preflight"]
    assert pre["probed"] == ["bilinear"] and 0 < pre["memory"]["estimate_bytes"] < pre["memory"][
        "limit_bytes"]


def test_name_is_one_safe_path_segment(tmp_path):
    for bad in ("../../../x", "", "a/b", ".hidden", "x\\y"):
        out = _refused(write_suite(tmp_path / "s.yaml", name=bad))
        assert out["key"] == "name" and "results/<name>" in out["error"]
    r = invoke("run", write_suite(tmp_path / "s.yaml", name="../../../x"))
    assert r.exit_code == 2
    assert not (tmp_path.parent.parent / "x").exists()


def test_non_finite_hyper_parameter(tmp_path):
    out = _refused(write_suite(tmp_path / "s.yaml", upsamplers=[{"dysample": {"groups": float("nan")}}]))
    assert "finite" in out["error"] or "integer" in out["error"]


def test_set_override_is_bounded_too(tmp_path):
    out = _refused(write_suite(tmp_path / "s.yaml"), None, "--set", "train.grad_clip=-1")
    assert out["key"] == "train.grad_clip"
