"""NYU depth files: special files, bit depth and all-invalid maps named (issue 30)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from upbench.data.imagecheck import DataError
from upbench.data.nyu import ListError, check_depth, load_depth_png, read_list


def _pair(root, depth=None):
    (root / "rgb").mkdir(parents=True, exist_ok=True)
    (root / "depth").mkdir(exist_ok=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / "rgb/0.jpg")
    d = np.full((8, 8), 2000, np.uint16) if depth is None else depth
    Image.fromarray(d).save(root / "depth/0.png")
    return root


def test_all_zero_depth_is_refused(tmp_path):
    _pair(tmp_path, np.zeros((8, 8), np.uint16))
    d = load_depth_png(tmp_path / "depth/0.png")
    with pytest.raises(DataError, match=r"0\.png: the depth map has no valid pixel \(all 0"):
        check_depth(d, tmp_path / "depth/0.png")


def test_depth_outside_the_evaluation_range_is_refused_naming_the_units(tmp_path):
    _pair(tmp_path, np.full((8, 8), 3, np.uint16))  # metres stored as if millimetres
    d = load_depth_png(tmp_path / "depth/0.png")
    check_depth(d, tmp_path / "depth/0.png")  # valid for training
    with pytest.raises(DataError, match=r"no pixel lies in the evaluation range 0\.01\.\.10 m "
                                        r"\(its depths span 0\.003\.\.0\.003 m\); NYU's PNGs hold "
                                        "millimetres"):
        check_depth(d, tmp_path / "depth/0.png", 0.01, 10.0)
    check_depth(load_depth_png(_pair(tmp_path / "ok") / "depth/0.png"), tmp_path, 0.01, 10.0)


def test_8_bit_depth_is_refused(tmp_path):
    _pair(tmp_path, np.full((8, 8), 20, np.uint8))
    with pytest.raises(DataError, match="must be a 16-bit single-channel PNG"):
        load_depth_png(tmp_path / "depth/0.png")


@pytest.mark.parametrize("focal", ["nan", "inf", "-5", "0"])
def test_a_non_finite_or_negative_focal_is_refused(tmp_path, focal):
    _pair(tmp_path)
    (tmp_path / "l.txt").write_text(f"rgb/0.jpg depth/0.png {focal}\n")
    with pytest.raises(ListError, match=r"l\.txt:1: focal .* must be a positive number"):
        read_list(tmp_path, tmp_path / "l.txt")


@pytest.mark.parametrize("make, kind", [
    (lambda p: os.mkfifo(p), "FIFO"), (lambda p: p.mkdir(), "directory"),
    (lambda p: p.symlink_to(p.parent / "gone.png"), "dangling symlink"),
    (lambda p: p.symlink_to(p), "symlink loop")])
def test_special_listed_files_and_lists_are_named(tmp_path, make, kind):
    _pair(tmp_path)
    (tmp_path / "depth/0.png").unlink()
    make(tmp_path / "depth/0.png")
    (tmp_path / "l.txt").write_text("rgb/0.jpg depth/0.png 518.8\n")
    with pytest.raises(DataError, match=rf"l\.txt:1: .*0\.png: the listed file .*{kind}"):
        read_list(tmp_path, tmp_path / "l.txt")
    lst = tmp_path / "special.txt"
    make(lst)
    with pytest.raises(DataError, match=rf"special\.txt: the split list .*{kind}"):
        read_list(tmp_path, lst)
