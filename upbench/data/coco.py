"""COCO-format detection datasets: an instances JSON and an image folder per split.

Category ids may be non-contiguous (COCO's run 1..90 with gaps): they are mapped, in increasing
id order, to the contiguous labels 1..K torchvision's detectors use (0 is background) and back
for evaluation (:attr:`CocoDetection.category_ids`). Images of any size are resized to the
requested size, boxes with them. ``iscrowd`` regions stay in the targets (the task drops them
from training and passes them to the evaluation).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from upbench.data.batching import flip_samples
from upbench.data.imagecheck import DataError, check_regular_file, open_image
from upbench.data.imagenet import normalize_chw


class CocoFormatError(ValueError):
    """A COCO JSON that is not usable; the message names the file and what to fix."""


@dataclass
class CocoIndex:
    """The parts of an instances JSON the loader uses."""

    images: list[dict[str, Any]]
    category_ids: list[int]
    names: list[str]
    anns: dict[int, list[dict[str, Any]]] = field(default_factory=dict)


def _ann_where(path: Path, n: int, a: Any) -> str:
    ident = a.get("id") if isinstance(a, dict) else None
    return f"{path}: annotation id {ident!r} (#{n})" if ident is not None else \
        f"{path}: annotation #{n} (no id)"


def _check_annotation(path: Path, n: int, a: Any, known_images: set[int],
                      ids: list[int]) -> dict[str, Any]:
    """One annotation's fields, checked: every problem names the file, the annotation id and
    the fix."""
    where = _ann_where(path, n, a)
    if not isinstance(a, dict):
        raise CocoFormatError(f"{where}: an annotation is a JSON object, got {type(a).__name__}")

    def integer(key: str) -> int:
        v = a.get(key)
        if isinstance(v, bool) or not isinstance(v, int):
            raise CocoFormatError(f"{where}: {key} must be an integer id, got {v!r}; fix the "
                                  "annotation")
        return v

    img, cat = integer("image_id"), integer("category_id")
    box = a.get("bbox")
    if (not isinstance(box, list) or len(box) != 4
            or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in box)):
        raise CocoFormatError(f"{where}: bbox must be [x, y, w, h] (four numbers), got {box!r}")
    x, y, w, h = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        raise CocoFormatError(f"{where}: bbox {box} is not finite; fix or remove the annotation")
    if x < 0 or y < 0 or not (w > 0 and h > 0):
        raise CocoFormatError(f"{where}: bbox {box} needs x, y >= 0 and w, h > 0 (an empty or "
                              "negative box); fix or remove the annotation")
    crowd = a.get("iscrowd", 0)
    if isinstance(crowd, bool):
        crowd = int(crowd)
    if crowd not in (0, 1) or isinstance(crowd, float):
        raise CocoFormatError(f"{where}: iscrowd must be 0 or 1, got {crowd!r}; set it to 0 (an "
                              "object) or 1 (a crowd region)")
    area = a.get("area", w * h)
    if (isinstance(area, bool) or not isinstance(area, (int, float)) or not math.isfinite(area)
            or area < 0):
        raise CocoFormatError(f"{where}: area must be a finite number >= 0 (pixels), got "
                              f"{area!r}; set it (w·h of the box, or the mask's area) or drop "
                              "the key")
    if img not in known_images:
        raise CocoFormatError(f"{where}: refers to unknown image id {img}; add the image or "
                              "remove the annotation")
    if cat not in ids:
        raise CocoFormatError(f"{where}: has unknown category id {cat} (categories: {ids}); add "
                              "the category or remove the annotation")
    return {"id": a.get("id"), "bbox": [x, y, w, h], "category_id": cat, "iscrowd": int(crowd),
            "area": float(area)}


def read_instances(path: str | Path) -> CocoIndex:
    """Parse and check a COCO instances JSON (images, categories, annotations).

    Raises:
        CocoFormatError: not a regular JSON file, a missing key, a duplicate id, an annotation of
            an unknown image or category, a box that is not ``[x, y, w, h]`` of finite numbers
            with x, y >= 0 and w, h > 0, an ``iscrowd`` other than 0/1, an ``area`` that is not a
            finite number >= 0 — naming the file, the annotation id and the fix.
    """
    path = Path(path)
    try:
        check_regular_file(path, "annotation file")
        data = json.loads(path.read_text(encoding="utf-8"))
    except DataError as e:
        raise CocoFormatError(str(e)) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        why = "nested too deeply" if isinstance(e, RecursionError) else e
        raise CocoFormatError(f"{path}: not a readable JSON file ({why})") from None
    if not isinstance(data, dict):
        raise CocoFormatError(f"{path}: a COCO instances file is a JSON object")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise CocoFormatError(f"{path}: missing the list {key!r} (COCO instances format)")
    try:
        for c in data["categories"]:
            if isinstance(c["id"], bool) or not isinstance(c["id"], int):
                raise TypeError(f"category id {c['id']!r} is not an integer")
        for im in data["images"]:
            if isinstance(im["id"], bool) or not isinstance(im["id"], int):
                raise TypeError(f"image id {im['id']!r} is not an integer")
            if not isinstance(im["file_name"], str) or not im["file_name"]:
                raise TypeError(f"image {im['id']}'s file_name {im['file_name']!r} is not a name")
        cats = sorted(data["categories"], key=lambda c: c["id"])
        ids = [int(c["id"]) for c in cats]
        names = [str(c.get("name", c["id"])) for c in cats]
        images = [dict(im, id=int(im["id"])) for im in data["images"]]
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise CocoFormatError(f"{path}: a category or image is malformed ({e}; each needs an "
                              "integer 'id', images a 'file_name')") from None
    if len(set(ids)) != len(ids) or len({im["id"] for im in images}) != len(images):
        raise CocoFormatError(f"{path}: category and image ids must be unique")
    known_images = {im["id"] for im in images}
    anns: dict[int, list[dict[str, Any]]] = {}
    for n, a in enumerate(data["annotations"]):
        ann = _check_annotation(path, n, a, known_images, ids)
        anns.setdefault(a["image_id"], []).append(ann)
    return CocoIndex(images, ids, names, anns)


def scaled_boxes(anns: list[dict[str, Any]], image_size: tuple[int, int],
                 size: tuple[int, int]) -> np.ndarray:
    """The annotations' boxes as ``(N, 4)`` float32 ``x1, y1, x2, y2`` for an image of
    ``image_size`` (H, W) resized to ``size`` (H, W), clipped to it."""
    (ih, iw), (h, w) = image_size, size
    sx, sy = w / iw, h / ih
    boxes = np.asarray([[a["bbox"][0] * sx, a["bbox"][1] * sy, (a["bbox"][0] + a["bbox"][2]) * sx,
                         (a["bbox"][1] + a["bbox"][3]) * sy] for a in anns],
                       np.float32).reshape(-1, 4)
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
    return boxes


def check_boxes(anns: list[dict[str, Any]], boxes: np.ndarray, ann_file: str | Path,
                image: str | Path, size: tuple[int, int]) -> None:
    """Refuse boxes that are empty once resized to ``size`` and clipped to the image (the
    detector cannot train on them), naming the annotation and the fix.

    Raises:
        CocoFormatError: the first such box.
    """
    bad = np.nonzero((boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1]))[0]
    if bad.size:
        a = anns[int(bad[0])]
        raise CocoFormatError(f"{ann_file}: annotation id {a.get('id')!r} (image {image}): bbox "
                              f"{a['bbox']} is empty at the input size {size[0]}×{size[1]} "
                              "(zero width or height after resizing, or outside the image); "
                              "remove the annotation or raise input_size")


class CocoDetection:
    """A lazily read COCO split (:class:`upbench.tasks.base.Split`): ``batch(indices, flip)`` →
    ``((images (B,3,H,W),), [target dicts])`` at ``size``.

    Args:
        ann_file: the instances JSON.
        image_dir: the folder its ``file_name`` s are relative to.
        size: (H, W) every image is resized to (boxes scaled with it).
        max_items: keep the first ``max_items`` images.
        category_ids: the id → label order to use (the training split's, so that validation
            labels mean the same); default this file's.
    """

    def __init__(self, ann_file: str | Path, image_dir: str | Path, size: tuple[int, int],
                 max_items: int | None = None, category_ids: list[int] | None = None) -> None:
        self.index = read_instances(ann_file)
        self.ann_file = ann_file
        self.image_dir = Path(image_dir)
        self.size = tuple(size)
        self.images = self.index.images[:max_items]
        self.category_ids = list(category_ids or self.index.category_ids)
        self.label_of = {c: i + 1 for i, c in enumerate(self.category_ids)}
        missing = sorted(set(self.index.category_ids) - set(self.category_ids))
        if missing:
            raise CocoFormatError(f"{ann_file}: categories {missing} are not in the training "
                                  f"split's categories {self.category_ids}")

    def __len__(self) -> int:
        return len(self.images)

    def item(self, i: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Image ``i`` (3, H, W), normalised, and its target dict."""
        info = self.images[i]
        h, w = self.size
        path = self.image_dir / info["file_name"]
        im = open_image(path, "RGB")
        sx, sy = w / im.width, h / im.height
        img = np.asarray(im.resize((w, h), Image.Resampling.BILINEAR), np.float32)
        anns = self.index.anns.get(info["id"], [])
        boxes = scaled_boxes(anns, (im.height, im.width), (h, w))
        check_boxes(anns, boxes, self.ann_file, path, (h, w))
        target = {"boxes": torch.from_numpy(boxes),
                  "labels": torch.tensor([self.label_of[a["category_id"]] for a in anns],
                                         dtype=torch.int64),
                  "iscrowd": torch.tensor([a["iscrowd"] for a in anns], dtype=torch.int64),
                  "area": torch.tensor([a["area"] * sx * sy for a in anns], dtype=torch.float32),
                  "image_id": torch.tensor(info["id"])}
        x = normalize_chw(img.transpose(2, 0, 1) / 255.0)
        return torch.from_numpy(x.astype(np.float32)), target

    def batch(self, indices, flip: torch.Tensor | None = None):
        """The samples at ``indices`` (those with ``flip`` mirrored, boxes too)."""
        items = [self.item(int(i)) for i in indices]
        return flip_detection_batch(torch.stack([a for a, _ in items]), [t for _, t in items],
                                    flip)


def flip_detection_batch(images: torch.Tensor, targets: list[dict[str, torch.Tensor]],
                         flip: torch.Tensor | None):
    """``((images,), targets)`` with the samples where ``flip`` is True mirrored, their boxes
    with them (x → W − x)."""
    if flip is None or not bool(flip.any()):
        return (images,), targets
    (images,) = flip_samples(flip, images)
    w = images.shape[-1]
    out = []
    for t, f in zip(targets, flip.tolist(), strict=True):
        if f:
            t = dict(t)
            b = t["boxes"].clone()
            b[:, [0, 2]] = w - t["boxes"][:, [2, 0]]
            t["boxes"] = b
        out.append(t)
    return (images,), out
