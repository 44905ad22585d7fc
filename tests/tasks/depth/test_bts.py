"""The paper baseline bts-r50: BTS's exact parameter count, the four slots and their guides, the
local planar guidance, ImageNet weights for the whole ResNet-50, a training step."""

from __future__ import annotations

import pytest
import torch
import torchvision

from tests.helpers.suites import run_stored
from upbench.engine import ConfigError, load_suite
from upbench.engine.flops import count_params
from upbench.models import Unhostable
from upbench.tasks.depth import TASK
from upbench.tasks.depth.bts import BTSR50, LocalPlanarGuidance

ALL = 49_530_968  # printed 49.53 M: the whole torchvision resnet50 (fc counted) + BTS's decoder
DECODER = 23_973_936


def test_parameter_count_is_bts():
    m = BTSR50("nearest", seed=0)
    assert sum(p.numel() for p in m.parameters()) == ALL
    assert sum(p.numel() for p in m.decoder.parameters()) == DECODER
    assert count_params(m, m.slots) == {"total": ALL, "upsampler": 0}
    # BTS's training freezes the encoder's conv1 and its bn* BatchNorms (not the downsample ones)
    frozen = {n for n, p in m.encoder.named_parameters() if not p.requires_grad}
    assert "conv1.weight" in frozen and "layer3.2.bn2.bias" in frozen
    assert "layer1.0.downsample.1.weight" not in frozen and len(frozen) == 1 + 2 * 49


def test_slots_and_guides():
    m = BTSR50("sapa-b", seed=0)
    rows = [(r.name, r.in_channels, r.guide_channels, r.scale) for r in m.slot_table()]
    assert rows == [("decoder.upconv5.up", 2048, 1024, 2), ("decoder.upconv4.up", 512, 512, 2),
                    ("decoder.upconv3.up", 128, 256, 2), ("decoder.upconv2.up", 128, 64, 2)]
    assert m.decoder.upconv1.up is None
    with pytest.raises(Unhostable, match="cannot be built"):
        BTSR50("sapa-i", seed=0)  # needs the guide's channels equal to the feature's


def test_local_planar_guidance_recovers_a_fronto_parallel_plane():
    lpg = LocalPlanarGuidance(4)
    plane = torch.zeros(1, 4, 2, 3)
    plane[:, 2], plane[:, 3] = 1.0, 2.5  # normal (0, 0, 1), distance 2.5: depth 2.5 everywhere
    out = lpg(plane)
    assert out.shape == (1, 1, 8, 12) and torch.allclose(out, torch.full_like(out, 2.5))
    plane[:, 0] = 0.5  # tilted along u: depth varies across each 4-pixel block, as 1/(0.5u + 1)
    row = lpg(plane)[0, 0, 0, :4]
    u = (torch.arange(4.0) - 1.5) / 4
    torch.testing.assert_close(row, 2.5 / (0.5 * u + 1))


def test_training_step_and_shapes():
    m = BTSR50("dysample", seed=0)
    m.train()
    x = torch.randn(1, 3, 32, 64)
    y = m(x)
    assert y.shape == (1, 1, 32, 64) and 0 < float(y.detach().min()) <= float(y.detach().max()) < 10
    gt = torch.full((1, 1, 32, 64), 3.0)
    m.loss(y, {"depth": gt})["silog"].backward()
    assert next(m.decoder.upconv5.up.parameters()).grad is not None
    assert m.encoder.conv1.weight.grad is None and m.encoder.layer4[0].conv1.weight.grad is not None


def test_imagenet_weights_load_the_whole_resnet50(tmp_path):
    torch.manual_seed(2)
    ref = torchvision.models.resnet50()
    f = tmp_path / "r50.pth"
    torch.save(ref.state_dict(), f)
    m = BTSR50("nearest", weights=str(f), seed=0)
    assert m.weights_report.missing == [] and m.weights_report.unexpected == []
    assert torch.equal(m.encoder.fc.weight, ref.fc.weight)
    assert torch.equal(m.encoder.layer3[1].conv2.weight, ref.layer3[1].conv2.weight)


def test_suite_keys(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("name: d\ntask: depth\nbaseline: bts-r50\nmodel: {decoder_channels: [8, 8, 8, 8]}\n")
    with pytest.raises(ConfigError, match="model.decoder_channels.*bts-r50"):
        load_suite(p)
    p.write_text("name: d\ntask: depth\nbaseline: bts-r50\nmodel: {weights: imagenet}\n")
    s = load_suite(p)
    assert TASK.flops_size(s.baseline) == (480, 640) and s.model.weights == "imagenet"
    p.write_text("name: d\ntask: depth\nmodel: {weights: imagenet}\n")
    with pytest.raises(ConfigError, match="model.weights"):
        load_suite(p)


def test_the_smoke_suite_runs_its_cells(tmp_path):
    suite, _, recs = run_stored("bts-r50-smoke", ["nearest", "sapa-i"], tmp_path / "out",
                                ["profile.flops_size=[64, 64]"])
    assert suite.baseline == "bts-r50"
    assert recs["sapa-i"]["status"] == "n/a" and "guide_channels" in recs["sapa-i"]["error"]
    r = recs["nearest"]
    assert r["status"] == "ok" and r["params"]["total"] == ALL and "abs_rel" in r["metrics"]
