"""Depth validation refuses data with nothing to learn or measure (issue 30: an all-zero NYU set
trained with loss 0 and reported ok)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.data.layouts import make_nyu
from tests.helpers.images import rgb, truncate
from tests.tasks.depth.test_depth_task import NYU_DS, SUITE
from tests.tasks.flat_layouts import flat_nyu as _nyu
from upbench.engine import ConfigError, load_suite
from upbench.tasks.depth import TASK


def _suite(tmp_path):
    _nyu(tmp_path / "nyu")
    p = tmp_path / "s.yaml"
    p.write_text(SUITE.replace("{DATASET}", "{kind: folder, format: nyu, root: nyu, "
                               "train_list: train.txt, val_list: val.txt}"))
    return load_suite(p), p


def test_an_all_zero_depth_set_is_refused(tmp_path):
    suite, p = _suite(tmp_path)
    for i in range(3):
        Image.fromarray(np.zeros((48, 64), np.uint16)).save(tmp_path / f"nyu/depth/{i}.png")
    with pytest.raises(ConfigError, match=r"dataset\.train_list: .*0\.png: the depth map has no "
                                          r"valid pixel"):
        TASK.check_data(suite, str(p))


def test_validation_depth_outside_the_metric_range_is_refused(tmp_path):
    suite, p = _suite(tmp_path)
    for i in range(2):  # the val list's files: 20 m everywhere, beyond max_depth 10
        Image.fromarray(np.full((48, 64), 20000, np.uint16)).save(tmp_path / f"nyu/depth/{i}.png")
    (tmp_path / "nyu/train.txt").write_text("rgb/2.jpg depth/2.png 518.8\n")
    with pytest.raises(ConfigError, match=r"dataset\.val_list: .*no pixel lies in the evaluation "
                                          r"range 0\.001\.\.10 m"):
        TASK.check_data(suite, str(p))


def test_depth_corrupt_and_mismatched_files_are_named(tmp_path):
    root = make_nyu(tmp_path / "nyu")
    p = tmp_path / "s.yaml"
    p.write_text(SUITE.replace("{DATASET}", NYU_DS))
    suite = load_suite(p)
    TASK.check_data(suite, str(p))
    img = root / "sync" / "scene_0000" / "rgb_00002.jpg"
    truncate(img, keep=200)
    with pytest.raises(ConfigError, match=r"rgb_00002\.jpg: cannot read the image"):
        TASK.check_data(suite, str(p))
    rgb(img, h=30, w=64)
    with pytest.raises(ConfigError, match=r"sizes differ: .*rgb_00002\.jpg is 64×30"):
        TASK.check_data(suite, str(p))
