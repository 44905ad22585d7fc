"""The segmentation baseline hosts every registered upsampler (registry-driven)."""

from __future__ import annotations

import pytest
import torch

from upbench.engine.flops import count_flops, count_params
from upbench.engine.suite import build_suite
from upbench.tasks import Unhostable
from upbench.tasks.segmentation import TASK, SegBaseline
from upbench.upsamplers import LabelDecoder, get_upsampler_class, list_upsamplers

SMALL = {"widths": [8, 8, 16, 16], "decoder_channels": 8}


@pytest.mark.parametrize("name", list_upsamplers())
def test_every_upsampler_is_hosted_or_na(name):
    try:
        m = SegBaseline(5, name, seed=0, **SMALL)
    except Unhostable as e:
        assert str(e)  # a reason, never a crash
        return
    x = torch.randn(2, 3, 64, 64)
    y = m(x)
    assert y.shape == (2, 5, 64, 64)
    y.mean().backward()
    cls = get_upsampler_class(name)
    assert m.slots == (["up.0", "up.1", "up.2"] if not issubclass(cls, LabelDecoder)
                       else ["fuse", "final_up"] if cls.fused_input else ["final_up"])
    rep = count_flops(m, (torch.zeros(1, 3, 64, 64),), m.slots)
    assert rep.unsupported_ops == {}, f"{name}: FLOP handles missing for {rep.unsupported_ops}"
    assert rep.total > 0 and 0 <= rep.part <= rep.total
    p = count_params(m, m.slots)
    assert 0 <= p["upsampler"] <= p["total"]


def test_same_init_and_slots():
    a = SegBaseline(5, "bilinear", seed=3, **SMALL)
    b = SegBaseline(5, "carafe", seed=3, **SMALL)
    sa, sb = a.state_dict(), b.state_dict()
    shared = [k for k in sa if k.startswith(("encoder", "lateral", "head"))]
    assert shared and all(torch.equal(sa[k], sb[k]) for k in shared)
    assert count_params(a, a.slots)["upsampler"] == 0
    assert count_params(b, b.slots)["upsampler"] > 0
    assert not torch.equal(SegBaseline(5, "bilinear", seed=4, **SMALL).state_dict()[shared[0]],
                           sa[shared[0]])


def test_guided_slot_receives_lateral_feature(monkeypatch):
    seen = []
    cls = get_upsampler_class("bilinear")
    monkeypatch.setattr(cls, "guided", True)

    def spy(self, x, guide=None):
        seen.append((tuple(x.shape), None if guide is None else tuple(guide.shape)))
        return torch.nn.functional.interpolate(x, scale_factor=self.scale)

    monkeypatch.setattr(cls, "forward", spy)
    m = SegBaseline(5, "bilinear", seed=0, **SMALL)
    m(torch.randn(1, 3, 64, 64))
    # x at stride 32/16/8 with D channels; guide = the lateral L4/L3/L2 (D channels) at 2×
    assert seen[:3] == [((1, 8, 2, 2), (1, 8, 4, 4)), ((1, 8, 4, 4), (1, 8, 8, 8)),
                        ((1, 8, 8, 8), (1, 8, 16, 16))]


def test_unhostable_and_bad_input():
    suite = build_suite({"name": "t", "dataset": {"num_classes": 5}, "model": SMALL})
    with pytest.raises(Unhostable, match="up_kernel"):
        TASK.build_model(suite, "carafe", {"up_kernel": 4}, None, 0)
    with pytest.raises(ValueError, match="multiples of 32"):
        SegBaseline(5, "bilinear", **SMALL)(torch.randn(1, 3, 48, 48))


@pytest.fixture
def label_decoder():
    """A throw-away label-space decoder registered for one test, recording what it receives."""
    from torch import nn

    from upbench.upsamplers import register_upsampler
    from upbench.upsamplers._registry import _REGISTRY
    from upbench.upsamplers.label_decoder import LabelDecoder

    seen = []

    @register_upsampler("_test-label")
    class _Label(LabelDecoder):
        guided = True
        needs_pyramid = True

        def __init__(self, in_channels, scale, num_classes=19, impl="auto"):
            super().__init__(in_channels, scale, num_classes, impl)
            self.cls = nn.Conv2d(in_channels, num_classes, 1)

        def forward(self, x, guide=None, pyramid=None):
            seen.append((tuple(x.shape), tuple(guide.shape), [tuple(p.shape) for p in pyramid]))
            up = nn.functional.interpolate(self.cls(guide), scale_factor=self.scale // 8)
            return up

        def extra_losses(self, outputs, target, state=None):
            return {"aux": outputs.float().mean() * 0}

    try:
        yield seen
    finally:
        _REGISTRY.pop("_test-label", None)


def test_label_space_slot_contract(label_decoder):
    m = SegBaseline(5, "_test-label", seed=0, **SMALL)
    assert m.slots == ["final_up"] and m.head is None
    assert m.final_up.scale == 32 and m.final_up.num_classes == 5
    y = m(torch.randn(2, 3, 64, 64))
    assert y.shape == (2, 5, 64, 64)
    # x = P5 (stride 32), guide = P2 (stride 4), pyramid P5..P2, all with D channels
    assert label_decoder[0] == ((2, 8, 2, 2), (2, 8, 16, 16),
                                [(2, 8, 2, 2), (2, 8, 4, 4), (2, 8, 8, 8), (2, 8, 16, 16)])
    losses = m.training_losses((torch.randn(2, 3, 64, 64),), torch.zeros(2, 64, 64, dtype=torch.long))
    assert set(losses) == {"ce", "final_up.aux"}
    assert all(type(u).__name__ == "Bilinear" for u in m.up)  # the top-down slots stay bilinear


def test_final_placement_of_a_feature_upsampler():
    m = SegBaseline(5, "pixelshuffle", seed=0, placement="final", **SMALL)
    assert m.slots == ["final_up"] and m.final_up.scale == 4 and m.final_up.in_channels == 5
    assert all(type(u).__name__ == "Bilinear" for u in m.up)
    assert m(torch.randn(1, 3, 64, 64)).shape == (1, 5, 64, 64)


def test_final_placement_rejected_for_label_space(label_decoder):
    with pytest.raises(Unhostable, match="label-space decoder"):
        SegBaseline(5, "_test-label", placement="decoder", **SMALL)


def test_dupsampling_decodes_the_fused_feature_at_its_paper_stride(monkeypatch):
    """§3.3 / Fig. 2: F = f(concat(downsample(F_i), F_last)) at the decoding stride (16 by
    default, 32 on request), every finer level downsampled to it; NRD keeps stride 32."""
    seen = []
    cls = get_upsampler_class("dupsampling")
    orig = cls.forward

    def spy(self, x, guide=None, pyramid=None):
        seen.append((tuple(x.shape), self.scale))
        return orig(self, x, guide, pyramid)

    monkeypatch.setattr(cls, "forward", spy)
    m = SegBaseline(5, "dupsampling", seed=0, **SMALL)
    assert m(torch.randn(1, 3, 64, 64)).shape == (1, 5, 64, 64)
    assert seen[-1] == ((1, 64, 4, 4), 16)  # C̃ = 64 channels (wider than D = 8) at stride 16
    assert m.fuse[0].in_channels == 3 * 8  # P4 + P3↓ + P2↓
    m = SegBaseline(5, "dupsampling", seed=0, decode_stride=32, **SMALL)
    m(torch.randn(1, 3, 64, 64))
    assert seen[-1] == ((1, 64, 2, 2), 32) and m.fuse[0].in_channels == 4 * 8
    # F has C̃ channels (§3.1): a narrower decoder's fusion layer is widened to C̃, not beyond D
    m = SegBaseline(5, "dupsampling", {"compressed_channels": 16}, seed=0, **SMALL)
    assert m.fuse[0].out_channels == 16 and m.final_up.proj.in_channels == 16
    m = SegBaseline(5, "dupsampling", {"compressed_channels": 4}, seed=0, **SMALL)
    assert m.fuse[0].out_channels == 8 and m.final_up.proj.out_channels == 4
    assert SegBaseline(5, "nrd", seed=0, **SMALL).final_up.scale == 32
    with pytest.raises(Unhostable, match="decode_stride"):
        SegBaseline(5, "nrd", seed=0, decode_stride=8, **SMALL)


def test_decode_stride_is_a_host_setting_of_label_space_entries(tmp_path):
    from upbench.engine import ConfigError, expand, load_suite

    p = tmp_path / "s.yaml"
    p.write_text("name: s\nupsamplers: [dupsampling, {dupsampling: {decode_stride: 32}}, nrd]\n")
    cells = expand(load_suite(p))
    assert [c.label for c in cells] == ["dupsampling", "dupsampling(decode_stride=32)", "nrd"]
    # the resolved stride is part of the cell (recorded when it is not the historical 32)
    assert cells[0].config["upsampler"]["decode_stride"] == 16
    assert "decode_stride" not in cells[1].config["upsampler"]
    assert "decode_stride" not in cells[2].config["upsampler"]
    assert cells[1].suite_config().upsamplers[0].host == {"decode_stride": 32}
    p.write_text("name: s\nupsamplers: [{carafe: {decode_stride: 16}}]\n")
    with pytest.raises(ConfigError, match="decode_stride.*unknown hyper-parameter of 'carafe'"):
        load_suite(p)
    p.write_text("name: s\nupsamplers: [{nrd: {decode_stride: 8}}]\n")
    with pytest.raises(ConfigError, match="16, 32"):
        load_suite(p)
