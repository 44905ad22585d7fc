"""ImageNet normalisation, the convention of every upbench image pipeline."""

from __future__ import annotations

import numpy as np

MEAN = np.array([0.485, 0.456, 0.406], np.float32)[:, None, None]
STD = np.array([0.229, 0.224, 0.225], np.float32)[:, None, None]


def normalize_chw(img: np.ndarray) -> np.ndarray:
    """(3, H, W) in [0, 1] → ImageNet-normalised float32."""
    return ((img - MEAN) / STD).astype(np.float32)
