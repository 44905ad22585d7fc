"""COCO instances files with hostile fields: every one refused naming the file, the annotation
id and the fix, never a crash in RoIAlign or torchvision's assertion (issue 30)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

from upbench.data.coco import CocoDetection, CocoFormatError, read_instances

GOOD_ANN = {"id": 7, "image_id": 1, "category_id": 3, "bbox": [10, 5, 20, 10], "area": 200,
            "iscrowd": 0}


def _write(tmp_path, ann=None, **top):
    data = {"images": [{"id": 1, "file_name": "a.jpg"}],
            "annotations": [GOOD_ANN if ann is None else ann],
            "categories": [{"id": 3, "name": "cat"}]}
    data.update(top)
    p = tmp_path / "inst.json"
    p.write_text(json.dumps(data))
    return p


def _with(**fields):
    a = dict(GOOD_ANN)
    for k, v in fields.items():
        if v is _with:
            a.pop(k)
        else:
            a[k] = v
    return a


@pytest.mark.parametrize("fields, match", [
    ({"iscrowd": "yes"}, r"iscrowd must be 0 or 1, got 'yes'; set it"),
    ({"iscrowd": 2}, r"iscrowd must be 0 or 1, got 2"),
    ({"iscrowd": 0.5}, r"iscrowd must be 0 or 1"),
    ({"area": None}, r"area must be a finite number >= 0 \(pixels\), got None; set it"),
    ({"area": "big"}, r"area must be a finite number"),
    ({"area": -3}, r"area must be a finite number >= 0"),
    ({"bbox": [10, 5, float("inf"), 10]}, r"bbox \[10, 5, inf, 10\] is not finite"),
    ({"bbox": [float("nan"), 5, 20, 10]}, r"is not finite; fix or remove"),
    ({"bbox": [-4, 5, 20, 10]}, r"needs x, y >= 0 and w, h > 0"),
    ({"bbox": [10, 5, -20, 10]}, r"needs x, y >= 0 and w, h > 0"),
    ({"bbox": [10, 5, 0, 10]}, r"needs x, y >= 0 and w, h > 0"),
    ({"bbox": [10, 5, 20]}, r"bbox must be \[x, y, w, h\]"),
    ({"bbox": "10 5 20 10"}, r"bbox must be \[x, y, w, h\]"),
    ({"bbox": [10, 5, True, 10]}, r"bbox must be \[x, y, w, h\]"),
    ({"bbox": _with}, r"bbox must be \[x, y, w, h\]"),
    ({"image_id": "1"}, r"image_id must be an integer id, got '1'"),
    ({"image_id": 99}, r"unknown image id 99"),
    ({"category_id": None}, r"category_id must be an integer id, got None"),
    ({"category_id": 4}, r"unknown category id 4 \(categories: \[3\]\)"),
])
def test_a_bad_annotation_field_is_named_with_its_id(tmp_path, fields, match):
    p = _write(tmp_path, _with(**fields))
    with pytest.raises(CocoFormatError, match=r"inst\.json: annotation id 7 \(#0\): .*" + match):
        read_instances(p)


def test_an_annotation_without_id_or_not_an_object(tmp_path):
    with pytest.raises(CocoFormatError, match=r"annotation #0 \(no id\): iscrowd"):
        read_instances(_write(tmp_path, {k: v for k, v in _with(iscrowd="no").items()
                                         if k != "id"}))
    with pytest.raises(CocoFormatError, match=r"annotation #0 \(no id\): an annotation is a JSON "
                                              "object"):
        read_instances(_write(tmp_path, [1, 2]))


@pytest.mark.parametrize("top, match", [
    ({"images": [{"id": "1", "file_name": "a.jpg"}]}, "image id '1' is not an integer"),
    ({"images": [{"id": 1, "file_name": None}]}, "file_name None is not a name"),
    ({"images": [{"id": 1}]}, "malformed"),
    ({"categories": [{"id": 3.5}]}, "category id 3.5 is not an integer"),
    ({"categories": [{"name": "x"}]}, "malformed"),
    ({"categories": {"3": "cat"}}, "missing the list 'categories'"),
])
def test_bad_images_and_categories(tmp_path, top, match):
    with pytest.raises(CocoFormatError, match=match):
        read_instances(_write(tmp_path, **top))


def test_crowd_may_be_a_bool_and_area_may_be_absent(tmp_path):
    idx = read_instances(_write(tmp_path, _with(iscrowd=True, area=_with)))
    assert idx.anns[1][0]["iscrowd"] == 1 and idx.anns[1][0]["area"] == 200.0


def test_absurdly_nested_and_special_annotation_files(tmp_path):
    p = tmp_path / "deep.json"
    p.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(CocoFormatError, match=r"deep\.json: not a readable JSON"):
        read_instances(p)
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(CocoFormatError, match=r"fifo\.json: the annotation file is a FIFO"):
        read_instances(fifo)
    (tmp_path / "d.json").mkdir()
    with pytest.raises(CocoFormatError, match="is a directory"):
        read_instances(tmp_path / "d.json")


def test_a_box_empty_after_resizing_is_named_not_an_assertion(tmp_path):
    Image.fromarray(np.zeros((60, 4000, 3), np.uint8)).save(tmp_path / "a.jpg")
    p = _write(tmp_path, _with(bbox=[3000, 5, 1e-4, 10]))  # below float32 resolution at 64
    ds = CocoDetection(p, tmp_path, (64, 64))
    with pytest.raises(CocoFormatError, match=r"inst\.json: annotation id 7 \(image .*a\.jpg\): "
                                              r"bbox .* is empty at the input size 64×64.*remove "
                                              "the annotation or raise input_size"):
        ds.item(0)
    p = _write(tmp_path, _with(bbox=[5000, 5, 20, 10]))  # outside the image
    with pytest.raises(CocoFormatError, match="outside the image"):
        CocoDetection(p, tmp_path, (64, 64)).item(0)


def test_boxes_are_clipped_to_the_image(tmp_path):
    Image.fromarray(np.zeros((60, 80, 3), np.uint8)).save(tmp_path / "a.jpg")
    p = _write(tmp_path, _with(bbox=[70, 50, 40, 40]))  # runs past the right and bottom edges
    _, t = CocoDetection(p, tmp_path, (60, 80)).item(0)
    assert t["boxes"].tolist() == [[70.0, 50.0, 80.0, 60.0]]
