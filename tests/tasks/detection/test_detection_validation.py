"""Detection validation: COCO files whose categories or boxes the detector cannot use are refused
before training (issue 30)."""

from __future__ import annotations

import json

import pytest

from tests.data.layouts import make_coco
from tests.tasks.detection.test_detection_task import _suite
from tests.tasks.flat_layouts import FLAT_COCO_DS as COCO_DS
from tests.tasks.flat_layouts import flat_coco as _coco
from upbench.engine import ConfigError
from upbench.tasks.detection import TASK


def _edit(path, fn):
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data))


def test_a_val_category_missing_from_train_is_refused(tmp_path):
    root = _coco(tmp_path / "coco")
    suite, p = _suite(tmp_path, COCO_DS)
    _edit(root / "val.json", lambda d: d["categories"].append({"id": 9, "name": "new"}))
    with pytest.raises(ConfigError, match=r"dataset\.val_ann: .*val\.json: categories \[9\] are "
                                          r"not in the training split's \[1, 3, 7\]"):
        TASK.check_data(suite, str(p))


def test_no_categories_is_named_not_num_classes_0(tmp_path):
    root = _coco(tmp_path / "coco")
    suite, p = _suite(tmp_path, COCO_DS)
    _edit(root / "train.json", lambda d: (d.update(categories=[]), d.update(annotations=[])))
    with pytest.raises(ConfigError, match=r"train\.json lists no categories") as e:
        TASK.check_data(suite, str(p))
    assert "num_classes: 0" not in str(e.value)


@pytest.mark.parametrize("field, value, match", [
    ("iscrowd", "yes", "iscrowd must be 0 or 1"), ("area", None, "area must be a finite"),
    ("bbox", [10, 20, float("inf"), 20], "is not finite"),
    ("bbox", [10, 20, float("nan"), 20], "is not finite")])
def test_bad_annotation_fields_fail_validation_by_id(tmp_path, field, value, match):
    root = _coco(tmp_path / "coco")
    suite, p = _suite(tmp_path, COCO_DS)
    _edit(root / "train.json", lambda d: d["annotations"][2].update({field: value}))
    with pytest.raises(ConfigError, match=rf"dataset\.train_ann: .*annotation id 3 \(#2\): .*{match}"):
        TASK.check_data(suite, str(p))


def test_a_box_empty_at_the_input_size_fails_validation(tmp_path):
    root = _coco(tmp_path / "coco")
    suite, p = _suite(tmp_path, COCO_DS)
    _edit(root / "val.json", lambda d: d["annotations"][0].update(bbox=[89.99999, 20, 1e-5, 20]))
    with pytest.raises(ConfigError, match=r"dataset\.val_ann: .*annotation id 1 .*is empty at the "
                                          r"input size 64×64"):
        TASK.check_data(suite, str(p))


def test_detection_corrupt_image_is_named(tmp_path):
    # COCO 2017's real layout (this module's COCO_DS is the flat one)
    from tests.tasks.detection.test_detection_task import COCO_DS

    root = make_coco(tmp_path / "coco")
    suite, p = _suite(tmp_path, COCO_DS)
    TASK.check_data(suite, str(p))
    (root / "val2017" / "1.jpg").write_bytes(b"garbage")
    with pytest.raises(ConfigError, match=r"dataset.val_images: .*1\.jpg: cannot read the image"):
        TASK.check_data(suite, str(p))
