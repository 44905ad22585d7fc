"""The matting task: A2U-style hosting, the loss, synthetic composites, the Composition-1k
layout loader and a cell end to end."""

from __future__ import annotations

import pytest
import torch

from tests.data.layouts import make_composition1k
from upbench.engine import ConfigError, expand, load_suite
from upbench.engine.flops import count_flops
from upbench.engine.runner import run_cell
from upbench.tasks import Unhostable
from upbench.tasks.matting import TASK, MattingBaseline
from upbench.tasks.matting.model import charbonnier
from upbench.upsamplers import get_upsampler_class, list_upsamplers

SMALL = {"widths": [8, 8, 16, 16], "full_channels": 4, "decoder_channels": [8, 8, 8, 8, 4]}


@pytest.mark.parametrize("name", list_upsamplers())
def test_every_upsampler_is_hosted_in_every_stage_or_na(name):
    try:
        m = MattingBaseline(name, seed=0, **SMALL)
    except Unhostable as e:
        assert get_upsampler_class(name).space == "label" or name == "sapa-i", f"{name}: {e}"
        return
    image, trimap = torch.randn(2, 3, 64, 64), torch.full((2, 1, 64, 64), 0.5)
    alpha = m(image, trimap)
    assert alpha.shape == (2, 1, 64, 64) and 0 < float(alpha.detach().min())
    t = {"alpha": torch.rand(2, 1, 64, 64), "fg": torch.rand(2, 3, 64, 64),
         "bg": torch.rand(2, 3, 64, 64), "trimap": torch.full((2, 1, 64, 64), 128.0)}
    sum(m.loss(alpha, t).values()).backward()
    rep = count_flops(m, (image[:1], trimap[:1]), m.slots)  # both inputs profiled
    assert rep.unsupported_ops == {} and 0 < rep.part < rep.total
    assert m.slots == [f"up.{i}" for i in range(5)]


def test_guided_stages_get_the_encoder_feature_including_full_resolution(monkeypatch):
    seen = []
    cls = get_upsampler_class("bilinear")
    monkeypatch.setattr(cls, "guided", True)

    def spy(self, x, guide=None):
        seen.append((tuple(x.shape[2:]), tuple(guide.shape)))
        return torch.nn.functional.interpolate(x, scale_factor=2)

    monkeypatch.setattr(cls, "forward", spy)
    MattingBaseline("bilinear", seed=0, **SMALL)(torch.randn(1, 3, 64, 64),
                                                   torch.zeros(1, 1, 64, 64))
    assert [s[1][2:] for s in seen] == [(4, 4), (8, 8), (16, 16), (32, 32), (64, 64)]
    assert seen[-1][1][1] == 4  # the full-resolution shortcut feature


def test_a2u_loss_is_charbonnier_over_the_unknown_region():
    out = torch.tensor([[[[0.2, 0.9]]]])
    t = {"alpha": torch.tensor([[[[0.5, 0.0]]]]), "trimap": torch.tensor([[[[128.0, 255.0]]]]),
         "fg": torch.ones(1, 3, 1, 2), "bg": torch.zeros(1, 3, 1, 2)}
    m = MattingBaseline("bilinear", seed=0, **SMALL)
    losses = m.loss(out, t)
    want = 0.5 * (0.3**2 + 1e-12) ** 0.5  # only the unknown pixel counts
    assert float(losses["alpha"]) == pytest.approx(want)
    assert float(losses["composition"]) == pytest.approx(want)  # fg = 1, bg = 0: comp = alpha
    assert float(charbonnier(torch.ones(1, 1, 2, 2), torch.zeros(1, 1, 2, 2, dtype=bool))) == 0


SUITE = """\
name: m
task: matting
input_size: [32, 32]
dataset: {DATASET}
model: {widths: [8, 8, 16, 16], full_channels: 4, decoder_channels: [8, 8, 8, 8, 4]}
train: {iterations: 2, batch_size: 2, eval_batch_size: 2}
upsamplers: [bilinear, nrd]
threads: 1
profile: {flops_size: [64, 64], latency_size: [64, 64], latency_repeats: 2, latency_warmup: 1, memory: false}
"""


def test_composition1k_layout_loader(tmp_path):
    make_composition1k(tmp_path / "adobe")
    p = tmp_path / "s.yaml"
    p.write_text(SUITE.replace("{DATASET}", "{kind: folder, format: composition1k, root: adobe, "
                               "bg_per_fg: 2}"))
    suite = load_suite(p)
    TASK.check_data(suite, str(p), deep=True)
    train, val = TASK.splits(suite)
    assert len(train) == 4 and len(val) == 2
    (image, trimap), t = train.batch(torch.tensor([0, 3]))
    assert image.shape == (2, 3, 32, 32) and trimap.shape == (2, 1, 32, 32)
    assert set(t) == {"image", "fg", "bg", "alpha", "trimap"}
    torch.testing.assert_close(t["image"], t["alpha"] * t["fg"] + (1 - t["alpha"]) * t["bg"])
    assert set(torch.unique(t["trimap"]).tolist()) <= {0.0, 128.0, 255.0}
    (_, vtri), vt = val.batch(torch.tensor([1]))
    assert set(vt) == {"image", "alpha", "trimap"} and float(vtri.max()) <= 1
    (tmp_path / "adobe" / "test" / "trimaps" / "t1.png").unlink()
    with pytest.raises(ConfigError, match="no trimap for t1.png"):
        TASK.check_data(suite, str(p))


def test_synthetic_composites_need_the_image():
    from upbench.data.matting_synthetic import synthetic_matting_split

    d = synthetic_matting_split("val", 4, (32, 32))
    alpha, tri = d["alpha"], d["trimap"]
    assert ((alpha > 0) & (alpha < 1)).any()  # soft alpha
    partial = (alpha > 0) & (alpha < 1)
    assert bool((tri[partial] == 128).all())  # every soft pixel is unknown
    assert bool((tri[alpha == 1] != 0).all()) and bool((tri[alpha == 0] != 255).all())
    torch.testing.assert_close(d["image"], (alpha * d["fg"] + (1 - alpha) * d["bg"]).clamp(0, 1),
                               atol=0.05, rtol=0)


def test_a_matting_cell_end_to_end(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(SUITE.replace("{DATASET}", "{train_size: 4, val_size: 2}"))
    cells = expand(load_suite(p))
    rec = run_cell(cells[0])
    assert rec["status"] == "ok", rec.get("error")
    assert set(rec["metrics"]) >= {"SAD", "MSE", "Grad", "Conn"}
    assert rec["speed"]["reference"] == "bilinear" and rec["flops"]["unsupported_ops"] == {}
    assert "alpha = trimap" in rec["diagnostics"]["note"]
    assert run_cell(cells[1])["status"] == "n/a"
