"""Seeded synthetic detection scenes (the detection task's embedded default data).

Each image holds objects of ``num_classes`` classes, each class a distinct shape with its own
colour family and texture (disc, square, triangle, ring, cross, diamond, bar, star — cycling past
eight), over a cluttered background (smooth colour field, oriented stripes, blobs), plus
*distractors* — shapes that are not objects (thin lines, small dots, half-transparent smudges) —
that the detector must learn to ignore. Object sizes are drawn log-uniformly so that COCO's
*small* (area < 32²) and *medium* (< 96²) ranges both hold objects, and *large* ones where the
image allows. Objects are painted back to front and may occlude each other; every box is exact:
the bounding box of the object's **visible** pixels, its area the visible pixel count. An object
less than 40 % visible is marked ``iscrowd`` (ignored in training, passed to the evaluation, as
COCO does with its crowd regions).

Targets follow torchvision's detection convention: per image a dict with ``boxes`` (K, 4) xyxy in
pixels, ``labels`` (K,) in 1..num_classes (0 is background), ``iscrowd``, ``area`` and
``image_id``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

from upbench.data.imagenet import normalize_chw

SHAPES = ("disc", "square", "triangle", "ring", "cross", "diamond", "bar", "star")
MIN_VISIBLE = 0.4


def _mask(shape: str, yy, xx, cy, cx, r, theta) -> np.ndarray:
    dy, dx = yy - cy, xx - cx
    u = dx * np.cos(theta) + dy * np.sin(theta)
    v = -dx * np.sin(theta) + dy * np.cos(theta)
    d = np.sqrt(dx**2 + dy**2)
    if shape == "disc":
        return d <= r
    if shape == "square":
        return (np.abs(u) <= r * 0.85) & (np.abs(v) <= r * 0.85)
    if shape == "triangle":
        return (v <= 0.8 * r) & (v >= -0.8 * r + 1.6 * np.abs(u)) & (np.abs(u) <= r)
    if shape == "ring":
        return (d <= r) & (d >= 0.55 * r)
    if shape == "cross":
        return ((np.abs(u) <= r) & (np.abs(v) <= 0.3 * r)) | ((np.abs(v) <= r) & (np.abs(u) <= 0.3 * r))
    if shape == "diamond":
        return np.abs(u) + np.abs(v) <= r
    if shape == "bar":
        return (np.abs(u) <= r) & (np.abs(v) <= 0.35 * r)
    ang = np.arctan2(v, u)  # star: a radius modulated five times around
    return d <= r * (0.55 + 0.45 * np.cos(5 * ang) ** 2)


def _palette(num_classes: int):
    rng = np.random.default_rng(4321)  # fixed: class appearance is part of the task
    colors = rng.uniform(0.15, 0.9, size=(num_classes, 3))
    freqs = rng.uniform(0.15, 0.5, size=num_classes)
    return colors, freqs


def render_detection_scene(rng: np.random.Generator, h: int, w: int, num_classes: int,
                           max_objects: int = 6, distractors: int = 4
                           ) -> tuple[np.ndarray, dict[str, Any]]:
    """One scene: image (3, h, w) float32 in about [0, 1] and its annotations (numpy arrays)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    colors, freqs = _palette(num_classes)
    # background: a smooth colour field, oriented stripes and a few soft blobs
    base = rng.uniform(0.2, 0.8, size=(3, 1, 1)) + 0.15 * np.sin(
        2 * np.pi * (xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1)) / rng.uniform(40, 120))[None]
    img = base + 0.05 * np.sin(2 * np.pi * (xx * np.cos(a := rng.uniform(0, np.pi))
                                            + yy * np.sin(a)) / rng.uniform(4, 12))[None]
    for _ in range(int(rng.integers(1, 4))):
        cy, cx, s = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(6, 25)
        img = img + rng.uniform(-0.15, 0.15, size=(3, 1, 1)) * np.exp(
            -((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))[None]
    owner = np.full((h, w), -1, np.int64)
    objs = []
    side_max = 0.7 * min(h, w)
    for k in range(int(rng.integers(1, max_objects + 1))):
        c = int(rng.integers(0, num_classes))
        r = float(np.exp(rng.uniform(np.log(4.0), np.log(side_max / 2))))
        cy, cx = rng.uniform(r * 0.5, h - r * 0.5), rng.uniform(r * 0.5, w - r * 0.5)
        m = _mask(SHAPES[c % len(SHAPES)], yy, xx, cy, cx, r, rng.uniform(0, np.pi))
        if m.sum() < 12:
            continue
        col = np.clip(colors[c] + rng.normal(0, 0.05, 3), 0, 1)
        tex = 0.08 * np.sin(2 * np.pi * freqs[c] * (xx - cx + yy - cy) + rng.uniform(0, 6.3))
        img = np.where(m[None], col[:, None, None] + tex[None], img)
        owner[m] = k
        objs.append((k, c, int(m.sum())))
    # distractors: not objects (no annotation), painted over everything
    for _ in range(int(rng.integers(0, distractors + 1))):
        kind = rng.integers(0, 3)
        col = rng.uniform(0.1, 0.9, size=3)
        if kind == 0:  # a thin line
            t = rng.uniform(0, np.pi)
            d = np.abs((xx - rng.uniform(0, w)) * np.sin(t) - (yy - rng.uniform(0, h)) * np.cos(t))
            m = d <= 0.6
        elif kind == 1:  # a small dot
            m = (yy - rng.uniform(0, h)) ** 2 + (xx - rng.uniform(0, w)) ** 2 <= rng.uniform(1, 4)
        else:  # a half-transparent smudge
            s = rng.uniform(3, 8)
            g = np.exp(-((yy - rng.uniform(0, h)) ** 2 + (xx - rng.uniform(0, w)) ** 2) / (2 * s * s))
            img = img * (1 - 0.5 * g[None]) + 0.5 * g[None] * col[:, None, None]
            continue
        img = np.where(m[None], col[:, None, None], img)
        owner[m] = -2
    boxes, labels, crowd, areas = [], [], [], []
    for k, c, full in objs:
        vis = owner == k
        n = int(vis.sum())
        if n == 0:
            continue
        ys, xs = np.nonzero(vis)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        labels.append(c + 1)
        crowd.append(int(n / full < MIN_VISIBLE))
        areas.append(float(n))
    img = img + rng.normal(0, 0.03, size=img.shape)
    ann = {"boxes": np.asarray(boxes, np.float32).reshape(-1, 4),
           "labels": np.asarray(labels, np.int64), "iscrowd": np.asarray(crowd, np.int64),
           "area": np.asarray(areas, np.float32)}
    return np.clip(img, 0, 1).astype(np.float32), ann


@functools.lru_cache(maxsize=8)
def _generate(n: int, h: int, w: int, num_classes: int, seed: int, max_objects: int
              ) -> tuple[torch.Tensor, list[dict[str, torch.Tensor]]]:
    rng = np.random.default_rng(seed)
    imgs = np.empty((n, 3, h, w), np.float32)
    targets = []
    for i in range(n):
        img, ann = render_detection_scene(rng, h, w, num_classes, max_objects)
        imgs[i] = normalize_chw(img)
        t = {k: torch.from_numpy(v) for k, v in ann.items()}
        t["image_id"] = torch.tensor(i + 1)
        targets.append(t)
    return torch.from_numpy(imgs), targets


def synthetic_detection_split(split: str, n: int, size: tuple[int, int], num_classes: int,
                              seed: int = 0, max_objects: int = 6
                              ) -> tuple[torch.Tensor, list[dict[str, torch.Tensor]]]:
    """Normalised images (n, 3, H, W) and per-image targets of one split (image ids 1..n).

    Seeded (the split name folds into the seed) and cached in-process; treat as read-only.
    """
    offset = {"train": 0, "val": 1_000_003, "test": 2_000_003}[split]
    return _generate(n, size[0], size[1], num_classes, seed + offset, max_objects)
