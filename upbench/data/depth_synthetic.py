"""Seeded synthetic indoor scenes with metric depth (the depth task's embedded default data).

Each scene is a box-shaped room seen by a pinhole camera (focal ``f = 0.8·W``, principal point at
the image centre, optical axis level with the floor) standing ``h`` metres above the floor:

* **Room**: the floor (y = −h), a back wall at distance Z_b, side walls at x = −a and x = +b and a
  ceiling; the depth of a pixel is the nearest positive intersection of its ray with these
  planes, so the floor recedes toward the horizon under perspective and the walls meet it in
  straight lines.
* **Objects standing on the floor**: boxes and cylinders at (X, Z) with random sizes — nearer
  objects sit lower in the image and look larger; their fronts occlude the room with sharp depth
  discontinuities. Cylinders curve in depth.
* **Thin structures**: poles 2–5 cm wide, standing on the floor.
* **Textures in world units**: the floor is a tiled checker pattern of fixed size in metres, the
  walls carry stripes of fixed period, objects their own patterns, so the image scale of every
  texture shrinks with distance — the cue a network reads depth from (with the floor contact
  line and the occlusions). A mild shading falls with depth; noise is added.
* **Invalid pixels**: a few small holes (sensor drop-outs) and everything beyond ``max_depth``
  have depth 0, as NYU's raw maps do.

Images are normalised like ImageNet images; depth is in metres, (N, 1, H, W).
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from upbench.data.imagenet import normalize_chw


def _room_depth(h: int, w: int, rng: np.random.Generator
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, float, float,
                           float]:
    """Depth of the room's planes per pixel and the world coordinates on them."""
    f = 0.8 * w
    cy, cx = (h - 1) / 2 + rng.uniform(-0.08, 0.08) * h, (w - 1) / 2
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    dx, dy = (xx - cx) / f, (cy - yy) / f  # ray direction (dx, dy, 1): y up
    cam_h = rng.uniform(1.2, 1.7)
    ceil_h = rng.uniform(2.4, 3.2)
    zb = rng.uniform(5.0, 9.0)
    a, b = rng.uniform(1.5, 3.5), rng.uniform(1.5, 3.5)
    inf = np.full((h, w), np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_floor = np.where(dy < 0, cam_h / -dy, inf)
        t_ceil = np.where(dy > 0, (ceil_h - cam_h) / dy, inf)
        t_left = np.where(dx < 0, a / -dx, inf)
        t_right = np.where(dx > 0, b / dx, inf)
    t_back = np.full((h, w), zb)
    planes = np.stack([t_floor, t_ceil, t_left, t_right, t_back])
    which = planes.argmin(0)
    depth = planes.min(0)
    X, Y = dx * depth, dy * depth  # world coordinates of the hit point (camera at origin)
    return depth, which, X, Y + cam_h, f, cx, cy, cam_h


def _texture(which: np.ndarray, X: np.ndarray, Y: np.ndarray, Z: np.ndarray,
             rng: np.random.Generator) -> np.ndarray:
    """Colours (3, H, W) of the room's surfaces, patterned in world units."""
    cols = rng.uniform(0.25, 0.8, size=(5, 3))
    tile = rng.uniform(0.35, 0.6)
    checker = ((np.floor(X / tile) + np.floor(Z / tile)) % 2) * 0.18 - 0.09
    stripes = 0.07 * np.sin(2 * np.pi * (X + Z) / rng.uniform(0.25, 0.5))
    bands = 0.06 * np.sin(2 * np.pi * Y / rng.uniform(0.3, 0.6))
    pattern = np.choose(which, [checker, bands, stripes, stripes, stripes + bands])
    img = cols[which].transpose(2, 0, 1) + pattern[None]
    return img


def render_depth_scene(rng: np.random.Generator, h: int, w: int, max_depth: float = 10.0,
                       objects: int = 4, poles: int = 2, holes: int = 2
                       ) -> tuple[np.ndarray, np.ndarray]:
    """One scene: image (3, h, w) float32 in about [0, 1] and depth (h, w) float32 (0 = invalid)."""
    depth, which, X, Y, f, cx, cy, cam_h = _room_depth(h, w, rng)
    img = _texture(which, X, Y, depth, rng)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    things = [("box" if rng.random() < 0.5 else "cyl", rng.uniform(0.3, 0.9), rng.uniform(0.3, 1.4))
              for _ in range(int(rng.integers(1, objects + 1)))]
    things += [("pole", rng.uniform(0.02, 0.05), rng.uniform(1.0, 2.2))
               for _ in range(int(rng.integers(0, poles + 1)))]
    for kind, width, height in things:
        z = rng.uniform(1.5, 7.0)
        x = rng.uniform(-1.2, 1.2) * z * 0.45
        half = width / 2
        x0, x1 = cx + f * (x - half) / z, cx + f * (x + half) / z
        if kind == "pole":  # at least one pixel wide: thin, never invisible
            mid = (x0 + x1) / 2
            x0, x1 = min(x0, mid - 0.5), max(x1, mid + 0.5)
        y_bottom = cy + f * cam_h / z
        y_top = cy + f * (cam_h - height) / z
        inside = (xx >= x0) & (xx < x1) & (yy >= y_top) & (yy < y_bottom)
        if kind == "cyl":
            u = np.clip((xx - (x0 + x1) / 2) / max((x1 - x0) / 2, 1e-6), -1, 1)
            zs = z - half * np.sqrt(1 - u**2)
        else:
            zs = np.full_like(depth, z)
        front = inside & (zs < depth)
        if not front.any():
            continue
        depth = np.where(front, zs, depth)
        col = rng.uniform(0.1, 0.9, size=3)
        wx = (xx - cx) * zs / f
        wy = (cy - yy) * zs / f + cam_h
        period = rng.uniform(0.08, 0.2)
        pat = 0.1 * np.sign(np.sin(2 * np.pi * (wx + 0.5 * wy) / period))
        img = np.where(front[None], col[:, None, None] + pat[None], img)
    shade = 1.0 - 0.35 * np.clip(depth / max_depth, 0, 1)
    img = img * shade[None] + rng.normal(0, 0.03, size=img.shape)
    gt = np.where(depth < max_depth, depth, 0.0)
    for _ in range(int(rng.integers(0, holes + 1))):
        hh, ww = int(rng.integers(2, max(3, h // 10))), int(rng.integers(2, max(3, w // 10)))
        y0, x0_ = int(rng.integers(0, h - hh)), int(rng.integers(0, w - ww))
        gt[y0:y0 + hh, x0_:x0_ + ww] = 0.0
    return np.clip(img, 0, 1).astype(np.float32), gt.astype(np.float32)


@functools.lru_cache(maxsize=8)
def _generate(n: int, h: int, w: int, seed: int, max_depth: float
              ) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    imgs = np.empty((n, 3, h, w), np.float32)
    depths = np.empty((n, 1, h, w), np.float32)
    for i in range(n):
        img, d = render_depth_scene(rng, h, w, max_depth)
        imgs[i] = normalize_chw(img)
        depths[i, 0] = d
    return torch.from_numpy(imgs), torch.from_numpy(depths)


def synthetic_depth_split(split: str, n: int, size: tuple[int, int], seed: int = 0,
                          max_depth: float = 10.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (n, 3, H, W) normalised float32 and depth (n, 1, H, W) in metres of one split.

    The split name is folded into the seed so train and val scenes differ; the same arguments
    always give the same tensors (cached in-process). Treat the result as read-only.
    """
    offset = {"train": 0, "val": 1_000_003, "test": 2_000_003}[split]
    return _generate(n, size[0], size[1], seed + offset, float(max_depth))
