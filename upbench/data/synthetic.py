"""Seeded synthetic segmentation scenes (the embedded default data).

Each scene has 2–3 *stuff* regions (wavy horizons and diagonal splits) filled with class-specific
textures (oriented sinusoidal stripes of a class-specific frequency on a class colour, plus
noise), a few *thing* objects painted on top with occlusion — discs, rotated bars, rings,
triangles and "stick figures" whose 1–2 px limbs are the thin parts that bilinear upsampling
smears — and *small objects* of 2–5 px. Class colours are close enough that texture and context
matter; boundaries are sharp (no anti-aliasing), so boundary metrics separate upsamplers.

Class layout for ``num_classes = K``: classes ``0 .. S-1`` are stuff with ``S = max(2, K // 3)``,
the last class is the small-object class, the rest are things.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

SHAPES = ("disc", "bar", "ring", "triangle", "stick")


def class_layout(num_classes: int) -> tuple[list[int], list[int], int]:
    """(stuff classes, thing classes, small-object class) for ``num_classes``."""
    if num_classes < 3:
        raise ValueError(f"synthetic scenes need num_classes >= 3, got {num_classes}")
    s = max(2, num_classes // 3)
    things = list(range(s, num_classes - 1)) or [num_classes - 1]
    return list(range(s)), things, num_classes - 1


def _palette(num_classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(12345)  # fixed: class appearance is part of the task definition
    colors = rng.uniform(0.15, 0.85, size=(num_classes, 3))
    freqs = rng.uniform(0.08, 0.45, size=num_classes)
    angles = rng.uniform(0, np.pi, size=num_classes)
    return colors, freqs, angles


def _texture(k: int, yy: np.ndarray, xx: np.ndarray, pal, phase: float) -> np.ndarray:
    colors, freqs, angles = pal
    wave = np.sin(2 * np.pi * freqs[k] * (xx * np.cos(angles[k]) + yy * np.sin(angles[k])) + phase)
    return colors[k][:, None, None] + 0.12 * wave[None]


def _shape_mask(shape: str, yy, xx, cy, cx, r, theta, rng) -> np.ndarray:
    dy, dx = yy - cy, xx - cx
    u = dx * np.cos(theta) + dy * np.sin(theta)
    v = -dx * np.sin(theta) + dy * np.cos(theta)
    if shape == "disc":
        return (u / r) ** 2 + (v / (0.6 * r)) ** 2 <= 1
    if shape == "bar":
        return (np.abs(u) <= r) & (np.abs(v) <= max(1.0, 0.25 * r))
    if shape == "ring":
        d = np.sqrt(dx**2 + dy**2)
        return (d <= r) & (d >= 0.6 * r)
    if shape == "triangle":
        return (v <= 0.7 * r) & (v >= -0.7 * r + 1.6 * np.abs(u)) & (np.abs(u) <= r)
    # stick figure: a body disc with thin limbs (1–2 px wide lines)
    body = dx**2 + dy**2 <= (0.45 * r) ** 2
    limbs = np.zeros_like(body)
    width = rng.uniform(0.5, 1.0)
    for a in theta + np.linspace(0, 2 * np.pi, 4, endpoint=False):
        lu = dx * np.cos(a) + dy * np.sin(a)
        lv = -dx * np.sin(a) + dy * np.cos(a)
        limbs |= (lu >= 0) & (lu <= 1.4 * r) & (np.abs(lv) <= width)
    return body | limbs


def render_scene(rng: np.random.Generator, h: int, w: int, num_classes: int, max_things: int,
                 small_objects: int) -> tuple[np.ndarray, np.ndarray]:
    """One scene: image (3, h, w) float32 in about [0, 1] and label (h, w) uint8."""
    stuff, things, small = class_layout(num_classes)
    pal = _palette(num_classes)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    label = np.empty((h, w), np.uint8)
    img = np.empty((3, h, w), np.float32)
    # stuff: a wavy horizon and an optional diagonal split of the lower part
    ks = rng.choice(stuff, size=3, replace=len(stuff) < 3)
    horizon = h * rng.uniform(0.25, 0.6) + h * 0.08 * np.sin(
        2 * np.pi * xx / (w * rng.uniform(0.5, 1.5)) + rng.uniform(0, 6.28))
    regions = [yy < horizon]
    if rng.random() < 0.6:
        slope = rng.uniform(-1, 1)
        split = (xx - w * rng.uniform(0.3, 0.7)) - slope * (yy - h / 2) > 0
        regions += [~regions[0] & split, ~regions[0] & ~split]
    else:
        regions += [~regions[0]]
    for k, m in zip(ks, regions, strict=False):  # 3 classes drawn, 2 or 3 regions
        label[m] = k
        tex = _texture(int(k), yy, xx, pal, rng.uniform(0, 6.28))
        img[:, m] = tex[:, m]
    # things, painted back to front
    for _ in range(int(rng.integers(1, max_things + 1)) if max_things > 0 else 0):
        k = int(rng.choice(things))
        shape = SHAPES[things.index(k) % len(SHAPES)] if k in things else "disc"
        r = rng.uniform(0.12, 0.3) * min(h, w)
        m = _shape_mask(shape, yy, xx, rng.uniform(0.15, 0.85) * h, rng.uniform(0.15, 0.85) * w,
                        r, rng.uniform(0, np.pi), rng)
        label[m] = k
        tex = _texture(k, yy, xx, pal, rng.uniform(0, 6.28))
        img[:, m] = tex[:, m]
    # small objects: 2–5 px squares of the small-object class
    for _ in range(int(rng.integers(0, small_objects + 1)) if small_objects > 0 else 0):
        size = int(rng.integers(2, 6))
        y0, x0 = int(rng.integers(0, h - size)), int(rng.integers(0, w - size))
        label[y0:y0 + size, x0:x0 + size] = small
        img[:, y0:y0 + size, x0:x0 + size] = pal[0][small][:, None, None]
    img += rng.normal(0, 0.04, size=img.shape).astype(np.float32)
    img = img * rng.uniform(0.85, 1.15) + rng.uniform(-0.05, 0.05)
    return img.astype(np.float32), label


@functools.lru_cache(maxsize=8)
def _generate(n: int, h: int, w: int, num_classes: int, seed: int, max_things: int,
              small_objects: int) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    imgs = np.empty((n, 3, h, w), np.float32)
    labels = np.empty((n, h, w), np.uint8)
    for i in range(n):
        imgs[i], labels[i] = render_scene(rng, h, w, num_classes, max_things, small_objects)
    x = torch.from_numpy((imgs - 0.5) / 0.25)
    return x, torch.from_numpy(labels.astype(np.int64))


def synthetic_split(split: str, n: int, size: tuple[int, int], num_classes: int, seed: int = 0,
                    max_things: int = 4, small_objects: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (n, 3, H, W) normalised float32 and labels (n, H, W) int64 of one split.

    The split name is folded into the seed so train and val scenes differ; the same arguments
    always give the same tensors (cached in-process). Treat the result as read-only.
    """
    offset = {"train": 0, "val": 1_000_003, "test": 2_000_003}[split]
    return _generate(n, size[0], size[1], num_classes, seed + offset, max_things, small_objects)
