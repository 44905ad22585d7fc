"""Checks the on-disk loaders share: read an image's size from its header, decode it fully, check
that the files of one sample agree in size, and pick a spread sample of a split to decode.

Every failure is a :class:`DataError` whose message names the file and what to do, so a task's
``check_data`` can report it before any training starts (and a loader's ``item`` fails the same
way mid-run instead of with a bare PIL traceback).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

SAMPLE = 8  # samples decoded per split by a quick check (``validate --deep``: all)


class DataError(ValueError):
    """An unusable dataset file; the message names the file and the fix."""


def _fail(path: Path, e: Exception) -> DataError:
    why = " ".join(str(e).split()) or type(e).__name__
    return DataError(f"{path}: cannot read the image ({why}); replace or remove the file")


def image_size(path: str | Path) -> tuple[int, int]:
    """``(H, W)`` of an image from its header (nothing decoded)."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            w, h = im.size
    except (OSError, UnidentifiedImageError, ValueError) as e:
        raise _fail(path, e) from None
    return h, w


def open_image(path: str | Path, mode: str | None = None) -> Image.Image:
    """The fully decoded image (converted to ``mode`` if given); a truncated or corrupt file is a
    :class:`DataError` naming it."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            return im.convert(mode) if mode else im.copy()
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as e:
        raise _fail(path, e) from None


def index_array(path: str | Path) -> np.ndarray:
    """A label map (palette or grey PNG) as a 2-D int64 array. A colour (RGB) label whose
    channels differ is refused: its classes are colours, not indices."""
    path = Path(path)
    im = open_image(path)
    arr = np.asarray(im)
    if arr.ndim == 3:
        if arr.shape[2] >= 3 and not (np.array_equal(arr[..., 0], arr[..., 1])
                                      and np.array_equal(arr[..., 0], arr[..., 2])):
            raise DataError(f"{path}: a colour ({im.mode}) label; labels must hold class indices "
                            "(a palette or greyscale PNG, e.g. VOC's SegmentationClass or "
                            "Cityscapes' *_labelTrainIds.png)")
        arr = arr[..., 0]
    return arr.astype(np.int64)


def spread(n: int, k: int = SAMPLE) -> list[int]:
    """``k`` indices spread evenly over ``range(n)`` (first and last included); all if n <= k."""
    if n <= k:
        return list(range(n))
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


def check_samples(rows: Sequence[Sequence[Path]], deep: bool = False, same_size: bool = True,
                  decode: Callable[[int], object] | None = None) -> None:
    """Check a split's files: every file's header readable and, with ``same_size``, the files of
    each row (e.g. image and label) of one size; then decode a spread sample of rows (all with
    ``deep``), by ``decode(i)`` (the loader's own reading, so its checks run) or else fully.

    Raises:
        DataError: naming the first bad file (or the two files whose sizes differ).
    """
    for row in rows:
        sizes = [image_size(p) for p in row]
        if same_size and len(set(sizes)) > 1:
            desc = " but ".join(f"{p} is {w}×{h}" for p, (h, w) in zip(row, sizes, strict=True))
            raise DataError(f"sizes differ: {desc}; the files of one sample must have the same "
                            "size (resize or re-export the label)")
    for i in range(len(rows)) if deep else spread(len(rows)):
        if decode is not None:
            decode(i)
        else:
            for p in rows[i]:
                open_image(p)


__all__ = ["SAMPLE", "DataError", "check_samples", "image_size", "index_array", "open_image",
           "spread"]
