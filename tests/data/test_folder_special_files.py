"""Segmentation folders with special files where images, labels or split lists belong: named,
never a blocked read (issue 30)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from upbench.data.folder import FolderSegmentation, find_pairs
from upbench.data.imagecheck import DataError


def _generic(root):
    for split in ("train",):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / f"images/{split}/a.png")
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / f"labels/{split}/a.png")
    return root


@pytest.mark.parametrize("make, kind", [
    (os.mkfifo, "FIFO"), (lambda p: p.symlink_to(p), "symlink loop"),
    (lambda p: p.symlink_to(p.parent / "gone.png"), "dangling symlink")])
@pytest.mark.parametrize("which", ["images", "labels"])
def test_a_special_image_or_label_is_named(tmp_path, make, kind, which):
    root = _generic(tmp_path)
    target = root / which / "train" / "a.png"
    target.unlink()
    make(target)
    if which == "labels":  # found when the pairs are listed
        with pytest.raises(DataError, match=rf"a\.png: the label .*{kind}"):
            find_pairs(root, "generic", "train")
        return
    ds = FolderSegmentation(root, "generic", "train", 4, (8, 8))
    with pytest.raises(DataError, match=rf"a\.png: the image .*{kind}"):
        ds.item(0)


def test_a_voc_split_list_that_is_a_fifo_is_named(tmp_path):
    (tmp_path / "ImageSets" / "Segmentation").mkdir(parents=True)
    os.mkfifo(tmp_path / "ImageSets" / "Segmentation" / "train.txt")
    with pytest.raises(DataError, match=r"train\.txt: the VOC split list is a FIFO"):
        find_pairs(tmp_path, "voc", "train")
