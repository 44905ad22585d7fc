"""Suite YAML → dataclasses, errors with suggestions, overrides, expansion and hashes."""

from __future__ import annotations

import pytest

from upbench.engine import ConfigError, expand, load_suite
from upbench.engine.suite import apply_overrides, parse_value
from upbench.upsamplers import list_upsamplers


def write(tmp_path, text, name="s.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_defaults_and_all_upsamplers(tmp_path):
    s = load_suite(write(tmp_path, "name: x\n"))
    assert [e.name for e in s.upsamplers] == list_upsamplers()
    cells = expand(s)
    assert len(cells) == len(list_upsamplers())
    assert len({c.hash for c in cells}) == len(cells)


def test_hparams_label_and_seeds(tmp_path):
    p = write(tmp_path, "name: x\nupsamplers: [bilinear, {carafe: {up_kernel: 3}}]\nseeds: [0, 1]\n")
    cells = expand(load_suite(p))
    assert [(c.label, c.seed) for c in cells] == [
        ("bilinear", 0), ("bilinear", 1), ("carafe(up_kernel=3)", 0), ("carafe(up_kernel=3)", 1)]
    assert cells[2].config["upsampler"]["hparams"] == {"up_kernel": 3}
    # the hash is stable and depends on the config
    again = expand(load_suite(p))
    assert [c.hash for c in again] == [c.hash for c in cells]
    changed = expand(load_suite(p, ["train.lr=0.5"]))
    assert changed[0].hash != cells[0].hash
    assert expand(load_suite(p, seeds=[7]))[0].seed == 7


def test_only_filters_and_suggests(tmp_path):
    s = load_suite(write(tmp_path, "name: x\nupsamplers: [bilinear, nearest]\n"))
    assert [c.label for c in expand(s, ["nearest"])] == ["nearest"]
    with pytest.raises(ConfigError, match="did you mean 'nearest'"):
        expand(s, ["neares"])


@pytest.mark.parametrize(
    "text, key, suggestion",
    [
        ("name: x\ntrain: {iteratons: 3}\n", "train.iteratons", "iterations"),
        ("name: x\nupsamplers: [carafee]\n", "upsamplers[0]", "carafe"),
        ("name: x\nupsamplers: [{carafe: {up_kernal: 3}}]\n", "upsamplers[0].carafe.up_kernal",
         "up_kernel"),
        ("name: x\ntrain: {optimizer: adamww}\n", "train.optimizer", "adamw"),
        ("name: x\ntrain: {batch_size: eight}\n", "train.batch_size", None),
        ("name: x\nseeds: 3\n", "seeds", None),
        ("nme: x\n", "nme", "name"),
        ("train: {}\n", "name", None),
    ],
)
def test_errors_name_file_key_and_suggestion(tmp_path, text, key, suggestion):
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_suite(p)
    assert e.value.key == key
    assert e.value.suggestion == suggestion
    assert str(p) in str(e.value)


def test_bad_yaml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_suite(write(tmp_path, "name: [x\n"))
    write(tmp_path, "name: x\n", "quick.yaml")
    with pytest.raises(ConfigError, match="did you mean .*quick.yaml"):
        load_suite(tmp_path / "quik.yaml")


def test_missing_dataset_path_suggests_sibling(tmp_path):
    (tmp_path / "voc2012").mkdir()
    p = write(tmp_path, "name: x\ndataset: {kind: folder, format: voc, root: voc2021}\n")
    with pytest.raises(ConfigError) as e:
        load_suite(p)
    assert e.value.key == "dataset.root"
    assert e.value.suggestion.endswith("voc2012")
    ok = write(tmp_path, "name: x\ndataset: {kind: folder, format: voc, root: voc2012}\n", "o.yaml")
    assert load_suite(ok).dataset.root == str((tmp_path / "voc2012").resolve())


def test_overrides_and_values():
    raw = apply_overrides({"train": {"lr": 1}}, ["train.lr=1e-3", "model.widths=[8,8,8,8]",
                                                  "train.flip=false"])
    assert raw == {"train": {"lr": 1e-3, "flip": False}, "model": {"widths": [8, 8, 8, 8]}}
    assert parse_value("abc") == "abc"
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides({}, ["train.lr"])


def test_all_with_exclude(tmp_path):
    s = load_suite(write(tmp_path, "name: x\nupsamplers: all\nexclude: [nearest]\n"))
    assert "nearest" not in [e.name for e in s.upsamplers]
    assert len(s.upsamplers) == len(list_upsamplers()) - 1
    with pytest.raises(ConfigError, match="did you mean 'nearest'"):
        load_suite(write(tmp_path, "name: x\nexclude: [nearst]\n", "b.yaml"))
    with pytest.raises(ConfigError, match="threads"):
        load_suite(write(tmp_path, "name: x\nthreads: 0\n", "c.yaml"))


def test_placement_entry(tmp_path):
    s = load_suite(write(tmp_path, "name: x\nupsamplers: [all, {pixelshuffle: {placement: final}}]\n"))
    e = s.upsamplers[-1]
    assert (e.name, e.label, e.hparams, e.placement) == (
        "pixelshuffle", "pixelshuffle(placement=final)", {}, "final")
    assert expand(s)[-1].config["upsampler"]["placement"] == "final"
    with pytest.raises(ConfigError, match="did you mean 'final'"):
        load_suite(write(tmp_path, "name: x\nupsamplers: [{nearest: {placement: finl}}]\n", "p.yaml"))


@pytest.mark.parametrize("name", ["quick.yaml", "segmentation.yaml"])
def test_shipped_suites_validate(name):
    from pathlib import Path

    s = load_suite(Path(__file__).resolve().parents[2] / "suites" / name)
    assert [e.name for e in s.upsamplers] == list_upsamplers()
