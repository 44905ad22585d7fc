"""The depth task: BTS-style baseline hosting, the NYU layout loader, synthetic rooms, a cell end
to end."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from tests.data.layouts import NYU_TEST_LIST, NYU_TRAIN_LIST, make_nyu
from upbench.engine import ConfigError, expand, load_suite
from upbench.engine.flops import count_flops
from upbench.engine.runner import run_cell
from upbench.tasks import Unhostable
from upbench.tasks.depth import TASK, DepthBaseline
from upbench.tasks.depth.model import silog_loss
from upbench.upsamplers import get_upsampler_class, list_upsamplers

SMALL = {"widths": [8, 8, 16, 16], "decoder_channels": [8, 8, 8, 8]}


@pytest.mark.parametrize("name", list_upsamplers())
def test_every_upsampler_is_hosted_or_na(name):
    try:
        m = DepthBaseline(name, seed=0, **SMALL)
    except Unhostable as e:
        cls = get_upsampler_class(name)
        assert cls.space == "label" or name == "sapa-i", f"{name}: {e}"
        assert str(e)
        return
    y = m(torch.randn(2, 3, 64, 64))
    assert y.shape == (2, 1, 64, 64) and float(y.detach().min()) > 0 and float(y.detach().max()) < 10
    m.loss(y, {"depth": torch.rand(2, 1, 64, 64) * 5})["silog"].backward()
    rep = count_flops(m, (torch.zeros(1, 3, 64, 64),), m.slots)
    assert rep.unsupported_ops == {} and 0 < rep.part <= rep.total
    assert m.slots == ["up.0", "up.1", "up.2", "up.3"]


def test_guided_slots_get_the_encoder_skip_and_sapa_i_is_na(monkeypatch):
    # encoder and decoder channels differ (C5 = 32 is upsampled, the skip C4 has 16)
    with pytest.raises(Unhostable, match="guide_channels"):
        DepthBaseline("sapa-i", seed=0, widths=[8, 8, 16, 32], decoder_channels=[8, 8, 8, 8])
    seen = []
    cls = get_upsampler_class("bilinear")
    monkeypatch.setattr(cls, "guided", True)

    def spy(self, x, guide=None):
        seen.append((tuple(x.shape), tuple(guide.shape)))
        return torch.nn.functional.interpolate(x, scale_factor=2)

    monkeypatch.setattr(cls, "forward", spy)
    DepthBaseline("bilinear", seed=0, **SMALL)(torch.randn(1, 3, 64, 64))
    # x: C5, then the decoder features; guide: C4, C3, C2 and the stride-2 stem feature
    assert seen == [((1, 16, 2, 2), (1, 16, 4, 4)), ((1, 8, 4, 4), (1, 8, 8, 8)),
                    ((1, 8, 8, 8), (1, 8, 16, 16)), ((1, 8, 16, 16), (1, 8, 32, 32))]


def test_same_init_for_every_upsampler():
    a = DepthBaseline("nearest", seed=3, **SMALL).state_dict()
    b = DepthBaseline("carafe", seed=3, **SMALL).state_dict()
    shared = [k for k in a if not k.startswith(("up.", "adapt."))]
    assert shared and all(torch.equal(a[k], b[k]) for k in shared)


def test_silog_loss_is_bts():
    gt = torch.tensor([1.0, 2.0, 0.0, 4.0])
    pred = torch.tensor([2.0, 2.0, 5.0, 2.0])
    d = torch.log(pred[[0, 1, 3]]) - torch.log(gt[[0, 1, 3]])
    want = 10 * torch.sqrt((d**2).mean() - 0.85 * d.mean() ** 2)
    torch.testing.assert_close(silog_loss(pred, gt, 1e-3, 10.0), want)
    assert float(silog_loss(pred, torch.zeros(4), 1e-3, 10.0)) == 0  # no valid pixel


SUITE = """\
name: d
task: depth
input_size: [32, 32]
dataset: {DATASET}
model: {widths: [8, 8, 8, 16], decoder_channels: [8, 8, 8, 8]}
train: {iterations: 2, batch_size: 2, eval_batch_size: 2}
upsamplers: [nearest, bilinear, sapa-i, nrd]
threads: 1
profile: {flops_size: [64, 64], latency_size: [64, 64], latency_repeats: 2, latency_warmup: 1, memory: false}
"""


NYU_DS = (f"{{kind: folder, format: nyu, root: nyu, train_list: {NYU_TRAIN_LIST}, "
          f"val_list: {NYU_TEST_LIST}}}")


def test_nyu_layout_loader_and_check_data(tmp_path):
    make_nyu(tmp_path / "nyu")
    suite_file = tmp_path / "s.yaml"
    suite_file.write_text(SUITE.replace("{DATASET}", NYU_DS))
    suite = load_suite(suite_file)
    TASK.check_data(suite, str(suite_file), deep=True)
    train, val = TASK.splits(suite)
    assert len(train) == 3 and len(val) == 2
    (x,), t = train.batch(torch.tensor([0, 1]), torch.tensor([False, True]))
    assert x.shape == (2, 3, 32, 32) and t["depth"].shape == (2, 1, 32, 32)
    d = t["depth"][0, 0]
    assert float(d[0, 0]) == 0 and 0.5 <= float(d[d > 0].min()) and float(d.max()) <= 9.0
    # a wrong line, a missing file, an 8-bit depth map: clear errors naming the file
    test_list, scene = tmp_path / "nyu" / NYU_TEST_LIST, "official_splits/test/scene_0000"
    test_list.write_text(f"{scene}/rgb_00000.jpg {scene}/sync_depth_00000.png\n")
    with pytest.raises(ConfigError, match=rf"{NYU_TEST_LIST}:1: expected '<rgb path> <depth "
                       "path> <focal>'"):
        TASK.check_data(suite, str(suite_file))
    test_list.write_text(f"{scene}/rgb_00000.jpg {scene}/sync_depth_00009.png 518.8\n")
    with pytest.raises(ConfigError, match="00009.png does not exist"):
        TASK.check_data(suite, str(suite_file))
    Image.fromarray(np.zeros((48, 64), np.uint8)).save(tmp_path / "nyu" / scene / "8bit.png")
    test_list.write_text(f"{scene}/rgb_00000.jpg {scene}/8bit.png 518.8\n")
    with pytest.raises(ConfigError, match="16-bit"):
        TASK.check_data(suite, str(suite_file))
    suite_file.write_text(SUITE.replace("{DATASET}", NYU_DS.replace("_train_", "_trian_")))
    with pytest.raises(ConfigError, match=f"did you mean.*{NYU_TRAIN_LIST}"):
        load_suite(suite_file)


def test_synthetic_rooms_are_seeded_and_learnable_geometry():
    from upbench.data.depth_synthetic import synthetic_depth_split

    _x, d = synthetic_depth_split("train", 8, (32, 32))
    _x2, d2 = synthetic_depth_split("train", 8, (32, 32))
    assert torch.equal(d, d2) and not torch.equal(d, synthetic_depth_split("val", 8, (32, 32))[1])
    valid = d > 0
    assert 0.9 < float(valid.float().mean()) < 1.0  # a few invalid holes
    # perspective: the floor (bottom rows) is nearer than the image's middle rows on average
    assert float(d[:, :, -2:][valid[:, :, -2:]].mean()) < float(d[:, :, 14:18][valid[:, :, 14:18]].mean())


def test_a_depth_cell_end_to_end(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(SUITE.replace("{DATASET}", "{train_size: 8, val_size: 4}"))
    cells = expand(load_suite(p))
    rec = run_cell(cells[1])  # bilinear
    assert rec["status"] == "ok", rec.get("error")
    assert set(rec["metrics"]) >= {"abs_rel", "rmse", "d1", "silog", "log10"}
    assert rec["speed"]["reference"] == "nearest" and rec["flops"]["unsupported_ops"] == {}
    assert "constant predictor" in rec["diagnostics"]["note"]
    na = {c.label: run_cell(c) for c in cells if c.label in ("sapa-i", "nrd")}
    assert all(r["status"] == "n/a" and r["error"] for r in na.values())
