"""NYU-Depth-v2 in BTS's layout: a split list of ``<rgb path> <depth path> <focal>`` lines,
paths relative to the dataset root; RGB jpg/png, depth a 16-bit PNG in millimetres
(value / 1000 = metres, 0 = invalid)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from upbench.data.batching import flip_samples
from upbench.data.imagecheck import DataError, check_regular_file, open_image
from upbench.data.imagenet import normalize_chw

DEPTH_SCALE = 1000.0  # NYU's PNGs hold millimetres


@dataclass
class DepthPair:
    """One RGB image, its depth map and the camera's focal length (pixels)."""

    image: Path
    depth: Path
    focal: float


class ListError(ValueError):
    """A malformed split list; the message names the file and the line."""


def read_list(root: str | Path, list_file: str | Path) -> list[DepthPair]:
    """The pairs of a BTS split list (blank lines and ``#`` comments skipped).

    Raises:
        ListError: a line without three fields or with a focal that is not a positive number.
        FileNotFoundError: the list, or a listed file, does not exist (the first one named).
        DataError: the list or a listed file is not a regular file (a FIFO, a directory, a
            dangling or looping symlink), named.
    """
    root, list_file = Path(root), Path(list_file)
    if not list_file.exists() and not list_file.is_symlink():
        raise FileNotFoundError(f"split list {list_file} does not exist")
    check_regular_file(list_file, "split list")
    pairs = []
    for n, line in enumerate(list_file.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 3:
            raise ListError(f"{list_file}:{n}: expected '<rgb path> <depth path> <focal>', "
                            f"got {line!r}")
        try:
            focal = float(parts[2])
        except ValueError:
            raise ListError(f"{list_file}:{n}: focal {parts[2]!r} is not a number") from None
        if not (np.isfinite(focal) and focal > 0):
            raise ListError(f"{list_file}:{n}: focal {parts[2]!r} must be a positive number of "
                            "pixels (NYU's is 518.8579)")
        pair = DepthPair(root / parts[0].lstrip("/"), root / parts[1].lstrip("/"), focal)
        for p in (pair.image, pair.depth):
            if not p.exists() and not p.is_symlink():
                raise FileNotFoundError(f"{list_file}:{n}: {p} does not exist")
            try:
                check_regular_file(p, "listed file")
            except DataError as e:
                raise DataError(f"{list_file}:{n}: {e}") from None
        pairs.append(pair)
    return pairs


def load_depth_png(path: Path) -> np.ndarray:
    """A 16-bit depth PNG as metres (float32); 0 stays 0 (invalid).

    Raises:
        ValueError: the PNG is not 16-bit single-channel, or holds values beyond 16 bits (naming
            the file).
    """
    im = open_image(path)
    if im.mode not in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        raise DataError(f"{path}: depth must be a 16-bit single-channel PNG in millimetres, "
                        f"got mode {im.mode}")
    arr = np.asarray(im).astype(np.float32)
    if arr.size and (arr.min() < 0 or arr.max() > 65535):
        raise DataError(f"{path}: depth values {arr.min():g}..{arr.max():g} are not 16-bit "
                        "millimetres; save it as a 16-bit PNG")
    return arr / DEPTH_SCALE


def check_depth(depth: np.ndarray, path: Path, lo: float | None = None,
                hi: float | None = None) -> None:
    """Refuse a depth map with nothing to learn or measure: no valid (non-zero) pixel, or, given
    the evaluation range ``lo``..``hi`` (metres), no pixel inside it.

    Raises:
        DataError: naming the file, what it holds and the fix.
    """
    valid = depth > 0
    if not valid.any():
        raise DataError(f"{path}: the depth map has no valid pixel (all 0 = invalid); it gives "
                        "neither a training signal nor a metric — fix or remove the sample")
    if lo is not None and hi is not None:
        inside = valid & (depth >= lo) & (depth <= hi)
        if not inside.any():
            raise DataError(f"{path}: no pixel lies in the evaluation range {lo:g}..{hi:g} m (its "
                            f"depths span {depth[valid].min():g}..{depth[valid].max():g} m); "
                            "NYU's PNGs hold millimetres — check the units, or the suite's "
                            "metrics.min_depth / max_depth")


class FolderDepth:
    """A lazily read NYU-layout split (:class:`upbench.tasks.base.Split`):
    ``batch(indices, flip)`` → ``((images (B,3,H,W),), {"depth": (B,1,H,W)})``. Images are resized
    bilinearly, depth by nearest neighbour (invalid zeros stay zero) to ``size``."""

    def __init__(self, root: str | Path, list_file: str | Path, size: tuple[int, int],
                 max_items: int | None = None) -> None:
        self.pairs = read_list(root, list_file)[:max_items]
        self.size = tuple(size)

    def __len__(self) -> int:
        return len(self.pairs)

    def item(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample ``i``: normalised image (3, H, W) and depth (1, H, W) in metres."""
        p = self.pairs[i]
        h, w = self.size
        img = np.asarray(open_image(p.image, "RGB").resize((w, h), Image.Resampling.BILINEAR), np.float32)
        depth = load_depth_png(p.depth)
        d = np.asarray(Image.fromarray(depth, mode="F").resize((w, h), Image.Resampling.NEAREST), np.float32)
        x = normalize_chw(img.transpose(2, 0, 1) / 255.0)
        return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(d[None].copy())

    def batch(self, indices, flip: torch.Tensor | None = None):
        """The samples at ``indices`` (those with ``flip`` mirrored)."""
        items = [self.item(int(i)) for i in indices]
        x, d = flip_samples(flip, torch.stack([a for a, _ in items]),
                            torch.stack([b for _, b in items]))
        return (x,), {"depth": d}
