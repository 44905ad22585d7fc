"""The paper baseline faster-rcnn-r50-fpn: mmdetection's exact parameter count, its frozen stem
and eval-mode BatchNorms, the slots, ImageNet weights in torchvision's layout, a training step."""

from __future__ import annotations

import pytest
import torch
import torchvision

from tests.helpers.suites import run_stored
from upbench.engine import ConfigError, load_suite
from upbench.engine.flops import count_params
from upbench.tasks.detection import TASK
from upbench.tasks.detection.config import ModelConfig
from upbench.tasks.detection.faster_rcnn import FasterRCNNR50FPN

ALL = 41_753_056  # mmdetection's faster-rcnn_r50_fpn_1x_coco, 80 classes, BN weights included
TRAINABLE = 41_527_712  # printed 41.53 M: stem and layer1 frozen (225,344 fewer)

SUITE = """\
name: det-paper
task: detection
baseline: faster-rcnn-r50-fpn
input_size: [64, 64]
dataset: {num_classes: 3, train_size: 2, val_size: 2}
model: {MODEL}
"""


def build(upsampler="nearest", classes=80, **model):
    return FasterRCNNR50FPN(classes, upsampler, {}, ModelConfig(**model), (64, 64), seed=0)


def test_parameter_count_is_mmdetections():
    m = build()
    assert sum(p.numel() for p in m.parameters()) == ALL
    assert sum(p.numel() for p in m.parameters() if p.requires_grad) == TRAINABLE
    assert count_params(m, m.slots) == {"total": ALL, "upsampler": 0}
    head = m.detector.roi_heads.box_predictor
    assert head.cls_score.out_features == 81 and head.bbox_pred.out_features == 320


def test_slots_are_the_top_down_x2_guided_by_the_laterals():
    m = build("sapa-b")
    rows = m.slot_table()
    assert [r.name for r in rows] == [f"detector.backbone.up.{i}" for i in range(3)]
    assert {(r.in_channels, r.guide_channels, r.scale, r.upsampler) for r in rows} == {
        (256, 256, 2, "sapa-b")}
    assert count_params(m, m.slots)["total"] > ALL


def test_norm_eval_and_frozen_stem_survive_training():
    m = build(classes=3)
    m.train()
    body = m.detector.backbone.encoder
    bns = [x for x in body.modules() if isinstance(x, torch.nn.BatchNorm2d)]
    assert bns and not any(b.training for b in bns)
    frozen = [p for n, p in body.named_parameters() if n.startswith(("conv1", "bn1", "layer1"))]
    assert frozen and not any(p.requires_grad for p in frozen)
    assert all(p.requires_grad for n, p in body.named_parameters() if n.startswith("layer2"))


def test_a_training_step_and_inference():
    m = build(classes=3)
    m.train()
    x = torch.randn(1, 3, 64, 64)
    t = [{"boxes": torch.tensor([[4.0, 6.0, 40.0, 50.0]]), "labels": torch.tensor([2]),
          "iscrowd": torch.tensor([0])}]
    losses = m.training_losses((x,), t)
    sum(losses.values()).backward()
    assert m.detector.backbone.encoder.conv1.weight.grad is None
    assert m.detector.backbone.encoder.layer2[0].conv1.weight.grad is not None
    m.eval()
    det = m.infer(x)
    assert set(det[0]) == {"boxes", "labels", "scores"}
    assert det[0]["labels"].numel() == 0 or int(det[0]["labels"].max()) <= 3


def test_imagenet_weights_in_torchvisions_layout(tmp_path):
    torch.manual_seed(1)
    ref = torchvision.models.resnet50()
    f = tmp_path / "resnet50.pth"
    torch.save(ref.state_dict(), f)
    m = build(weights=str(f))
    rep = m.weights_report
    assert rep.missing == [] and rep.unexpected == [] and rep.layout.startswith("torchvision")
    body = m.detector.backbone.encoder.state_dict()
    assert all(torch.equal(body[k], v) for k, v in ref.state_dict().items() if k in body)
    assert not any(k.startswith("fc.") for k in body)


def _suite(tmp_path, model):
    p = tmp_path / "s.yaml"
    p.write_text(SUITE.replace("{MODEL}", model))
    return load_suite(p)


def test_the_tiny_sizes_do_not_apply_and_weights_need_the_paper_baseline(tmp_path):
    with pytest.raises(ConfigError, match="model.widths.*faster-rcnn-r50-fpn"):
        _suite(tmp_path, "{widths: [8, 8, 16, 16]}")
    s = _suite(tmp_path, "{score_threshold: 0.1}")
    assert TASK.flops_size(s.baseline) == (800, 1333)
    p = tmp_path / "t.yaml"
    p.write_text(SUITE.replace("baseline: faster-rcnn-r50-fpn", "baseline: faster_rcnn_fpn")
                 .replace("{MODEL}", "{weights: imagenet}"))
    with pytest.raises(ConfigError, match="model.weights"):
        load_suite(p)


def test_the_smoke_suite_runs_its_cells(tmp_path):
    suite, _, recs = run_stored("faster-rcnn-r50-fpn-smoke", ["nearest", "dupsampling"],
                                tmp_path / "out", ["profile.flops_size=[64, 64]"])
    assert suite.baseline == "faster-rcnn-r50-fpn"
    assert recs["dupsampling"]["status"] == "n/a"
    r = recs["nearest"]
    assert r["status"] == "ok" and r["params"]["total"] == ALL and "AP" in r["metrics"]
    assert "box head on 1000 proposals" in r["flops"]["counted"]
