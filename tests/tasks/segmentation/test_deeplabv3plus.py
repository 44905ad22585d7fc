"""deeplabv3plus-r50: mmseg's deeplabv3plus_r50-d8 to the parameter, hosting every label-space
decoder as its paper does, LaU on the class scores and feature upsamplers in the ×2 cascade."""

from __future__ import annotations

import pytest
import torch

from tests.helpers.suites import run_stored
from upbench.engine.flops import count_flops, count_params
from upbench.engine.preflight import probe_entry
from upbench.engine.suite import build_suite, load_suite
from upbench.tasks import Unhostable
from upbench.tasks.segmentation import TASK, DeepLabV3Plus
from upbench.upsamplers import get_upsampler_class, list_upsamplers
from upbench.utils.schema import ConfigError

ENCODER = 23_527_264  # ResNetV1c-50 without fc (tests/models/test_resnet.py)
# mmseg DepthwiseSeparableASPPHead(in 2048, channels 512, c1 256 → 48), without conv_seg:
HEAD = (2048 * 512 + 1024  # image_pool: 1×1 conv + BN
        + 2048 * 512 + 1024  # aspp_modules.0: 1×1 conv + BN
        + 3 * (2048 * 9 + 4096 + 2048 * 512 + 1024)  # 3 separable branches: dw + BN, pw + BN
        + 2560 * 512 * 9 + 1024  # bottleneck 3×3 2560→512 + BN
        + 256 * 48 + 96  # c1_bottleneck 1×1 + BN
        + 560 * 9 + 1120 + 560 * 512 + 1024  # sep_bottleneck.0 separable 560→512
        + 512 * 9 + 1024 + 512 * 512 + 1024)  # sep_bottleneck.1 separable 512→512


def conv_seg(k: int) -> int:
    return 512 * k + k


LABEL = [n for n in list_upsamplers() if get_upsampler_class(n).space == "label"]


def test_exact_parameter_count():
    assert HEAD == 17_688_176
    assert ENCODER + HEAD + conv_seg(150) == 41_292_390
    assert ENCODER + HEAD + conv_seg(19) == 41_225_187
    for k, total in ((150, 41_292_390), (19, 41_225_187)):
        m = DeepLabV3Plus(k, "bilinear", seed=0)
        assert count_params(m, m.slots) == {"total": total, "upsampler": 0}
        assert sum(p.numel() for p in m.backbone.parameters()) == ENCODER
        assert sum(p.numel() for p in m.decode_head.parameters()) == HEAD + conv_seg(k)
    assert m.decode_head.dilations == (1, 12, 24, 36)  # the -d8 config
    # NRD hosted at K = 19 (docs/baselines.md: upbench's NRD module vs the official head)
    nrd = DeepLabV3Plus(19, "nrd", seed=0)
    assert sum(p.numel() for p in nrd.final_up.parameters()) == 3_415_187
    assert sum(p.numel() for p in nrd.decode_head.parameters()) == 17_113_088  # ASPP only


def _spy(m):
    seen = {}
    m.final_up.register_forward_pre_hook(
        lambda mod, args: seen.update(shapes=[None if a is None else
                                              [tuple(t.shape) for t in a] if isinstance(a, list)
                                              else tuple(a.shape) for a in args]))
    return seen


@pytest.mark.parametrize("name", ["bilinear", "lau", *LABEL])
def test_hosts_label_decoders_bilinear_and_lau(name):
    torch.manual_seed(0)
    placement = "final" if name == "lau" else None
    m = DeepLabV3Plus(5, name, seed=0, placement=placement)
    seen = _spy(m)
    n = 32
    x = torch.randn(2, 3, n, n)
    y = m(x)
    assert y.shape == (2, 5, n, n)
    y.mean().backward()
    cls = get_upsampler_class(name)
    rows = m.slot_table()
    if name == "bilinear":  # the original network: OS 8, one ×2 1/8 → 1/4, bilinear ×4
        assert m.output_stride == 8 and [(r.name, r.in_channels, r.scale) for r in rows] == [
            ("up.0", 512, 2)]
        assert seen["shapes"] == [(2, 5, n // 4, n // 4)]
    elif name == "lau":  # the final ×4 of the class scores; the rest bilinear
        assert [(r.name, r.in_channels, r.scale, r.upsampler) for r in rows] == [
            ("final_up", 5, 4, "lau")]
        assert m.slots == ["final_up"] and m.output_stride == 8
    else:
        s = cls.decode_stride
        assert m.output_stride == s and m.slots == ["final_up"]
        assert [(r.in_channels, r.scale) for r in rows] == [(512, s)]
        xs, guide, pyramid = seen["shapes"]
        assert xs == (2, 512, n // s, n // s)
        if cls.guided:  # NRD: C2 (256 ch, 1/4) guidance, NRD's ASPP rates at OS 32
            assert guide == (2, 256, n // 4, n // 4) and rows[0].guide_channels == 256
            assert m.decode_head.dilations == (1, 3, 6, 9) and m.decode_head.sep_bottleneck is None
        if cls.needs_pyramid:  # the decoder pyramid 1/s … 1/4, 512 ch
            assert pyramid == [(2, 512, n // s << i, n // s << i) for i in range(len(pyramid))]
            assert pyramid[-1][2] == n // 4
        if cls.fused_input:  # DUpsampling: the decoder's fusion at the decoding stride
            assert m.decode_head.sep_bottleneck is not None and m.decode_head.conv_seg is None
    p = count_params(m, m.slots)
    assert 0 <= p["upsampler"] < p["total"]


def test_feature_upsamplers_take_the_cascade_guided_by_encoder_features():
    m = DeepLabV3Plus(5, "sapa-b", seed=0, output_stride=32)
    assert [(r.name, r.in_channels, r.guide_channels, r.scale) for r in m.slot_table()] == [
        ("up.0", 512, 1024, 2), ("up.1", 512, 512, 2), ("up.2", 512, 256, 2)]
    assert m.decode_head.dilations == (1, 3, 6, 9)
    m = DeepLabV3Plus(5, "carafe", seed=0, output_stride=16)
    assert m.slots == ["up.0", "up.1"] and m.decode_head.dilations == (1, 6, 12, 18)
    b = DeepLabV3Plus(5, "bilinear", seed=0, output_stride=16)
    sa, sb = m.state_dict(), b.state_dict()
    shared = [k for k in sb if k.startswith(("backbone", "decode_head"))]
    assert shared and all(torch.equal(sa[k], sb[k]) for k in shared)  # same start
    y = m(torch.randn(2, 3, 32, 32))
    assert y.shape == (2, 5, 32, 32)
    rep = count_flops(m, (torch.zeros(1, 3, 32, 32),), m.slots)
    assert rep.unsupported_ops == {} and 0 < rep.part < rep.total
    with pytest.raises(Unhostable, match="guided"):
        DeepLabV3Plus(5, "sapa-b", placement="final")
    with pytest.raises(Unhostable, match="label-space decoder"):
        DeepLabV3Plus(5, "nrd", placement="decoder")
    with pytest.raises(ValueError, match="multiples of 32"):
        b(torch.randn(1, 3, 48, 48))


def _suite(tmp_path, model: str = "", extra: str = ""):
    p = tmp_path / "s.yaml"
    p.write_text(f"name: s\ntask: segmentation\nbaseline: deeplabv3plus-r50\ninput_size: [32, 32]\n"
                 f"dataset: {{num_classes: 4}}\nmodel: {{{model}}}\nupsamplers: [bilinear]\n"
                 f"train: {{batch_size: 2}}\n{extra}")
    return load_suite(p), p


def test_suite_settings_and_weights_errors(tmp_path):
    suite, _ = _suite(tmp_path, "output_stride: 32")
    assert TASK.baseline("deeplabv3plus-r50").paper
    assert TASK.flops_size("deeplabv3plus-r50") == (512, 512)
    m = TASK.build_model(suite, "bilinear", {}, None, 0)
    assert isinstance(m, DeepLabV3Plus) and m.output_stride == 32 and m.weights_report is None
    with pytest.raises(ConfigError, match="model.output_stride.*deeplabv3plus-r50"):
        build_suite({"name": "t", "model": {"output_stride": 16}}, "t.yaml")
    with pytest.raises(ConfigError, match="model.output_stride"):
        _suite(tmp_path, "output_stride: 4")
    with pytest.raises(ConfigError, match="model.weights.*trained from scratch"):
        build_suite({"name": "t", "model": {"weights": "x.pth"}}, "t.yaml")
    f = tmp_path / "w.pth"
    torch.save({"patch_embed1.proj.weight": torch.zeros(64, 3, 7, 7)}, f)
    suite, _ = _suite(tmp_path, f"weights: {f}")
    with pytest.raises(ConfigError, match="model.weights.*matches none of the key layouts"):
        probe_entry(suite, suite.upsamplers[0], [32, 32])
    suite, _ = _suite(tmp_path, f"weights: {tmp_path / 'absent.pth'}")
    with pytest.raises(ConfigError, match="no such file"):
        probe_entry(suite, suite.upsamplers[0], [32, 32])
    from upbench.models.resnet_v1c import ResNetV1c

    torch.save(ResNetV1c().state_dict(), f)
    suite, _ = _suite(tmp_path, f"weights: {f}")
    m = TASK.build_model(suite, "bilinear", {}, None, 0)
    assert m.weights_report.layout == "mmseg" and m.weights_report.missing == []


def test_smoke_suite_cells_run(tmp_path):
    """Two cells of suites/deeplabv3plus-r50-smoke.yaml (the suite runs every one: see the
    issue report), shrunk further: a label-space decoder and the reference."""
    suite, summary, recs = run_stored(
        "deeplabv3plus-r50-smoke", ["bilinear", "nrd"], tmp_path / "out",
        ["input_size=[32, 32]", "train.iterations=1", "profile.flops=false",
         "dataset.train_size=2", "dataset.val_size=2"])
    assert {e.label for e in suite.upsamplers} >= {"bilinear", *LABEL, "lau(placement=final)"}
    assert summary.exit_code == 0 and set(recs) == {"bilinear", "nrd"}
    assert all(r["status"] == "ok" and r["baseline"] == "deeplabv3plus-r50" for r in recs.values())
    assert recs["nrd"]["params"]["upsampler"] > 0 == recs["bilinear"]["params"]["upsampler"]
