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
from upbench.data.imagecheck import open_image
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
        ListError: a line without three fields or with a focal that is not a number.
        FileNotFoundError: the list, or a listed file, does not exist (the first one named).
    """
    root, list_file = Path(root), Path(list_file)
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
        pair = DepthPair(root / parts[0].lstrip("/"), root / parts[1].lstrip("/"), focal)
        for p in (pair.image, pair.depth):
            if not p.is_file():
                raise FileNotFoundError(f"{list_file}:{n}: {p} does not exist")
        pairs.append(pair)
    return pairs


def load_depth_png(path: Path) -> np.ndarray:
    """A 16-bit depth PNG as metres (float32); 0 stays 0 (invalid).

    Raises:
        ValueError: the PNG is not 16-bit single-channel (naming the file).
    """
    im = open_image(path)
    if im.mode not in ("I;16", "I;16B", "I;16L", "I"):
        raise ValueError(f"{path}: depth must be a 16-bit single-channel PNG in millimetres, "
                         f"got mode {im.mode}")
    arr = np.asarray(im, dtype=np.float32)
    return arr / DEPTH_SCALE


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
