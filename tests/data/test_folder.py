"""Segmentation folders (:mod:`upbench.data.folder`) checked before any work (`suite validate`,
`run`): empty or missing splits, missing labels, corrupt files, size mismatches, colour labels,
label values beyond the classes — each exit 2 naming the file; `validate --deep` decodes every
file. And the loader names a bad file mid-run instead of a bare PIL traceback. The other tasks'
loaders share :mod:`upbench.data.imagecheck` (tests/tasks/*/test_*_validation.py)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from tests.cli.helpers import invoke
from tests.helpers.images import generic_dataset, label, rgb, truncate
from tests.helpers.suites import folder_suite
from upbench.data.folder import FolderSegmentation
from upbench.data.imagecheck import DataError, spread


def _refused(suite, *args):
    r = invoke("suite", "validate", suite, "--json", *args)
    assert r.exit_code == 2, r.output
    return json.loads(r.stdout)["error"]


@pytest.mark.parametrize("key", ["max_train", "max_val"])
@pytest.mark.parametrize("value", [0, -1])
def test_max_zero_or_negative_is_refused_not_a_hang(tmp_path, key, value):
    root = generic_dataset(tmp_path / "ds")
    suite = folder_suite(tmp_path, root, **{key: value})
    assert f"dataset.{key}" in _refused(suite)
    out = tmp_path / "out"
    r = invoke("run", suite, "--out", out)
    assert r.exit_code == 2 and f"dataset.{key}" in r.output and not out.exists()


def test_a_good_folder_dataset_runs(tmp_path):
    suite = folder_suite(tmp_path, generic_dataset(tmp_path / "ds"))
    assert invoke("suite", "validate", suite, "--deep").exit_code == 0
    r = invoke("run", suite, "--out", tmp_path / "out", "--json")
    assert r.exit_code == 0, r.output
    assert [c["status"] for c in json.loads(r.stdout)["cells"]] == ["ok"]


def test_empty_split(tmp_path):
    root = generic_dataset(tmp_path / "ds")
    for f in (root / "images" / "val").iterdir():
        f.unlink()
    assert "no images found for split 'val'" in _refused(folder_suite(tmp_path, root))


def test_missing_split(tmp_path):
    root = generic_dataset(tmp_path / "ds")
    shutil.rmtree(root / "images" / "val")
    err = _refused(folder_suite(tmp_path, root))
    assert str(root / "images" / "val") in err and "val split" in err


def test_missing_label(tmp_path):
    root = generic_dataset(tmp_path / "ds")
    (root / "labels" / "train" / "s2.png").unlink()
    assert str(root / "labels" / "train" / "s2.png") in _refused(folder_suite(tmp_path, root))


@pytest.mark.parametrize("what", ["images", "labels"])
def test_corrupt_png_is_named(tmp_path, what):
    root = generic_dataset(tmp_path / "ds")
    bad = root / what / "train" / "s1.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    err = _refused(folder_suite(tmp_path, root))
    assert str(bad) in err and "cannot read the image" in err


def test_truncated_png_outside_the_sample_needs_deep(tmp_path):
    root = generic_dataset(tmp_path / "ds", n_train=20)
    order = sorted(p.name for p in (root / "images" / "train").iterdir())
    skipped = next(i for i in range(20) if i not in spread(20))
    bad = root / "images" / "train" / order[skipped]
    truncate(bad)
    suite = folder_suite(tmp_path, root)
    assert invoke("suite", "validate", suite).exit_code == 0  # header fine, not in the sample
    err = _refused(suite, "--deep")
    assert str(bad) in err


def test_image_label_size_mismatch_is_named(tmp_path):
    root = generic_dataset(tmp_path / "ds")
    lab = label(root / "labels" / "val" / "s1.png", h=16, w=32)
    err = _refused(folder_suite(tmp_path, root))
    assert "sizes differ" in err and str(lab) in err and "16" in err
    # the loader itself refuses to silently resize
    ds = FolderSegmentation(root, "generic", "val", 4, (32, 32))
    with pytest.raises(DataError, match="sizes differ"):
        ds.item(1)


def test_colour_label_refused(tmp_path):
    root = generic_dataset(tmp_path / "ds")
    bad = rgb(root / "labels" / "train" / "s0.png")
    err = _refused(folder_suite(tmp_path, root))
    assert str(bad) in err and "colour" in err


def test_label_values_beyond_num_classes(tmp_path):
    root = generic_dataset(tmp_path / "ds")
    bad = label(root / "labels" / "train" / "s3.png", values=(0, 1, 7, 255))
    err = _refused(folder_suite(tmp_path, root))
    assert str(bad) in err and "label values 7" in err and "num_classes" in err


def test_grey_label_saved_as_rgb_is_fine(tmp_path):
    root = generic_dataset(tmp_path / "ds")
    arr = np.resize(np.asarray([0, 1, 2], np.uint8), 32 * 32).reshape(32, 32)
    Image.fromarray(np.stack([arr] * 3, -1)).save(root / "labels" / "train" / "s0.png")
    assert invoke("suite", "validate", folder_suite(tmp_path, root)).exit_code == 0
