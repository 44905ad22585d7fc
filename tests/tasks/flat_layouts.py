"""Small on-disk datasets the validation tests corrupt file by file: flat layouts (one folder per
kind of file, one list or annotation file per split) so that a test can overwrite a named file.
The real layouts (ADE20K, COCO 2017, BTS's NYU, Composition-1k) are in ``tests/data/layouts.py``."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image


def flat_nyu(root, n=3):
    lines = []
    rng = np.random.default_rng(0)
    for i in range(n):
        (root / "rgb").mkdir(parents=True, exist_ok=True)
        (root / "depth").mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(root / f"rgb/{i}.jpg")
        d = rng.integers(500, 9000, (48, 64)).astype(np.uint16)
        d[:4, :4] = 0
        Image.fromarray(d).save(root / f"depth/{i}.png")
        lines.append(f"rgb/{i}.jpg depth/{i}.png 518.8579")
    (root / "train.txt").write_text("\n".join(lines) + "\n")
    (root / "val.txt").write_text("\n".join(lines[:2]) + "\n")
    return root



def flat_coco(root, n=3):
    rng = np.random.default_rng(0)
    (root / "train2017").mkdir(parents=True)
    (root / "val2017").mkdir()
    images, anns = [], []
    for i in range(n):
        w, h = 80 + 10 * i, 60
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(
            root / "train2017" / f"{i}.jpg")
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(
            root / "val2017" / f"{i}.jpg")
        images.append({"id": 100 + i, "file_name": f"{i}.jpg", "width": w, "height": h})
        anns.append({"id": len(anns) + 1, "image_id": 100 + i, "category_id": [1, 3, 7][i],
                     "bbox": [10, 20, 40, 20], "area": 800, "iscrowd": 0})
        anns.append({"id": len(anns) + 1, "image_id": 100 + i, "category_id": 7,
                     "bbox": [0, 0, 20, 10], "area": 200, "iscrowd": 1})
    cats = [{"id": c, "name": f"c{c}"} for c in (7, 1, 3)]
    for split in ("train", "val"):
        (root / f"{split}.json").write_text(json.dumps({"images": images, "annotations": anns,
                                                        "categories": cats}))
    return root


FLAT_COCO_DS = ("{kind: folder, format: coco, root: coco, num_classes: 3, train_ann: train.json, "
           "val_ann: val.json, train_images: train2017, val_images: val2017}")



def flat_composition1k(root, n=2):
    rng = np.random.default_rng(0)
    for d in ("train/fg", "train/alpha", "train/bg", "test/merged", "test/alpha_copy",
              "test/trimaps"):
        (root / d).mkdir(parents=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(root / f"train/fg/o{i}.png")
        a = np.zeros((40, 50), np.uint8)
        a[10:30, 10:40] = 255
        a[10:30, 35:40] = 128
        Image.fromarray(a).save(root / f"train/alpha/o{i}.png")
        Image.fromarray(rng.integers(0, 255, (70, 60, 3), dtype=np.uint8)).save(root / f"train/bg/b{i}.jpg")
        Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(root / f"test/merged/t{i}.png")
        Image.fromarray(a).save(root / f"test/alpha_copy/t{i}.png")
        tri = np.where(a == 255, 255, 0).astype(np.uint8)
        tri[8:32, 8:42][(a[8:32, 8:42] > 0) & (a[8:32, 8:42] < 255)] = 128
        tri[8:12, 8:42] = 128
        Image.fromarray(tri).save(root / f"test/trimaps/t{i}.png")
    return root

