"""COCO-format detection datasets: an instances JSON and an image folder per split.

Category ids may be non-contiguous (COCO's run 1..90 with gaps): they are mapped, in increasing
id order, to the contiguous labels 1..K torchvision's detectors use (0 is background) and back
for evaluation (:attr:`CocoDetection.category_ids`). Images of any size are resized to the
requested size, boxes with them. ``iscrowd`` regions stay in the targets (the task drops them
from training and passes them to the evaluation).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from upbench.data.batching import flip_samples
from upbench.data.imagecheck import open_image
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


def read_instances(path: str | Path) -> CocoIndex:
    """Parse and check a COCO instances JSON (images, categories, annotations).

    Raises:
        CocoFormatError: not JSON, a missing key, a duplicate id, an annotation of an unknown
            image or category, or a box that is not ``[x, y, w, h]`` with w, h > 0.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CocoFormatError(f"{path}: not a readable JSON file ({e})") from None
    if not isinstance(data, dict):
        raise CocoFormatError(f"{path}: a COCO instances file is a JSON object")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise CocoFormatError(f"{path}: missing the list {key!r} (COCO instances format)")
    try:
        cats = sorted(data["categories"], key=lambda c: c["id"])
        ids = [int(c["id"]) for c in cats]
        names = [str(c.get("name", c["id"])) for c in cats]
        images = [dict(im, id=int(im["id"])) for im in data["images"]]
        for im in images:
            im["file_name"] = str(im["file_name"])
    except (KeyError, TypeError, ValueError) as e:
        raise CocoFormatError(f"{path}: a category or image lacks {e} (each needs an 'id'; images "
                              "a 'file_name')") from None
    if len(set(ids)) != len(ids) or len({im["id"] for im in images}) != len(images):
        raise CocoFormatError(f"{path}: category and image ids must be unique")
    known_images, known_cats = {im["id"] for im in images}, set(ids)
    anns: dict[int, list[dict[str, Any]]] = {}
    for n, a in enumerate(data["annotations"]):
        try:
            img, cat = int(a["image_id"]), int(a["category_id"])
            x, y, w, h = (float(v) for v in a["bbox"])
        except (KeyError, TypeError, ValueError):
            raise CocoFormatError(f"{path}: annotation #{n} needs image_id, category_id and "
                                  "bbox [x, y, w, h]") from None
        if img not in known_images:
            raise CocoFormatError(f"{path}: annotation #{n} refers to unknown image id {img}")
        if cat not in known_cats:
            raise CocoFormatError(f"{path}: annotation #{n} has unknown category id {cat} "
                                  f"(categories: {ids})")
        if not (w > 0 and h > 0):
            raise CocoFormatError(f"{path}: annotation #{n} has an empty box {a['bbox']}")
        anns.setdefault(img, []).append({"bbox": [x, y, w, h], "category_id": cat,
                                         "iscrowd": int(a.get("iscrowd", 0)),
                                         "area": float(a.get("area", w * h))})
    return CocoIndex(images, ids, names, anns)


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
        im = open_image(self.image_dir / info["file_name"], "RGB")
        sx, sy = w / im.width, h / im.height
        img = np.asarray(im.resize((w, h), Image.Resampling.BILINEAR), np.float32)
        anns = self.index.anns.get(info["id"], [])
        boxes = np.asarray([[a["bbox"][0] * sx, a["bbox"][1] * sy,
                             (a["bbox"][0] + a["bbox"][2]) * sx, (a["bbox"][1] + a["bbox"][3]) * sy]
                            for a in anns], np.float32).reshape(-1, 4)
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
