"""Adobe Composition-1k (Xu et al., "Deep Image Matting") on disk.

Folder keys (relative to the dataset root; the defaults are the Adobe release's layout):

* training: ``train_fg`` (foregrounds), ``train_alpha`` (their alphas, same file stems),
  ``train_bg`` (background images, e.g. COCO) — every foreground is composited on the fly over
  ``bg_per_fg`` backgrounds (a fixed pairing), ``I = α·F + (1 − α)·B``; its trimap is the alpha's
  unknown band dilated by a kernel drawn per sample from a seeded generator;
* test: ``test_merged`` (the composited images), ``test_alpha`` and ``test_trimap`` (same file
  stems; trimaps with 0 / 128 / 255).

Alphas and trimaps are read at their full bit depth (8- or 16-bit grey PNGs; 16-bit values are
scaled by 65535, so a 16-bit matte gives the metrics of its 8-bit equivalent up to quantisation).
A trimap's values are classified relative to its full scale (below a quarter: background, above
three quarters: foreground, between: unknown); a trimap coded as small integers (0 / 1 / 2) is
refused with the file named, not guessed, since codings differ on which value is the foreground.

Every image is resized to the requested size (images and alphas bilinearly, trimaps by nearest
neighbour).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from upbench.data.imagecheck import DataError, open_image, read_unit
from upbench.data.matting_synthetic import make_trimap

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
DEFAULT_LAYOUT = {"train_fg": "train/fg", "train_alpha": "train/alpha", "train_bg": "train/bg",
                  "test_merged": "test/merged", "test_alpha": "test/alpha_copy",
                  "test_trimap": "test/trimaps"}


def list_images(folder: Path) -> list[Path]:
    """The image files of a folder, sorted (FileNotFoundError naming it when it is missing)."""
    if not folder.is_dir():
        raise FileNotFoundError(f"folder {folder} does not exist")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS)


def match_stems(first: list[Path], folder: Path, what: str) -> list[Path]:
    """For every file of ``first``, the file of ``folder`` with the same stem (the first missing
    one named in a FileNotFoundError)."""
    by_stem = {p.stem: p for p in list_images(folder)}
    out = []
    for p in first:
        if p.stem not in by_stem:
            raise FileNotFoundError(f"no {what} for {p.name} in {folder}")
        out.append(by_stem[p.stem])
    return out


def _rgb(path: Path, size: tuple[int, int]) -> np.ndarray:
    h, w = size
    return np.asarray(open_image(path, "RGB").resize((w, h), Image.Resampling.BILINEAR), np.float32
                      ).transpose(2, 0, 1) / 255.0


def read_alpha(path: Path, size: tuple[int, int]) -> np.ndarray:
    """An alpha matte (8- or 16-bit) as float32 in [0, 1], resized bilinearly to ``size``."""
    h, w = size
    unit, _ = read_unit(path)
    out = np.asarray(Image.fromarray(unit, mode="F").resize((w, h), Image.Resampling.BILINEAR),
                     np.float32)
    return np.clip(out, 0.0, 1.0)


def trimap_classes(unit: np.ndarray, path: Path, full: int) -> np.ndarray:
    """A trimap read by :func:`read_unit` (values in [0, 1]) as uint8 0 / 128 / 255.

    Raises:
        DataError: the values are all small integers (a 0 / 1 / 2 coding), naming the file and
            the expected coding.
    """
    top = float(unit.max()) if unit.size else 0.0
    if 0 < top < 0.25:
        codes = sorted({int(v) for v in np.unique(np.rint(unit * full))[:6]})
        raise DataError(f"{path}: trimap values {codes} look like a 0/1/2 class coding; upbench "
                        "reads trimaps coded 0 / 128 / 255 (background / unknown / foreground; "
                        "16-bit: 0 / 32768 / 65535) and refuses other codings rather than guess "
                        "which value is the foreground; re-export the trimap")
    return np.where(unit >= 0.75, 255, np.where(unit <= 0.25, 0, 128)).astype(np.uint8)


def read_trimap(path: Path, size: tuple[int, int]) -> np.ndarray:
    """A trimap (8- or 16-bit) classified (:func:`trimap_classes`) and resized by nearest
    neighbour to ``size``."""
    h, w = size
    unit, full = read_unit(path)
    tri = trimap_classes(unit, path, full)
    return np.asarray(Image.fromarray(tri).resize((w, h), Image.Resampling.NEAREST), np.uint8)


class Composition1kTrain:
    """Training split: foregrounds composited over backgrounds on the fly; ``item(i)`` gives the
    arrays of one sample (``image``, ``fg``, ``bg`` (3, H, W), ``alpha`` (H, W) in [0, 1],
    ``trimap`` (H, W) with 0 / 128 / 255)."""

    def __init__(self, root: str | Path, layout: dict[str, str], size: tuple[int, int],
                 bg_per_fg: int = 1, seed: int = 0, max_items: int | None = None) -> None:
        root = Path(root)
        self.fg = list_images(root / layout["train_fg"])
        self.alpha = match_stems(self.fg, root / layout["train_alpha"], "alpha")
        self.bg = list_images(root / layout["train_bg"])
        if not self.fg or not self.bg:
            raise FileNotFoundError(f"no foregrounds or backgrounds under {root} (keys train_fg, "
                                    "train_bg)")
        self.size: tuple[int, int] = (int(size[0]), int(size[1]))
        self.bg_per_fg, self.seed = bg_per_fg, seed
        self.n = len(self.fg) * bg_per_fg if max_items is None else min(
            max_items, len(self.fg) * bg_per_fg)

    def __len__(self) -> int:
        return self.n

    def item(self, i: int) -> dict[str, np.ndarray]:
        f = i // self.bg_per_fg
        b = (i * 7919 + self.seed) % len(self.bg)
        fg, bg = _rgb(self.fg[f], self.size), _rgb(self.bg[b], self.size)
        alpha = read_alpha(self.alpha[f], self.size)
        rng = np.random.default_rng((self.seed, i))
        image = alpha[None] * fg + (1 - alpha[None]) * bg
        return {"image": image, "fg": fg, "bg": bg, "alpha": alpha,
                "trimap": make_trimap(alpha, int(rng.integers(3, 12)))}


class Composition1kTest:
    """Test split: merged images with their alphas and trimaps (matched by file stem)."""

    def __init__(self, root: str | Path, layout: dict[str, str], size: tuple[int, int],
                 max_items: int | None = None) -> None:
        root = Path(root)
        self.merged = list_images(root / layout["test_merged"])[:max_items]
        self.alpha = match_stems(self.merged, root / layout["test_alpha"], "alpha")
        self.trimap = match_stems(self.merged, root / layout["test_trimap"], "trimap")
        self.size: tuple[int, int] = (int(size[0]), int(size[1]))

    def __len__(self) -> int:
        return len(self.merged)

    def item(self, i: int) -> dict[str, np.ndarray]:
        return {"image": _rgb(self.merged[i], self.size),
                "alpha": read_alpha(self.alpha[i], self.size),
                "trimap": read_trimap(self.trimap[i], self.size)}

    def check_measurable(self, i: int) -> None:
        """Refuse sample ``i`` when its trimap, at the input size, has no unknown pixel (the
        metrics are taken over the unknown region: nothing of it could be measured).

        Raises:
            DataError: naming the trimap and the fix.
        """
        if not (self.item(i)["trimap"] == 128).any():
            raise DataError(f"{self.trimap[i]}: the trimap has no unknown (128) pixels at the input "
                            f"size {self.size[0]}×{self.size[1]}; the matting metrics are taken "
                            "over the unknown region, so this image measures nothing (fix the "
                            "trimap, raise input_size if its band is thin, or remove the sample)")


def stack_items(items: list[dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
    """Per-sample arrays → batched tensors (alpha and trimap get a channel dimension)."""
    out = {}
    for k in items[0]:
        t = torch.from_numpy(np.stack([it[k] for it in items]).astype(
            np.uint8 if k == "trimap" else np.float32))
        out[k] = t[:, None] if k in ("alpha", "trimap") else t
    return out
