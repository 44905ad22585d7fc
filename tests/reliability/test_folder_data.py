"""On-disk datasets checked before any work (`suite validate`, `run`): empty or missing splits,
missing labels, corrupt files, size mismatches, colour labels, label values beyond the classes —
each exit 2 naming the file; `validate --deep` decodes every file. And the loaders name a bad file
mid-run instead of a bare PIL traceback."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from tests.cli.helpers import invoke
from tests.reliability.helpers import folder_suite, generic_dataset, label, rgb
from upbench.data.folder import FolderSegmentation
from upbench.data.imagecheck import DataError, spread
from upbench.engine import ConfigError, load_suite
from upbench.engine.train import batches


def _refused(suite, *args):
    r = invoke("suite", "validate", suite, "--json", *args)
    assert r.exit_code == 2, r.output
    return json.loads(r.stdout)["error"]


def _truncate(path, keep=60):
    """Keep the PNG header (size readable) but cut the pixel data (decoding fails)."""
    path.write_bytes(path.read_bytes()[:keep])


@pytest.mark.parametrize("key", ["max_train", "max_val"])
@pytest.mark.parametrize("value", [0, -1])
def test_max_zero_or_negative_is_refused_not_a_hang(tmp_path, key, value):
    root = generic_dataset(tmp_path / "ds")
    suite = folder_suite(tmp_path, root, **{key: value})
    assert f"dataset.{key}" in _refused(suite)
    out = tmp_path / "out"
    r = invoke("run", suite, "--out", out)
    assert r.exit_code == 2 and f"dataset.{key}" in r.output and not out.exists()


def test_empty_split_never_loops():
    class Empty:
        def __len__(self):
            return 0

    with pytest.raises(ValueError, match="empty"):
        next(batches(Empty(), 2, torch.Generator()))


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
    _truncate(bad)
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


# -- the other tasks' loaders share upbench.data.imagecheck --------------------------------------


def test_depth_corrupt_and_mismatched_files_are_named(tmp_path):
    from tests.data.layouts import make_nyu
    from tests.tasks.depth.test_depth_task import NYU_DS, SUITE
    from upbench.tasks.depth import TASK

    root = make_nyu(tmp_path / "nyu")
    p = tmp_path / "s.yaml"
    p.write_text(SUITE.replace("{DATASET}", NYU_DS))
    suite = load_suite(p)
    TASK.check_data(suite, str(p))
    img = root / "sync" / "scene_0000" / "rgb_00002.jpg"
    _truncate(img, keep=200)
    with pytest.raises(ConfigError, match=r"rgb_00002\.jpg: cannot read the image"):
        TASK.check_data(suite, str(p))
    rgb(img, h=30, w=64)
    with pytest.raises(ConfigError, match=r"sizes differ: .*rgb_00002\.jpg is 64×30"):
        TASK.check_data(suite, str(p))


def test_detection_corrupt_image_is_named(tmp_path):
    from tests.data.layouts import make_coco
    from tests.tasks.detection.test_detection_task import COCO_DS, _suite
    from upbench.tasks.detection import TASK

    root = make_coco(tmp_path / "coco")
    suite, p = _suite(tmp_path, COCO_DS)
    TASK.check_data(suite, str(p))
    (root / "val2017" / "1.jpg").write_bytes(b"garbage")
    with pytest.raises(ConfigError, match=r"dataset.val_images: .*1\.jpg: cannot read the image"):
        TASK.check_data(suite, str(p))


def test_matting_size_mismatch_and_corrupt_files_are_named(tmp_path):
    from tests.data.layouts import make_composition1k
    from tests.tasks.matting.test_matting_task import SUITE
    from upbench.tasks.matting import TASK

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
