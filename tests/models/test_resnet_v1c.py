"""ResNetV1c-50: exact size, output strides, and weights in mmseg's and torchvision's layouts."""

from __future__ import annotations

import pytest
import torch
from torchvision.models import resnet34, resnet50

from upbench.models.resnet_v1c import (
    IMAGENET_V1C_50,
    MMSEG_V1C_URL,
    ResNetV1c,
    dilation_flags,
    load_v1c_weights,
    stage_strides,
)
from upbench.models.weights import WeightsError

# torchvision resnet50 without fc: 23,508,032. The deep stem replaces conv1 7×7 3→64 (9,408) by
# 3×3 convs 3→32 (864), 32→32 (9,216), 32→64 (18,432) and adds two BN(32) (64 each); the BN(64)
# after the stem is torchvision's bn1.
V1C50_PARAMS = 23_508_032 - 9_408 + 864 + 9_216 + 18_432 + 2 * 64


def params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.fixture(scope="module")
def v1c() -> ResNetV1c:
    torch.manual_seed(0)
    return ResNetV1c(output_stride=32)


def test_exact_parameter_count(v1c):
    assert V1C50_PARAMS == 23_527_264
    assert params(v1c) == V1C50_PARAMS
    tv = resnet50()
    assert params(tv) - params(tv.fc) == 23_508_032


def test_output_strides_by_dilation():
    x = torch.randn(1, 3, 64, 64)
    for os_, flags in ((32, [False, False, False]), (16, [False, False, True]),
                       (8, [False, True, True])):
        assert dilation_flags(os_) == flags
        m = ResNetV1c(output_stride=os_).eval()
        feats = m(x)
        assert [f.shape[1] for f in feats] == [256, 512, 1024, 2048]
        assert [64 // f.shape[2] for f in feats] == list(stage_strides(os_))
    # mmseg's contract_dilation: a dilated stage's first block keeps the previous dilation
    assert (m.layer3[0].conv2.dilation, m.layer3[1].conv2.dilation) == ((1, 1), (2, 2))
    assert (m.layer4[0].conv2.dilation, m.layer4[1].conv2.dilation) == ((2, 2), (4, 4))
    with pytest.raises(ValueError, match="output_stride must be one of"):
        ResNetV1c(output_stride=4)


def mmseg_state(src: ResNetV1c) -> dict[str, torch.Tensor]:
    """src's tensors under mmseg's ResNetV1c names, as its ImageNet file has them (+ the fc)."""
    sd = {k: v.clone() for k, v in src.state_dict().items()}
    assert {"stem.0.weight", "stem.1.running_var", "stem.3.weight", "stem.4.weight",
            "stem.6.weight", "stem.7.bias", "layer1.0.conv1.weight", "layer1.0.bn1.weight",
            "layer1.0.downsample.0.weight", "layer1.0.downsample.1.running_mean"} <= set(sd)
    sd["fc.weight"], sd["fc.bias"] = torch.zeros(1000, 2048), torch.zeros(1000)
    return sd


def test_mmseg_layout_loads_every_tensor(tmp_path, v1c):
    torch.manual_seed(1)
    src = ResNetV1c()
    with torch.no_grad():
        for p in src.parameters():
            p.add_(0.5)
    f = tmp_path / "resnet50_v1c.pth"
    torch.save({"state_dict": mmseg_state(src), "meta": {}}, f)
    rep = load_v1c_weights(v1c, str(f))
    assert rep.layout == "mmseg" and rep.missing == [] and rep.unexpected == []
    assert rep.loaded == len(src.state_dict())
    for k, v in src.state_dict().items():
        assert torch.equal(v1c.state_dict()[k], v), k
    # a whole mmseg segmentor checkpoint: its backbone.* part
    seg = {f"backbone.{k}": v for k, v in mmseg_state(src).items()}
    seg["decode_head.conv_seg.weight"] = torch.zeros(19, 512, 1, 1)
    torch.save({"state_dict": seg}, f)
    fresh = ResNetV1c()
    assert load_v1c_weights(fresh, str(f)).layout == "mmseg"
    assert torch.equal(fresh.stem[0].weight, src.stem[0].weight)


def test_torchvision_layout_needs_relaxed_loading_for_the_deep_stem(tmp_path):
    torch.manual_seed(2)
    tv = resnet50()
    f = tmp_path / "resnet50-tv.pth"
    torch.save(tv.state_dict(), f)
    m = ResNetV1c()
    stem = m.stem[0].weight.clone()
    with pytest.raises(WeightsError, match=r"torchvision layout.*missing stem\.0\.weight.*"
                       r"unexpected bn1\.bias.*7×7 stem.*weights_strict: false"):
        load_v1c_weights(m, str(f))
    rep = load_v1c_weights(m, str(f), strict=False)
    assert rep.layout == "torchvision" and not rep.strict
    assert rep.unexpected == ["bn1.bias", "bn1.num_batches_tracked", "bn1.running_mean",
                              "bn1.running_var", "bn1.weight", "conv1.weight"]  # fc.* dropped
    # 3 convs + 3 BNs × (weight, bias, running mean, running var); num_batches_tracked ignored
    assert all(k.startswith("stem.") for k in rep.missing) and len(rep.missing) == 15
    assert torch.equal(m.stem[0].weight, stem)  # the deep stem keeps its initialisation
    for k, v in tv.state_dict().items():
        if k.startswith("layer"):
            assert torch.equal(m.state_dict()[k], v), k


def test_wrong_files_are_clear_errors(tmp_path):
    m = ResNetV1c()
    f = tmp_path / "r34.pth"
    torch.save(resnet34().state_dict(), f)
    with pytest.raises(WeightsError, match="wrong shape.*another variant"):
        load_v1c_weights(m, str(f), strict=False)
    torch.save({"patch_embed1.proj.weight": torch.zeros(64, 3, 7, 7)}, f)  # MiT's mit_b1.pth
    with pytest.raises(WeightsError, match="matches none of the key layouts.*patch_embed1"):
        load_v1c_weights(m, str(f))
    f.write_text("not a checkpoint")
    with pytest.raises(WeightsError, match="cannot be read as a PyTorch checkpoint"):
        load_v1c_weights(m, str(f))
    with pytest.raises(WeightsError, match="no such file"):
        load_v1c_weights(m, str(tmp_path / "absent.pth"))


def test_named_source_imagenet_is_mmsegs_file(tmp_path, monkeypatch):
    assert IMAGENET_V1C_50.filename == "resnet50_v1c-2cccc1ad.pth"
    assert IMAGENET_V1C_50.url == MMSEG_V1C_URL
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def offline(url, dst, **_):
        raise OSError("network is unreachable")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    m = ResNetV1c()
    with pytest.raises(WeightsError, match=r"resnet50_v1c-2cccc1ad\.pth is not in torch's hub "
                       r"cache.*download\.openmmlab\.com.*put it at .*hub/checkpoints"):
        load_v1c_weights(m, "imagenet")
    cached = tmp_path / "hub" / "checkpoints" / "resnet50_v1c-2cccc1ad.pth"
    cached.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": mmseg_state(ResNetV1c())}, cached)
    rep = load_v1c_weights(m, "imagenet")
    assert rep.source == "imagenet" and rep.file == str(cached) and rep.layout == "mmseg"
