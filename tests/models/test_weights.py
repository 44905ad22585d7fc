"""The one weights-loading mechanism: files, named sources, key layouts, strictness, errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from upbench.models.weights import (
    KeyLayout,
    NamedWeights,
    WeightsError,
    load_weights,
    read_state_dict,
    resolve,
    strip_prefix,
)


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))


PREFIXED = KeyLayout("prefixed", lambda sd: strip_prefix(sd, "backbone."))


def test_a_file_in_another_layout_loads_every_tensor(tmp_path):
    src, dst = net(), nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    with torch.no_grad():
        for p in src.parameters():
            p.add_(1.0)
    f = tmp_path / "w.pth"
    torch.save({"state_dict": {f"backbone.{k}": v for k, v in src.state_dict().items()}}, f)
    rep = load_weights(dst, str(f), layouts=[KeyLayout("native", dict), PREFIXED])
    assert rep.layout == "prefixed" and rep.missing == [] and rep.unexpected == []
    assert rep.loaded == len(src.state_dict())
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v)


def test_missing_and_unexpected_keys_are_named_unless_relaxed(tmp_path):
    sd = net().state_dict()
    sd.pop("0.bias")
    sd["extra.weight"] = torch.zeros(1)
    f = tmp_path / "w.pth"
    torch.save(sd, f)
    with pytest.raises(WeightsError, match=r"missing 0\.bias.*unexpected extra\.weight.*"
                       r"weights_strict: false"):
        load_weights(net(), str(f))
    rep = load_weights(net(), str(f), strict=False)
    assert rep.missing == ["0.bias"] and rep.unexpected == ["extra.weight"] and not rep.strict


def test_num_batches_tracked_may_be_absent(tmp_path):
    sd = {k: v for k, v in net().state_dict().items() if "num_batches" not in k}
    f = tmp_path / "w.pth"
    torch.save(sd, f)
    assert load_weights(net(), str(f)).missing == []


def test_optional_groups_may_be_left_out_whole_but_not_in_part(tmp_path):
    """A whole-network module takes a file of its encoder alone (the head group left out), but
    a file holding part of a group lacks the rest."""
    whole = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 2, 1))  # "0": encoder, "1": head
    f = tmp_path / "w.pth"
    torch.save({k: v for k, v in whole.state_dict().items() if k.startswith("0.")}, f)
    rep = load_weights(whole, str(f), optional=["1.", "2."])  # "2." names no module key
    assert rep.missing == [] and rep.omitted == ["1."]
    torch.save({k: v for k, v in whole.state_dict().items() if k != "1.bias"}, f)
    with pytest.raises(WeightsError, match=r"missing 1\.bias"):
        load_weights(whole, str(f), optional=["1."])
    torch.save({k: v for k, v in whole.state_dict().items() if k.startswith("1.")}, f)
    with pytest.raises(WeightsError, match=r"missing 0\.bias, 0\.weight"):
        load_weights(whole, str(f), optional=["1."])


def test_wrong_shapes_and_foreign_checkpoints_are_clear_errors(tmp_path):
    f = tmp_path / "w.pth"
    torch.save({"0.weight": torch.zeros(8, 3, 3, 3)}, f)
    with pytest.raises(WeightsError, match="wrong shape.*0.weight"):
        load_weights(net(), str(f), strict=False)
    torch.save({"decoder.conv.weight": torch.zeros(2)}, f)
    with pytest.raises(WeightsError, match="another baseline") as e:
        load_weights(net(), str(f))
    assert str(f) in str(e.value)


@pytest.mark.parametrize("content", [b"not a checkpoint", None])
def test_unreadable_or_missing_files(tmp_path, content):
    f = tmp_path / "w.pth"
    if content is not None:
        f.write_bytes(content)
    with pytest.raises(WeightsError, match=str(f)):
        read_state_dict(f)
    with pytest.raises(WeightsError, match="directory"):
        read_state_dict(tmp_path)


def test_named_source_offline_names_the_file_and_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    torch.hub.set_dir(str(tmp_path / "hub"))
    try:
        src = NamedWeights("imagenet", "r.pth", url="http://127.0.0.1:9/r.pth")
        with pytest.raises(WeightsError, match=r"r\.pth.*could not be downloaded.*put it at") as e:
            resolve("imagenet", [src])
        assert str(tmp_path / "hub" / "checkpoints" / "r.pth") in str(e.value)
        # once the file is in the cache it is used, with no download
        src.cached_path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(net().state_dict(), src.cached_path)
        assert resolve("imagenet", [src]) == src.cached_path
        assert load_weights(net(), "imagenet", named=[src]).file == str(src.cached_path)
        with pytest.raises(WeightsError, match="neither a file nor a named source.*imagenet"):
            resolve("imagenett", [src])
    finally:
        torch.hub.set_dir(str(tmp_path / "unused"))
