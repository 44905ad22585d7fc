"""Small images on disk and the generic segmentation folder built from them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def rgb(path: Path, h: int = 32, w: int = 32, seed: int = 0) -> Path:
    """A seeded-noise RGB image of ``h`` × ``w`` at ``path`` (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)
    return path


def label(path: Path, h: int = 32, w: int = 32, values=(0, 1, 2, 3)) -> Path:
    """A grey label map of ``h`` × ``w`` cycling through ``values`` at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.resize(np.asarray(values, np.uint8), h * w).reshape(h, w)
    Image.fromarray(arr).save(path)
    return path


def truncate(path: Path, keep: int = 60) -> None:
    """Keep the PNG header (size readable) but cut the pixel data (decoding fails)."""
    path.write_bytes(path.read_bytes()[:keep])


def generic_dataset(root: Path, n_train: int = 4, n_val: int = 2) -> Path:
    """A ``format: generic`` segmentation folder: images/<split>/*.png, labels/<split>/*.png."""
    for split, n in (("train", n_train), ("val", n_val)):
        for i in range(n):
            rgb(root / "images" / split / f"s{i}.png", seed=i)
            label(root / "labels" / split / f"s{i}.png")
    return root
