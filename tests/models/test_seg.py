"""The segmentation baseline hosts every registered upsampler (registry-driven)."""

from __future__ import annotations

import pytest
import torch

from upbench.engine.flops import count_flops, count_params
from upbench.models import SegBaseline, Unhostable, build_model
from upbench.upsamplers import get_upsampler_class, list_upsamplers

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
    assert m.slots == (["up.0", "up.1", "up.2"] if cls.space == "feature" else ["final_up"])
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
    with pytest.raises(Unhostable, match="up_kernel"):
        build_model("seg", 5, "carafe", {"up_kernel": 4})
    with pytest.raises(KeyError, match="baseline"):
        build_model("detection", 5, "bilinear", {})
    with pytest.raises(ValueError, match="multiples of 32"):
        SegBaseline(5, "bilinear", **SMALL)(torch.randn(1, 3, 48, 48))
