"""Tiny datasets written in the real on-disk layouts upbench reads, for tests: ADE20K
(``ADEChallengeData2016``), COCO 2017 (mmdetection's ``annotations/instances_*2017.json``),
NYU Depth V2 (BTS's ``sync/`` + ``official_splits/test/`` with its two file lists) and Adobe's
Composition-1k (``Combined_Dataset``'s train/test folders). Each writer returns the directory a
suite's ``dataset.root`` points at; the images are seeded noise of a few dozen pixels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

#: BTS's NYU file lists, as their train/test paths are written by :func:`make_nyu`
NYU_TRAIN_LIST = "nyudepthv2_train_files_with_gt.txt"
NYU_TEST_LIST = "nyudepthv2_test_files_with_gt.txt"
NYU_FOCAL = 518.8579


def _rgb(rng: np.random.Generator, h: int, w: int) -> Image.Image:
    return Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))


def make_ade20k(root: Path, n_train: int = 4, n_val: int = 2, h: int = 40, w: int = 56) -> Path:
    """``root/ADEChallengeData2016`` with ``n_train`` / ``n_val`` JPEG + grey PNG pairs (label
    values 0..150; 0 is 'other'). Returns the ``ADEChallengeData2016`` directory."""
    ade = root / "ADEChallengeData2016"
    rng = np.random.default_rng(0)
    for split, prefix, n in (("training", "ADE_train", n_train), ("validation", "ADE_val", n_val)):
        (ade / "images" / split).mkdir(parents=True)
        (ade / "annotations" / split).mkdir(parents=True)
        for i in range(1, n + 1):
            name = f"{prefix}_{i:08d}"
            lab = np.zeros((h, w), np.uint8)  # 0: 'other', ignored
            lab[: h // 2, : w // 2] = 1 + (i % 150)
            lab[h // 2:, w // 2:] = 150  # the last class
            lab[: h // 2, w // 2:] = 17
            _rgb(rng, h, w).save(ade / "images" / split / f"{name}.jpg", quality=90)
            Image.fromarray(lab, mode="L").save(ade / "annotations" / split / f"{name}.png")
    return ade


def coco_annotation_file(split: str) -> str:
    """COCO 2017's instances file of ``split`` (``train`` / ``val``), relative to the root."""
    return f"annotations/instances_{split}2017.json"


def make_coco(root: Path, n: int = 3, category_ids: tuple[int, ...] = (1, 3, 7)) -> Path:
    """COCO 2017's layout under ``root``: ``train2017/``, ``val2017/`` and
    ``annotations/instances_{train,val}2017.json`` (the same ``n`` images of 60 × 80+10i pixels
    in both splits). Image i has one box of category ``category_ids[i % len]`` and one crowd box
    of the last category; the categories are listed out of id order, the ids are not
    contiguous. Returns ``root``."""
    rng = np.random.default_rng(0)
    (root / "train2017").mkdir(parents=True)
    (root / "val2017").mkdir()
    (root / "annotations").mkdir()
    images, anns = [], []
    for i in range(n):
        w, h = 80 + 10 * i, 60
        _rgb(rng, h, w).save(root / "train2017" / f"{i}.jpg")
        _rgb(rng, h, w).save(root / "val2017" / f"{i}.jpg")
        images.append({"id": 100 + i, "file_name": f"{i}.jpg", "width": w, "height": h})
        anns.append({"id": len(anns) + 1, "image_id": 100 + i,
                     "category_id": category_ids[i % len(category_ids)],
                     "bbox": [10, 20, 40, 20], "area": 800, "iscrowd": 0})
        anns.append({"id": len(anns) + 1, "image_id": 100 + i, "category_id": category_ids[-1],
                     "bbox": [0, 0, 20, 10], "area": 200, "iscrowd": 1})
    cats = [{"id": c, "name": f"c{c}"} for c in (category_ids[-1], *category_ids[:-1])]
    for split in ("train", "val"):
        (root / coco_annotation_file(split)).write_text(
            json.dumps({"images": images, "annotations": anns, "categories": cats}))
    return root


def make_nyu(root: Path, n_train: int = 3, n_val: int = 2, h: int = 48, w: int = 64) -> Path:
    """NYU Depth V2 as BTS prepares it, under one ``root``: ``sync/<scene>/rgb_*.jpg`` +
    ``sync_depth_*.png`` (training) and ``official_splits/test/<scene>/...`` (the test split),
    16-bit depth PNGs in millimetres with an invalid (0) corner, and BTS's two file lists
    (:data:`NYU_TRAIN_LIST`, :data:`NYU_TEST_LIST`) with paths relative to ``root``. Returns
    ``root``."""
    rng = np.random.default_rng(0)
    for folder, list_file, n in (("sync", NYU_TRAIN_LIST, n_train),
                                 ("official_splits/test", NYU_TEST_LIST, n_val)):
        lines = []
        for i in range(n):
            scene = root / folder / f"scene_{i % 2:04d}"
            scene.mkdir(parents=True, exist_ok=True)
            _rgb(rng, h, w).save(scene / f"rgb_{i:05d}.jpg")
            d = rng.integers(500, 9000, (h, w)).astype(np.uint16)
            d[:4, :4] = 0
            Image.fromarray(d).save(scene / f"sync_depth_{i:05d}.png")
            rel = f"{folder}/{scene.name}"
            lines.append(f"{rel}/rgb_{i:05d}.jpg {rel}/sync_depth_{i:05d}.png {NYU_FOCAL}")
        (root / list_file).write_text("\n".join(lines) + "\n")
    return root


def make_composition1k(root: Path, n: int = 2, h: int = 40, w: int = 50) -> Path:
    """Adobe's ``Combined_Dataset`` layout under ``root``: ``train/fg``, ``train/alpha``,
    ``train/bg`` (``n`` foregrounds, ``n`` larger backgrounds) and ``test/merged``,
    ``test/alpha_copy``, ``test/trimaps`` (``n`` composites; trimaps 0/128/255 with an unknown
    band). Returns ``root``."""
    rng = np.random.default_rng(0)
    for d in ("train/fg", "train/alpha", "train/bg", "test/merged", "test/alpha_copy",
              "test/trimaps"):
        (root / d).mkdir(parents=True)
    for i in range(n):
        _rgb(rng, h, w).save(root / f"train/fg/o{i}.png")
        a = np.zeros((h, w), np.uint8)
        a[h // 4: 3 * h // 4, w // 5: 4 * w // 5] = 255
        a[h // 4: 3 * h // 4, 7 * w // 10: 4 * w // 5] = 128
        Image.fromarray(a).save(root / f"train/alpha/o{i}.png")
        _rgb(rng, h + 30, w + 10).save(root / f"train/bg/b{i}.jpg")
        _rgb(rng, h, w).save(root / f"test/merged/t{i}.png")
        Image.fromarray(a).save(root / f"test/alpha_copy/t{i}.png")
        tri = np.where(a == 255, 255, 0).astype(np.uint8)
        band = (slice(h // 5, 4 * h // 5), slice(4 * w // 25, 21 * w // 25))
        tri[band][(a[band] > 0) & (a[band] < 255)] = 128
        tri[h // 5: h // 5 + 4, band[1]] = 128
        Image.fromarray(tri).save(root / f"test/trimaps/t{i}.png")
    return root
