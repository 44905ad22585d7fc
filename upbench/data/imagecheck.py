"""Checks the on-disk loaders share: read an image's size from its header, decode it fully, check
that the files of one sample agree in size, and pick a spread sample of a split to decode.

Every file is checked to be a regular file before it is opened (a FIFO would block the reader
forever; a directory, a device, a dangling or looping symlink are named as such), and its pixel
count against :data:`MAX_PIXELS` before it is decoded (a decompression bomb is refused by name,
PIL's own ``DecompressionBombError`` too). Grey maps are read at their full bit depth
(:func:`read_unit`: 8-bit / 255, 16-bit / 65535), never clipped to 8 bits.

Every failure is a :class:`DataError` whose message names the file and what to do, so a task's
``check_data`` can report it before any training starts (and a loader's ``item`` fails the same
way mid-run instead of with a bare PIL traceback).
"""

from __future__ import annotations

import errno
import os
import stat
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

SAMPLE = 8  # samples decoded per split by a quick check (``validate --deep``: all)
#: the most pixels an image may have (2**27, ~11585²; env ``UPBENCH_MAX_IMAGE_PIXELS``): the
#: datasets upbench reads have images of at most a few megapixels, so more is a broken or
#: hostile file (a decompression bomb), not data
MAX_PIXELS = 2**27
#: grey modes by bit depth (what PIL opens 8- and 16-bit single-channel PNGs as)
GREY16 = ("I;16", "I;16B", "I;16L", "I;16N", "I")


class DataError(ValueError):
    """An unusable dataset file; the message names the file and the fix."""


def _fail(path: Path, e: Exception) -> DataError:
    why = " ".join(str(e).split()) or type(e).__name__
    return DataError(f"{path}: cannot read the image ({why}); replace or remove the file")


def max_pixels() -> int:
    """The pixel limit in effect (:data:`MAX_PIXELS`, or ``UPBENCH_MAX_IMAGE_PIXELS``)."""
    try:
        return max(1, int(os.environ.get("UPBENCH_MAX_IMAGE_PIXELS", MAX_PIXELS)))
    except ValueError:
        return MAX_PIXELS


def check_regular_file(path: str | Path, what: str = "file") -> Path:
    """``path`` if it is (a link to) a regular file; else a :class:`DataError` saying what it is
    (missing, a directory, a FIFO, a device, a socket, a dangling or looping symlink), without
    ever opening it (opening a FIFO blocks)."""
    path = Path(path)
    try:
        st = os.stat(path)
    except OSError as e:
        if e.errno == errno.ELOOP:
            why = "is a symlink loop"
        elif os.path.islink(path):
            why = f"is a dangling symlink (to {os.readlink(path)})"
        elif e.errno == errno.ENOENT:
            why = "does not exist"
        else:
            why = f"cannot be read ({e.strerror or e})"
        raise DataError(f"{path}: the {what} {why}; replace it with a regular file") from None
    if not stat.S_ISREG(st.st_mode):
        kind = ("a directory" if stat.S_ISDIR(st.st_mode) else
                "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else
                "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else
                "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise DataError(f"{path}: the {what} is {kind}, not a regular file; replace it with the "
                        "file itself")
    return path


def _check_pixels(path: Path, w: int, h: int) -> None:
    limit = max_pixels()
    if w * h > limit:
        raise DataError(f"{path}: the image is {w}×{h} = {w * h:,} pixels, more than the limit "
                        f"{limit:,} (a decompression bomb, or not an image of this dataset); "
                        "replace the file, or raise UPBENCH_MAX_IMAGE_PIXELS if it is genuine")


def _open(path: Path) -> Image.Image:
    check_regular_file(path, "image")
    try:
        im = Image.open(path)
    except Image.DecompressionBombError as e:  # PIL's own limit, below ours if raised
        raise DataError(f"{path}: {e}; replace the file (a decompression bomb, or not an image of "
                        "this dataset)") from None
    try:
        _check_pixels(path, *im.size)
    except DataError:
        im.close()
        raise
    return im


_ERRORS = (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError)


def image_size(path: str | Path) -> tuple[int, int]:
    """``(H, W)`` of an image from its header (nothing decoded)."""
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with _open(path) as im:
                w, h = im.size
    except DataError:
        raise
    except _ERRORS as e:
        raise _fail(path, e) from None
    return h, w


def open_image(path: str | Path, mode: str | None = None) -> Image.Image:
    """The fully decoded image (converted to ``mode`` if given); a special file, an image over
    :func:`max_pixels`, a truncated or corrupt file is a :class:`DataError` naming it.

    Converting a 16-bit grey image to ``"L"`` is refused (it would clip to 8 bits): read grey
    maps with :func:`read_unit`."""
    path = Path(path)
    try:
        with warnings.catch_warnings():
            # the explicit limit above replaces PIL's warning; its error is still caught
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with _open(path) as im:
                im.load()
                if mode == "L" and im.mode in GREY16:
                    raise DataError(f"{path}: a 16-bit image where an 8-bit one was expected; "
                                    "re-export it as an 8-bit PNG")
                return im.convert(mode) if mode else im.copy()
    except DataError:
        raise
    except _ERRORS as e:
        raise _fail(path, e) from None


def read_unit(path: str | Path) -> tuple[np.ndarray, int]:
    """A grey map (alpha matte, trimap) at its full bit depth as float32 in [0, 1], and that
    depth's full-scale value (255 or 65535): 8-bit values / 255, 16-bit values / 65535, so a
    16-bit matte gives the same alpha as its 8-bit equivalent up to quantisation. A colour image
    is read through its luminance (8 bits).

    Raises:
        DataError: unreadable, or 32-bit values beyond 16 bits (naming the file).
    """
    path = Path(path)
    im = open_image(path)
    if im.mode in GREY16:
        arr = np.asarray(im).astype(np.float32)
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise DataError(f"{path}: grey values {arr.min():g}..{arr.max():g} are beyond 16 bits; "
                            "save it as an 8- or 16-bit grey PNG")
        return arr / 65535.0, 65535
    if im.mode == "F":
        raise DataError(f"{path}: a floating-point image; save it as an 8- or 16-bit grey PNG")
    if im.mode != "L":
        im = im.convert("L")
    return np.asarray(im).astype(np.float32) / 255.0, 255


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


__all__ = ["MAX_PIXELS", "SAMPLE", "DataError", "check_regular_file", "check_samples",
           "image_size", "index_array", "max_pixels", "open_image", "read_unit", "spread"]
