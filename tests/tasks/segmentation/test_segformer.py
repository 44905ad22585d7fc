"""The segformer-b1 baseline: exact size, slots, and weights in every layout it accepts."""

from __future__ import annotations

import re

import pytest
import torch

from tests.helpers.suites import run_stored
from upbench.engine import expand, load_suite
from upbench.engine.preflight import preflight
from upbench.models.slots import Unhostable
from upbench.models.weights import WeightsError
from upbench.tasks.segmentation import TASK, SegBaseline
from upbench.tasks.segmentation.segformer import SegFormer
from upbench.utils.schema import ConfigError

K = 150


def test_exact_parameter_counts():
    """13,735,148 = the printed 13.74 M (SAPA Table 2, K = 150): encoder 13,151,424, head
    564,374 and mmseg's unused conv_seg 19,350."""
    m = SegFormer(K, "bilinear", seed=0)
    count = lambda mod: sum(p.numel() for p in mod.parameters())
    assert count(m) == 13_735_148
    assert count(m.backbone) == 13_151_424
    assert count(m.decode_head.conv_seg) == 19_350
    assert count(SegFormer(K, "bilinear", unused_conv_seg=False)) == 13_715_798


def test_bilinear_is_the_original_network_and_others_get_six_slots():
    m = SegFormer(K, "bilinear", seed=0)
    assert [(s.name, s.in_channels, s.guide_channels, s.scale) for s in m.slot_table()] == [
        ("decode_head.up_c4.0", 256, None, 8), ("decode_head.up_c3.0", 256, None, 4),
        ("decode_head.up_c2.0", 256, None, 2)]
    names = ["decode_head.up_c4.0", "decode_head.up_c4.1", "decode_head.up_c4.2",
             "decode_head.up_c3.0", "decode_head.up_c3.1", "decode_head.up_c2.0"]
    for up, guide in (("sapa-b", 256), ("carafe", None)):
        rows = SegFormer(K, up, seed=0).slot_table()
        assert [(s.name, s.in_channels, s.guide_channels, s.scale, s.upsampler) for s in rows] \
            == [(n, 256, guide, 2, up) for n in names]
    # SAPA Table 2's parameter deltas over bilinear: CARAFE +0.44 M, SAPA-B +0.10 M, SAPA-I 0
    base = sum(p.numel() for p in m.parameters())
    for up, delta in (("carafe", 0.44), ("sapa-b", 0.10), ("sapa-i", 0.0)):
        n = sum(p.numel() for p in SegFormer(K, up, seed=0).parameters())
        assert round((n - base) / 1e6, 2) == delta


def test_guides_are_the_projected_finer_maps(monkeypatch):
    from upbench.upsamplers import get_upsampler_class

    seen = []
    cls = get_upsampler_class("sapa-i")
    orig = cls.forward

    def spy(self, x, guide=None):
        seen.append((tuple(x.shape), tuple(guide.shape)))
        return orig(self, x, guide)

    monkeypatch.setattr(cls, "forward", spy)
    m = SegFormer(4, "sapa-i", seed=0)
    assert m(torch.randn(1, 3, 64, 64)).shape == (1, 4, 16, 16)
    assert seen == [((1, 256, 2, 2), (1, 256, 4, 4)), ((1, 256, 4, 4), (1, 256, 8, 8)),
                    ((1, 256, 8, 8), (1, 256, 16, 16)), ((1, 256, 4, 4), (1, 256, 8, 8)),
                    ((1, 256, 8, 8), (1, 256, 16, 16)), ((1, 256, 8, 8), (1, 256, 16, 16))]


def test_label_space_decoders_and_final_placement_are_na():
    for name in ("dupsampling", "nrd"):
        with pytest.raises(Unhostable, match="deeplabv3plus-r50"):
            SegFormer(K, name)
    with pytest.raises(Unhostable, match="placement"):
        SegFormer(K, "carafe", placement="final")


def test_loss_and_prediction_at_the_image_size():
    m = SegFormer(5, "bilinear", seed=0)
    x, y = torch.randn(2, 3, 64, 64), torch.randint(0, 5, (2, 64, 64))
    y[0, :4] = 255
    out = m(x)
    assert out.shape == (2, 5, 16, 16)
    loss = m.loss(out, y)["ce"]
    loss.backward()
    assert torch.isfinite(loss) and m.backbone.patch_embed1.proj.weight.grad is not None
    assert m.predict(out).shape == (2, 64, 64)


def test_same_shared_weights_for_every_upsampler():
    a, b = SegFormer(5, "bilinear", seed=3), SegFormer(5, "carafe", seed=3)
    sb = b.state_dict()
    assert all(torch.equal(v, sb[k]) for k, v in a.state_dict().items())


# ---- weights ------------------------------------------------------------------------------

def hf_model(eps_as_official: bool = True):
    """Hugging Face's SegFormer-B1 built from a config (no download), weights randomised."""
    transformers = pytest.importorskip("transformers")
    cfg = transformers.SegformerConfig(
        num_channels=3, num_encoder_blocks=4, depths=[2, 2, 2, 2], sr_ratios=[8, 4, 2, 1],
        hidden_sizes=[64, 128, 320, 512], patch_sizes=[7, 3, 3, 3], strides=[4, 2, 2, 2],
        num_attention_heads=[1, 2, 5, 8], mlp_ratios=[4, 4, 4, 4], hidden_act="gelu",
        decoder_hidden_size=256, num_labels=K)
    torch.manual_seed(1)
    hf = transformers.SegformerForSemanticSegmentation(cfg).eval()
    with torch.no_grad():
        for k, t in hf.state_dict().items():
            if t.is_floating_point():
                t.add_(torch.randn_like(t) * 0.05)
                if k.endswith("running_var"):
                    t.abs_()
    if eps_as_official:  # HF keeps torch's 1e-5 where NVlabs' blocks and stages use 1e-6
        for name, mod in hf.named_modules():
            if isinstance(mod, torch.nn.LayerNorm) and re.search(
                    r"(layernorm_before|layernorm_after|layer_norm_[12]|stages\.\d+\.layer_norm"
                    r"|encoder\.layer_norm\.\d+)$", name):
                mod.eps = 1e-6
    return hf


def hf_logits(hf, x):
    with torch.no_grad():
        return hf(pixel_values=x).logits


# transformers < 5 (and the hub's files) name the encoder tensors differently; from its
# conversion table (transformers/conversion_mapping.py, "SegformerModel"), inverted
TO_CLASSIC = [(r"stages\.(\d+)\.patch_embeddings\.", r"encoder.patch_embeddings.\1."),
              (r"stages\.(\d+)\.blocks\.", r"encoder.block.\1."),
              (r"stages\.(\d+)\.layer_norm", r"encoder.layer_norm.\1"),
              ("attention.q_proj", "attention.self.query"),
              ("attention.k_proj", "attention.self.key"),
              ("attention.v_proj", "attention.self.value"),
              ("attention.sequence_reduction.sequence_reduction", "attention.self.sr"),
              ("attention.sequence_reduction.layer_norm", "attention.self.layer_norm"),
              ("attention.o_proj", "attention.output.dense"),
              ("mlp.fc1", "mlp.dense1"), ("mlp.fc2", "mlp.dense2"),
              ("layernorm_before", "layer_norm_1"), ("layernorm_after", "layer_norm_2"),
              ("decode_head.linear_projections", "decode_head.linear_c")]


def classic(state):
    out = {}
    for k, v in state.items():
        for a, b in TO_CLASSIC:
            k = re.sub(a, b, k)
        out[k] = v
    return out


@pytest.mark.parametrize("layout", ["huggingface-v5", "huggingface"])
def test_huggingface_segformer_loads_completely_and_gives_its_logits(tmp_path, layout):
    hf = hf_model()
    state = hf.state_dict()
    if layout == "huggingface":
        state = classic(state)
        assert "segformer.encoder.block.0.0.attention.self.query.weight" in state
    f = tmp_path / "hf.bin"
    torch.save(state, f)
    m = SegFormer(K, "bilinear", seed=0)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    rep = m.load_pretrained(str(f))
    assert rep.layout == layout and rep.missing == [] and rep.unexpected == []
    assert rep.omitted == ["decode_head.conv_seg."]  # HF has no unused conv_seg
    changed = {k for k, v in m.state_dict().items()
               if v.is_floating_point() and not torch.equal(v, before[k])}
    floats = {k for k, v in before.items() if v.is_floating_point()}
    assert changed == floats - {"decode_head.conv_seg.weight", "decode_head.conv_seg.bias"}
    m.eval()
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        ours = m(x)
    ref = hf_logits(hf, x)
    assert ours.shape == ref.shape == (2, K, 16, 24)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("form", ["SegformerModel", "hub mit-b1"])
def test_huggingface_encoder_alone_fills_the_encoder(tmp_path, form):
    hf = hf_model()
    state = hf.segformer.state_dict()  # SegformerModel: no "segformer." prefix
    if form == "hub mit-b1":  # nvidia/mit-b1: SegformerForImageClassification, classic names
        state = {f"segformer.{k}": v for k, v in classic(state).items()}
        state["classifier.weight"], state["classifier.bias"] = torch.randn(1000, 512), \
            torch.randn(1000)
    f = tmp_path / "mit.bin"
    torch.save(state, f)
    m = SegFormer(K, "sapa-b", seed=0)
    head = {k: v.clone() for k, v in m.decode_head.state_dict().items()}
    rep = m.load_pretrained(str(f))
    assert rep.missing == [] and rep.unexpected == [] and rep.omitted[0] == "decode_head."
    assert all(torch.equal(v, m.decode_head.state_dict()[k]) for k, v in head.items())
    m.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ours = m.backbone(x)
        ref = hf.segformer(pixel_values=x, output_hidden_states=True).hidden_states
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def mmseg_names(state):
    """upbench's own state dict renamed to NVlabs' mit_b1.pth layout (bare mmseg names, the
    ImageNet classifier ``head.*`` included) — the names are checked against the official code
    in tests/models/test_mit.py."""
    out = {k.removeprefix("backbone."): v for k, v in state.items() if k.startswith("backbone.")}
    out["head.weight"], out["head.bias"] = torch.randn(1000, 512), torch.randn(1000)
    return out


def test_mmseg_imagenet_file_and_whole_checkpoint(tmp_path):
    src = SegFormer(K, "bilinear", seed=7)
    f = tmp_path / "mit_b1.pth"
    torch.save({"state_dict": mmseg_names(src.state_dict())}, f)
    m = SegFormer(K, "carafe", seed=0)
    rep = m.load_pretrained(str(f))
    assert rep.layout == "mmseg" and rep.missing == [] and rep.unexpected == []
    assert all(torch.equal(v, m.backbone.state_dict()[k])
               for k, v in src.backbone.state_dict().items())
    # an mmseg segmentation checkpoint of the whole network (backbone.*, decode_head.*)
    whole = tmp_path / "segformer.b1.512x512.ade.160k.pth"
    torch.save({"meta": {}, "state_dict": src.state_dict()}, whole)
    m = SegFormer(K, "bilinear", seed=0)
    rep = m.load_pretrained(str(whole))
    assert rep.omitted == [] and rep.loaded == len(src.state_dict())
    assert all(torch.equal(v, m.state_dict()[k]) for k, v in src.state_dict().items())


def test_wrong_files_are_clear_errors(tmp_path, monkeypatch):
    m = SegFormer(K, "bilinear", seed=0)
    tiny = tmp_path / "seg.pth"
    torch.save(SegBaseline(K, "bilinear", seed=0).state_dict(), tiny)
    with pytest.raises(WeightsError, match="another baseline"):
        m.load_pretrained(str(tiny))
    with pytest.raises(WeightsError, match="no such file"):
        m.load_pretrained(str(tmp_path / "absent.pth"))
    b0 = tmp_path / "mit_b0.pth"  # another MiT size: the shapes do not fit
    torch.save({k.removeprefix("backbone."): v for k, v in
                SegFormer(K, size="mit_b0").state_dict().items() if k.startswith("backbone.")},
               b0)
    with pytest.raises(WeightsError, match="wrong shape"):
        m.load_pretrained(str(b0))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(WeightsError, match=r"put mit_b1\.pth at .*hub/checkpoints/mit_b1\.pth"):
        m.load_pretrained("imagenet")


SUITE = """\
name: sf
task: segmentation
baseline: segformer-b1
input_size: [64, 64]
dataset: {{num_classes: 4, train_size: 4, val_size: 2, max_things: 1, small_objects: 0}}
model: {{weights: {weights}}}
train: {{iterations: 2, batch_size: 2}}
upsamplers: [bilinear, sapa-i]
threads: 1
profile: {{flops: true, flops_size: [64, 64], latency: false, memory: false}}
"""


def test_suite_with_another_baselines_checkpoint_is_a_model_weights_error(tmp_path):
    tiny = tmp_path / "seg.pth"
    torch.save(SegBaseline(4, "bilinear", seed=0).state_dict(), tiny)
    p = tmp_path / "sf.yaml"
    p.write_text(SUITE.format(weights=tiny))
    suite = load_suite(p)
    assert TASK.flops_size(suite.baseline) == (512, 512)
    with pytest.raises(ConfigError, match=r"model\.weights.*another baseline"):
        preflight(suite, expand(suite))


def test_suite_runs_with_weights_recorded(tmp_path):
    from upbench.engine.runner import run_suite

    f = tmp_path / "mit_b1.pth"
    torch.save(mmseg_names(SegFormer(4, seed=5).state_dict()), f)
    p = tmp_path / "sf.yaml"
    p.write_text(SUITE.format(weights=f))
    suite = load_suite(p)
    s = run_suite(suite, expand(suite), tmp_path / "out")
    assert [r["status"] for r in s.results] == ["ok", "ok"]
    for r in s.results:
        assert r["weights"]["layout"] == "mmseg" and r["weights"]["omitted"][0] == "decode_head."


def test_smoke_suite_runs_a_guided_upsampler_and_says_na_for_a_label_decoder(tmp_path):
    suite, _, status = run_stored("segformer-b1-smoke", ["sapa-b", "nrd"], tmp_path / "out")
    assert suite.baseline == "segformer-b1"
    assert status["sapa-b"]["status"] == "ok"
    assert status["nrd"]["status"] == "n/a" and "label-space" in status["nrd"]["error"]
