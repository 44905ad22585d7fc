"""torchvision's ResNets as encoders: kept parts, frozen stages, the torchvision layout with
dropped parts and a widened stem, and the named ImageNet source from torchvision's weights API."""

from __future__ import annotations

import pytest
import torch
import torchvision

from upbench.models.resnet import (
    ResNetStages,
    imagenet_weights,
    load_resnet_weights,
    torchvision_layout,
)
from upbench.models.weights import WeightsError


def test_stages_keep_torchvisions_names_and_return_the_named_outputs():
    enc = ResNetStages(34, ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2"),
                       outputs=("relu", "layer2"))
    feats = enc(torch.randn(1, 3, 64, 64))
    assert [tuple(f.shape) for f in feats] == [(1, 64, 32, 32), (1, 128, 8, 8)]
    assert set(enc.state_dict()) <= set(torchvision.models.resnet34().state_dict())


def test_widened_stem_gets_zero_filters_for_the_extra_channels():
    sd = torchvision.models.resnet18().state_dict()
    out = torchvision_layout(drop=("fc.", "layer4."), in_channels=4).convert(dict(sd))
    w = out["conv1.weight"]
    assert w.shape == (64, 4, 7, 7) and torch.equal(w[:, :3], sd["conv1.weight"])
    assert not w[:, 3].any() and not any(k.startswith(("fc.", "layer4.")) for k in out)


def test_named_imagenet_source_is_torchvisions_file(tmp_path, monkeypatch):
    src = imagenet_weights(50)
    url = torchvision.models.ResNet50_Weights.IMAGENET1K_V1.url
    assert src.name == "imagenet" and src.url == url and url.endswith("/" + src.filename)
    # a file already in torch's hub cache is used as it is (nothing is downloaded)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    torch.manual_seed(3)
    ref = torchvision.models.resnet18()
    monkeypatch.setattr(torch.hub, "download_url_to_file",
                        lambda *a, **k: pytest.fail("no download in tests"))
    path = imagenet_weights(18).cached_path
    path.parent.mkdir(parents=True)
    torch.save(ref.state_dict(), path)
    enc = ResNetStages(18, ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3",
                            "layer4", "avgpool", "fc"))
    rep = load_resnet_weights(enc, "imagenet", 18)
    assert rep.file == str(path) and rep.missing == [] and rep.unexpected == []
    assert torch.equal(enc.fc.weight, ref.fc.weight)


def test_a_checkpoint_of_another_depth_is_refused(tmp_path):
    f = tmp_path / "r18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), f)
    enc = ResNetStages(34, ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4"))
    with pytest.raises(WeightsError, match="ResNet-34 encoder"):
        load_resnet_weights(enc, str(f), 34, drop=("fc.",))
