"""Tiny suites and on-disk datasets for the reliability cases (fast: 32×32, a few samples)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml
from PIL import Image

TINY = {
    "name": "tiny",
    "input_size": [32, 32],
    "dataset": {"num_classes": 4, "train_size": 4, "val_size": 2},
    "model": {"widths": [4, 4, 4, 4], "decoder_channels": 4},
    "train": {"iterations": 1, "batch_size": 2, "eval_batch_size": 2},
    "upsamplers": ["bilinear"],
    "profile": {"flops": False, "latency": False, "memory": False},
    "metrics": {"trimap_widths": [1]},
    "threads": 1,
}


def merge(base: dict, over: dict) -> dict:
    """``base`` with ``over`` merged in (nested mappings merged, other values replaced)."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def write_suite(path: Path, **over: object) -> Path:
    """A tiny segmentation suite at ``path`` with ``over`` merged in."""
    path.write_text(yaml.safe_dump(merge(TINY, over), sort_keys=False))
    return path


def rgb(path: Path, h: int = 32, w: int = 32, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)
    return path


def label(path: Path, h: int = 32, w: int = 32, values=(0, 1, 2, 3)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.resize(np.asarray(values, np.uint8), h * w).reshape(h, w)
    Image.fromarray(arr).save(path)
    return path


def generic_dataset(root: Path, n_train: int = 4, n_val: int = 2) -> Path:
    """A ``format: generic`` segmentation folder: images/<split>/*.png, labels/<split>/*.png."""
    for split, n in (("train", n_train), ("val", n_val)):
        for i in range(n):
            rgb(root / "images" / split / f"s{i}.png", seed=i)
            label(root / "labels" / split / f"s{i}.png")
    return root


def folder_suite(tmp_path: Path, root: Path, **dataset: object) -> Path:
    """A tiny suite reading the generic folder dataset at ``root``."""
    ds = {"kind": "folder", "format": "generic", "root": str(root), "num_classes": 4} | dataset
    return write_suite(tmp_path / "folder.yaml", dataset=ds)
