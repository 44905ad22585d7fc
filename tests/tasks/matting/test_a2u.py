"""The paper baseline a2u-r34: A2U's exact parameter count (four decoder stages, layer3 of four
blocks), the slots and their guides, ImageNet weights into the 4-channel stem, a training step."""

from __future__ import annotations

import pytest
import torch
import torchvision

from tests.helpers.suites import run_stored
from upbench.engine import ConfigError, load_suite
from upbench.engine.flops import count_params
from upbench.tasks.matting import TASK
from upbench.tasks.matting.a2u import A2UR34

ALL = 8_049_003  # printed 8.05 M (A2U's bilinear baseline: no learnt down/upsampling modules)


def test_parameter_count_is_a2us():
    m = A2UR34("bilinear", seed=0)
    assert sum(p.numel() for p in m.parameters()) == ALL
    assert count_params(m, m.slots) == {"total": ALL, "upsampler": 0}
    assert len(m.encoder.layer3) == 4 and not hasattr(m.encoder, "layer4")


def test_four_slots_guided_by_the_shortcuts():
    m = A2UR34("sapa-i", seed=0)  # equal feature and guide channels: SAPA-I is hostable here
    rows = [(r.name, r.in_channels, r.guide_channels, r.scale) for r in m.slot_table()]
    assert rows == [("up.0", 256, 256, 2), ("up.1", 128, 128, 2), ("up.2", 64, 64, 2),
                    ("up.3", 64, 64, 2)]


def test_training_step_and_prediction_range():
    m = A2UR34("dysample", seed=0)
    m.train()
    img, tri = torch.randn(2, 3, 32, 32), torch.full((2, 1, 32, 32), 128 / 255)
    out = m(img, tri)
    assert out.shape == (2, 1, 32, 32)
    t = {"alpha": torch.rand(2, 1, 32, 32), "trimap": torch.full((2, 1, 32, 32), 128.0),
         "fg": torch.rand(2, 3, 32, 32), "bg": torch.rand(2, 3, 32, 32)}
    sum(m.loss(out, t).values()).backward()
    assert next(m.up[0].parameters()).grad is not None
    pred = m.predict(out.detach() * 10)
    assert float(pred.min()) >= 0 and float(pred.max()) <= 1


def test_imagenet_weights_fill_the_rgb_filters_and_zero_the_trimaps(tmp_path):
    torch.manual_seed(4)
    ref = torchvision.models.resnet34()
    f = tmp_path / "r34.pth"
    torch.save(ref.state_dict(), f)
    m = A2UR34("bilinear", weights=str(f), seed=0)
    rep = m.weights_report
    assert rep.missing == [] and rep.unexpected == [] and "4-channel stem" in rep.layout
    w = m.encoder.conv1.weight
    assert w.shape == (64, 4, 7, 7) and torch.equal(w[:, :3], ref.conv1.weight)
    assert not w[:, 3].any()
    assert torch.equal(m.encoder.layer3[3].conv2.weight, ref.layer3[3].conv2.weight)


def test_suite_keys(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("name: m\ntask: matting\nbaseline: a2u-r34\nmodel: {full_channels: 4}\n")
    with pytest.raises(ConfigError, match="model.full_channels.*a2u-r34"):
        load_suite(p)
    p.write_text("name: m\ntask: matting\nbaseline: a2u-r34\n")
    assert TASK.flops_size(load_suite(p).baseline) == (512, 512)
    p.write_text("name: m\ntask: matting\nbaseline: a2u-r34\ntrain: {batch_size: 1}\n")
    with pytest.raises(ConfigError, match="train.batch_size.*at least 2"):
        load_suite(p)


def test_the_smoke_suite_runs_its_cells(tmp_path):
    suite, _, recs = run_stored("a2u-r34-smoke", ["bilinear", "nrd"], tmp_path / "out",
                                ["profile.flops_size=[64, 64]"])
    assert suite.baseline == "a2u-r34"
    assert recs["nrd"]["status"] == "n/a"
    r = recs["bilinear"]
    assert r["status"] == "ok" and r["params"]["total"] == ALL and "SAD" in r["metrics"]
