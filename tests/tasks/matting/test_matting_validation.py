"""Matting validation refuses a test split whose trimaps leave nothing to measure and bounds
``bg_per_fg`` (issue 30)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.data.layouts import make_composition1k
from tests.tasks.flat_layouts import flat_composition1k as _adobe
from tests.tasks.matting.test_matting_task import SUITE
from upbench.engine import ConfigError, load_suite
from upbench.tasks.matting import TASK


def _suite(tmp_path, extra=""):
    _adobe(tmp_path / "adobe")
    p = tmp_path / "s.yaml"
    p.write_text(SUITE.replace("{DATASET}", "{kind: folder, format: composition1k, root: adobe"
                               + extra + "}"))
    return load_suite(p), p


def test_test_trimaps_without_unknown_pixels_are_refused(tmp_path):
    suite, p = _suite(tmp_path)
    for i in range(2):
        tri = np.zeros((40, 50), np.uint8)
        tri[10:30, 10:40] = 255
        Image.fromarray(tri).save(tmp_path / f"adobe/test/trimaps/t{i}.png")
    with pytest.raises(ConfigError, match=r"dataset\.test_merged: .*t0\.png: the trimap has no "
                                          r"unknown \(128\) pixels at the input size 32×32"):
        TASK.check_data(suite, str(p))


def test_0_1_2_test_trimaps_are_refused_at_validation(tmp_path):
    suite, p = _suite(tmp_path)
    tri = np.zeros((40, 50), np.uint8)
    tri[10:30, 10:40], tri[8:12, 8:42] = 2, 1
    Image.fromarray(tri).save(tmp_path / "adobe/test/trimaps/t0.png")
    with pytest.raises(ConfigError, match=r"t0\.png: trimap values \[0, 1, 2\] look like a 0/1/2"):
        TASK.check_data(suite, str(p))


@pytest.mark.parametrize("value, match", [("1000000000", r"must be <= 1000"),
                                          ("0", r"must be >= 1"), ("1.5", "integer|int")])
def test_bg_per_fg_is_bounded(tmp_path, value, match):
    with pytest.raises(ConfigError, match=rf"dataset\.bg_per_fg: .*{match}"):
        _suite(tmp_path, f", bg_per_fg: {value}")


def test_matting_size_mismatch_and_corrupt_files_are_named(tmp_path):
    root = make_composition1k(tmp_path / "adobe")
    p = tmp_path / "s.yaml"
    p.write_text(SUITE.replace("{DATASET}", "{kind: folder, format: composition1k, root: adobe}"))
    suite = load_suite(p)
    TASK.check_data(suite, str(p))
    Image.fromarray(np.zeros((20, 50), np.uint8)).save(root / "train/alpha/o1.png")
    with pytest.raises(ConfigError, match=r"sizes differ: .*o1\.png is 50×40 but .*o1\.png is 50×20"):
        TASK.check_data(suite, str(p))
    make_composition1k(tmp_path / "adobe2")
    p.write_text(p.read_text().replace("root: adobe", "root: adobe2"))
    suite = load_suite(p)
    (tmp_path / "adobe2" / "test/trimaps/t0.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    with pytest.raises(ConfigError, match=r"t0\.png: cannot read the image"):
        TASK.check_data(suite, str(p))
