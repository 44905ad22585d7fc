"""Seeded synthetic matting scenes (the matting task's embedded default data).

A foreground object with a soft, detailed alpha is composited over a textured background,
``I = α·F + (1 − α)·B``:

* **alpha**: an opaque core (a blob with a wavy outline) with both *sharp* stretches and *smooth*
  (blurred) stretches of edge; *hair- or fur-like strands* — thin curved lines growing out of the
  core, partly transparent, thinner than a pixel at their tips; a *semi-transparent* region (a
  veil of α ≈ 0.3–0.7 with a soft edge).
* **foreground / background**: independently textured colour fields (stripes, blobs); the
  foreground's colour also differs along the strands so that alpha must be read from the image.
* **trimap** (values 0 / 128 / 255): unknown = every pixel with 0 < α < 1, dilated by a square
  kernel — of random size for training, fixed for validation — the rest foreground / background.

Returns images in [0, 1]; the task normalises them and feeds ``trimap / 255`` as a fourth channel.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from scipy import ndimage

UNKNOWN = 128


def _field(rng: np.random.Generator, h: int, w: int, yy, xx) -> np.ndarray:
    base = rng.uniform(0.1, 0.9, size=(3, 1, 1))
    a = rng.uniform(0, np.pi)
    stripes = 0.12 * np.sin(2 * np.pi * (xx * np.cos(a) + yy * np.sin(a)) / rng.uniform(3, 14))
    img = base + stripes[None]
    for _ in range(int(rng.integers(1, 4))):
        cy, cx, s = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(3, 0.3 * max(h, w))
        img = img + rng.uniform(-0.25, 0.25, size=(3, 1, 1)) * np.exp(
            -((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))[None]
    return np.clip(img, 0, 1)


def _alpha(rng: np.random.Generator, h: int, w: int, yy, xx) -> np.ndarray:
    cy, cx = rng.uniform(0.35, 0.65) * h, rng.uniform(0.35, 0.65) * w
    r0 = rng.uniform(0.18, 0.3) * min(h, w)
    ang = np.arctan2(yy - cy, xx - cx)
    radius = r0 * (1 + 0.15 * np.sin(rng.integers(2, 6) * ang + rng.uniform(0, 6.3)))
    d = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2) - radius  # signed distance-ish, < 0 inside
    sharp = np.clip(0.5 - d, 0, 1)  # a one-pixel ramp: a sharp edge
    smooth = 1 / (1 + np.exp(d / rng.uniform(1.5, 3.0)))  # a soft edge
    side = np.cos(ang - rng.uniform(0, 6.3)) > 0  # half the outline sharp, half smooth
    alpha = np.where(side, sharp, smooth)
    # hair-like strands: thin curves from the outline outwards, fading at their tips
    strands = np.zeros((h, w))
    for _ in range(int(rng.integers(6, 16))):
        a = rng.uniform(0, 2 * np.pi)
        length = rng.uniform(0.4, 1.0) * r0
        width = rng.uniform(0.3, 0.9)
        bend = rng.uniform(-0.6, 0.6)
        t = np.linspace(0, 1, max(8, int(2 * length)))  # points about half a pixel apart
        rr = r0 * 0.9 + t * length
        aa = a + bend * t**2
        py, px = cy + rr * np.sin(aa), cx + rr * np.cos(aa)
        y0, y1 = max(0, int(py.min()) - 2), min(h, int(py.max()) + 3)
        x0, x1 = max(0, int(px.min()) - 2), min(w, int(px.max()) + 3)
        if y0 >= y1 or x0 >= x1:
            continue
        wy, wx = yy[y0:y1, x0:x1], xx[y0:y1, x0:x1]
        dd = np.sqrt((wy[None] - py[:, None, None]) ** 2 + (wx[None] - px[:, None, None]) ** 2)
        cover = (1 - 0.7 * t)[:, None, None] * np.clip(width + 0.5 - dd, 0, 1)
        strands[y0:y1, x0:x1] = np.maximum(strands[y0:y1, x0:x1],
                                           cover.max(0) * min(1, width * 1.5))
    alpha = np.maximum(alpha, strands)
    # a semi-transparent veil with a soft edge
    vy, vx = cy + rng.uniform(-1, 1) * r0, cx + rng.uniform(-1, 1) * r0
    vs = rng.uniform(0.25, 0.5) * r0
    veil = rng.uniform(0.3, 0.7) / (1 + np.exp((np.sqrt((yy - vy) ** 2 + (xx - vx) ** 2) - vs) / 1.5))
    return np.clip(np.maximum(alpha, veil), 0, 1)


def make_trimap(alpha: np.ndarray, kernel: int) -> np.ndarray:
    """Trimap (uint8 0 / 128 / 255) of an alpha: the pixels with 0 < α < 1 dilated by a square
    ``kernel`` are unknown, the rest foreground (α = 1) or background."""
    unknown = (alpha > 0) & (alpha < 1)
    if kernel > 1:
        unknown = ndimage.binary_dilation(unknown, np.ones((kernel, kernel), bool))
    tri = np.where(alpha >= 1, 255, 0).astype(np.uint8)
    tri[unknown] = UNKNOWN
    return tri


def render_matting_scene(rng: np.random.Generator, h: int, w: int, kernel: int | None
                         ) -> dict[str, np.ndarray]:
    """One scene: ``image``, ``fg``, ``bg`` (3, h, w) in [0, 1], ``alpha`` (h, w) and ``trimap``
    (h, w) uint8; ``kernel`` None draws the dilation kernel (training), else uses it."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    fg, bg = _field(rng, h, w, yy, xx), _field(rng, h, w, yy, xx)
    alpha = _alpha(rng, h, w, yy, xx)
    alpha = np.where(alpha < 1 / 255, 0.0, np.where(alpha > 254 / 255, 1.0, alpha))
    k = int(rng.integers(3, 12)) if kernel is None else kernel
    image = alpha[None] * fg + (1 - alpha[None]) * bg + rng.normal(0, 0.01, size=fg.shape)
    return {"image": np.clip(image, 0, 1).astype(np.float32), "fg": fg.astype(np.float32),
            "bg": bg.astype(np.float32), "alpha": alpha.astype(np.float32),
            "trimap": make_trimap(alpha, k)}


@functools.lru_cache(maxsize=8)
def _generate(n: int, h: int, w: int, seed: int, kernel: int | None) -> dict[str, torch.Tensor]:
    rng = np.random.default_rng(seed)
    scenes = [render_matting_scene(rng, h, w, kernel) for _ in range(n)]
    out = {k: torch.from_numpy(np.stack([s[k] for s in scenes])) for k in scenes[0]}
    out["alpha"] = out["alpha"][:, None]
    out["trimap"] = out["trimap"][:, None]
    return out


def synthetic_matting_split(split: str, n: int, size: tuple[int, int], seed: int = 0,
                            val_kernel: int = 7) -> dict[str, torch.Tensor]:
    """Tensors ``image``, ``fg``, ``bg`` (n, 3, H, W), ``alpha`` (n, 1, H, W) in [0, 1] and
    ``trimap`` (n, 1, H, W) uint8 of one split; training trimaps use random dilation kernels,
    validation ones ``val_kernel``. Seeded and cached in-process; treat as read-only."""
    offset = {"train": 0, "val": 1_000_003, "test": 2_000_003}[split]
    return _generate(n, size[0], size[1], seed + offset, None if split == "train" else val_kernel)
