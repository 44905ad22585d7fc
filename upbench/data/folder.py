"""On-disk segmentation datasets in the VOC / ADE20K / Cityscapes layouts (image + PNG label).

Layouts (``root`` is the dataset directory):

* ``voc``: ``JPEGImages/<id>.jpg``, ``SegmentationClass/<id>.png`` (palette PNG: the palette
  index is the class), ids listed in ``ImageSets/Segmentation/<split>.txt``.
* ``ade20k``: ``images/<split>/<name>.jpg``, ``annotations/<split>/<name>.png``; splits
  ``training`` / ``validation`` (``train``/``val`` are accepted); ``reduce_zero_label`` defaults to
  true as in mmseg (0 = "other" becomes 255, the rest shift down by one).
* ``cityscapes``: ``leftImg8bit/<split>/<city>/<x>_leftImg8bit.png`` and
  ``gtFine/<split>/<city>/<x>_gtFine_labelTrainIds.png``.
* ``generic``: ``images/<split>/<name>.*`` and ``labels/<split>/<name>.png``.

Label value 255 is ignored; values ``>= num_classes`` are mapped to 255 too (the task's
``check_data`` refuses them beforehand: they usually mean a wrong ``num_classes``). An image and
its label must have the same size, and labels hold class indices (palette or grey PNG; colour
labels are refused). Images are resized bilinearly and labels by nearest neighbour to the
requested size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from upbench.data.batching import flip_samples
from upbench.data.imagecheck import DataError, check_regular_file, index_array, open_image
from upbench.data.imagenet import normalize_chw

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
_ADE_SPLITS = {"train": "training", "val": "validation"}


@dataclass
class Pair:
    """One image and its label file."""

    image: Path
    label: Path


def find_pairs(root: str | Path, fmt: str, split: str) -> list[Pair]:
    """The (image, label) files of ``split`` in a dataset of layout ``fmt``, sorted.

    Raises:
        FileNotFoundError: naming the directory or list file that is missing.
    """
    root = Path(root)
    if fmt == "voc":
        lst = root / "ImageSets" / "Segmentation" / f"{split}.txt"
        if not lst.exists() and not lst.is_symlink():
            raise FileNotFoundError(f"VOC split list not found: {lst}")
        check_regular_file(lst, "VOC split list")  # a FIFO would block the read
        ids = [s.strip() for s in lst.read_text().split() if s.strip()]
        pairs = [Pair(_with_ext(root / "JPEGImages", i), root / "SegmentationClass" / f"{i}.png")
                 for i in ids]
    elif fmt == "cityscapes":
        img_dir, lab_dir = root / "leftImg8bit" / split, root / "gtFine" / split
        _need(img_dir)
        pairs = []
        for p in sorted(img_dir.rglob("*_leftImg8bit.png")):
            stem = p.name[: -len("_leftImg8bit.png")]
            pairs.append(Pair(p, lab_dir / p.parent.name / f"{stem}_gtFine_labelTrainIds.png"))
    else:
        if fmt == "ade20k":
            split = _ADE_SPLITS.get(split, split)
            img_dir, lab_dir = root / "images" / split, root / "annotations" / split
        elif fmt == "generic":
            img_dir, lab_dir = root / "images" / split, root / "labels" / split
        else:
            raise ValueError(f"unknown dataset format {fmt!r} (voc, ade20k, cityscapes, generic)")
        _need(img_dir)
        pairs = [Pair(p, lab_dir / f"{p.stem}.png") for p in sorted(img_dir.iterdir())
                 if p.suffix.lower() in IMAGE_EXTS]
    missing = [p.label for p in pairs if not p.label.is_file()]
    for m in missing:  # there but not a file (a FIFO, a directory, a broken link): say what
        if m.exists() or m.is_symlink():
            check_regular_file(m, "label")
    if missing:
        raise FileNotFoundError(f"{len(missing)} label file(s) missing, e.g. {missing[0]}")
    if not pairs:
        raise FileNotFoundError(f"no images found for split {split!r} under {root} ({fmt} layout)")
    return pairs


def _need(d: Path) -> None:
    if not d.is_dir():
        raise FileNotFoundError(f"dataset directory not found: {d}")


def _with_ext(d: Path, stem: str) -> Path:
    for ext in IMAGE_EXTS:
        if (d / f"{stem}{ext}").is_file():
            return d / f"{stem}{ext}"
    return d / f"{stem}.jpg"


def read_label(path: Path, reduce_zero_label: bool) -> np.ndarray:
    """A label PNG (palette or grey; colour refused) as int64 class indices, zero reduced if
    asked (0 → 255, the rest minus one); values are not clipped to the classes."""
    lab = index_array(path)
    if reduce_zero_label:
        lab = np.where(lab == 0, 255, lab - 1)
        lab[lab == 254] = 255
    return lab


def load_label(path: Path, num_classes: int, reduce_zero_label: bool) -> np.ndarray:
    """Read a label PNG (palette or grey) to int64 with ignore = 255 applied."""
    lab = read_label(path, reduce_zero_label)
    lab[(lab >= num_classes) & (lab != 255)] = 255
    return lab


def check_label(path: Path, num_classes: int, reduce_zero_label: bool) -> None:
    """Raise :class:`~upbench.data.imagecheck.DataError` when a label holds values that are
    neither a class (``< num_classes``) nor the ignore value 255."""
    lab = read_label(path, reduce_zero_label)
    bad = np.unique(lab[(lab >= num_classes) & (lab != 255)])
    if bad.size:
        shown = ", ".join(map(str, bad[:5].tolist())) + (", ..." if bad.size > 5 else "")
        raise DataError(f"{path}: label values {shown} are not classes 0..{num_classes - 1} nor "
                        f"the ignore value 255{' (after reduce_zero_label)' if reduce_zero_label else ''}; "
                        "set dataset.num_classes (or reduce_zero_label) to match the labels")


class FolderSegmentation:
    """A lazily read on-disk split (:class:`upbench.tasks.base.Split`): ``batch(indices, flip)``
    → ``((images (B,3,H,W),), labels (B,H,W))``.

    Args:
        root: dataset directory.
        fmt: ``voc`` | ``ade20k`` | ``cityscapes`` | ``generic``.
        split: split name.
        num_classes: number of classes (other values become 255).
        size: (H, W) every sample is resized to.
        reduce_zero_label: None → the format's default (true for ade20k).
        max_items: keep only the first ``max_items`` pairs.
    """

    def __init__(self, root: str | Path, fmt: str, split: str, num_classes: int,
                 size: tuple[int, int], reduce_zero_label: bool | None = None,
                 max_items: int | None = None) -> None:
        self.pairs = find_pairs(root, fmt, split)[:max_items]
        self.num_classes, self.size = num_classes, tuple(size)
        self.reduce_zero_label = (fmt == "ade20k") if reduce_zero_label is None else reduce_zero_label

    def __len__(self) -> int:
        return len(self.pairs)

    def item(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample ``i``: normalised image (3, H, W) float32 and label (H, W) int64."""
        p = self.pairs[i]
        h, w = self.size
        img = open_image(p.image, "RGB")
        raw = load_label(p.label, self.num_classes, self.reduce_zero_label)
        if raw.shape != (img.height, img.width):
            raise DataError(f"sizes differ: {p.image} is {img.width}×{img.height} but {p.label} is "
                            f"{raw.shape[1]}×{raw.shape[0]}; an image and its label must have the "
                            "same size")
        img = img.resize((w, h), Image.Resampling.BILINEAR)
        x = normalize_chw(np.asarray(img, np.float32).transpose(2, 0, 1) / 255.0)
        lab = Image.fromarray(raw.astype(np.uint8)).resize((w, h), Image.Resampling.NEAREST)
        return (torch.from_numpy(x),
                torch.from_numpy(np.asarray(lab).astype(np.int64)))

    def batch(self, indices, flip: torch.Tensor | None = None
              ) -> tuple[tuple[torch.Tensor], torch.Tensor]:
        """``((images,), labels)`` of the samples at ``indices``, those with ``flip`` mirrored."""
        items = [self.item(int(i)) for i in indices]
        x, y = flip_samples(flip, torch.stack([a for a, _ in items]),
                            torch.stack([b for _, b in items]))
        return (x,), y
