"""Synthetic scenes and the on-disk loaders (tiny datasets written in each real layout)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from upbench.data import FolderSegmentation, class_layout, find_pairs, synthetic_split


def test_synthetic_is_seeded_and_has_every_kind_of_class():
    x1, y1 = synthetic_split("train", 24, (32, 48), 8, seed=3)
    _, y2 = synthetic_split("val", 24, (32, 48), 8, seed=3)
    assert x1.shape == (24, 3, 32, 48) and y1.shape == (24, 32, 48) and y1.dtype == torch.long
    assert not torch.equal(y1, y2)  # splits differ
    from upbench.data.synthetic import _generate

    _generate.cache_clear()
    x3, y3 = synthetic_split("train", 24, (32, 48), 8, seed=3)
    assert torch.equal(x1, x3) and torch.equal(y1, y3)  # same seed, same scenes
    stuff, things, small = class_layout(8)
    present = set(y1.unique().tolist())
    assert set(stuff) & present and set(things) & present and small in present
    assert int(y1.max()) < 8


def _png(path, arr, palette=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(arr.astype(np.uint8))
    if palette:  # VOC-style: mode "P", the palette index is the class
        im = im.convert("P")
        im.putpalette([v for i in range(256) for v in (i, 255 - i, (7 * i) % 256)])
    im.save(path)


def _rgb(path, h=12, w=16):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)


LAB = np.array([[0, 1, 2, 255], [3, 3, 1, 0]]).repeat(6, 0).repeat(4, 1)  # 12 × 16


def test_voc_layout_palette_png(tmp_path):
    for i in ("a", "b"):
        _rgb(tmp_path / "JPEGImages" / f"{i}.jpg")
        _png(tmp_path / "SegmentationClass" / f"{i}.png", LAB, palette=True)
    (tmp_path / "ImageSets" / "Segmentation").mkdir(parents=True)
    (tmp_path / "ImageSets" / "Segmentation" / "val.txt").write_text("b\na\n")
    ds = FolderSegmentation(tmp_path, "voc", "val", num_classes=3, size=(6, 8))
    assert [p.image.stem for p in ds.pairs] == ["b", "a"]
    (x,), y = ds.batch([0, 1])
    assert x.shape == (2, 3, 6, 8) and y.shape == (2, 6, 8)
    # class 3 >= num_classes becomes ignore; 255 stays ignore; palette indices are classes
    assert set(y.unique().tolist()) == {0, 1, 2, 255}
    assert y[0, 0].tolist() == [0, 0, 1, 1, 2, 2, 255, 255]


def test_ade20k_reduce_zero_label(tmp_path):
    _rgb(tmp_path / "images" / "validation" / "x.jpg")
    _png(tmp_path / "annotations" / "validation" / "x.png", LAB)
    ds = FolderSegmentation(tmp_path, "ade20k", "val", num_classes=150, size=(12, 16))
    _, y = ds.batch([0])
    assert y[0, 0].tolist() == [255] * 4 + [0] * 4 + [1] * 4 + [255] * 4
    assert y[0, -1].tolist() == [2] * 8 + [0] * 4 + [255] * 4


def test_cityscapes_and_generic_layouts(tmp_path):
    city = tmp_path / "cs"
    _rgb(city / "leftImg8bit" / "val" / "ulm" / "ulm_1_leftImg8bit.png")
    _png(city / "gtFine" / "val" / "ulm" / "ulm_1_gtFine_labelTrainIds.png", LAB)
    ds = FolderSegmentation(city, "cityscapes", "val", 19, (12, 16))
    assert torch.equal(ds.batch([0])[1][0], torch.from_numpy(LAB).long())
    gen = tmp_path / "gen"
    _rgb(gen / "images" / "train" / "p.png")
    _png(gen / "labels" / "train" / "p.png", LAB)
    assert len(find_pairs(gen, "generic", "train")) == 1


def test_missing_files_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="dataset directory not found"):
        find_pairs(tmp_path, "generic", "train")
    _rgb(tmp_path / "images" / "train" / "q.png")
    with pytest.raises(FileNotFoundError, match="label file"):
        find_pairs(tmp_path, "generic", "train")


def test_flip_mirrors_the_chosen_samples_of_every_tensor():
    from upbench.data import TensorSplit

    x = torch.arange(2 * 3 * 2 * 4, dtype=torch.float32).view(2, 3, 2, 4)
    y = torch.arange(2 * 2 * 4).view(2, 2, 4)
    split = TensorSplit(x, y)
    (fx,), fy = split.batch([0, 1], torch.tensor([False, True]))
    assert torch.equal(fx[0], x[0]) and torch.equal(fy[0], y[0])
    assert torch.equal(fx[1], x[1].flip(-1)) and torch.equal(fy[1], y[1].flip(-1))
    assert torch.equal(split.images, x)  # the split itself is untouched
