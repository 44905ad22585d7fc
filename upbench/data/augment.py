"""Training augmentations with ``torchvision.transforms.v2`` (suite key ``train.augment``).

Off by default (the flips of ``train.flip`` are the only augmentation then, and every existing
cell keeps its batches). Two families, as the papers' recipes use them:

* ``scale: [lo, hi]`` — scale jitter and crop: each sample is resized so that it fits
  ``input_size × f`` (aspect kept, ``f`` uniform in ``[lo, hi]``; ``v2.ScaleJitter``), then a
  random ``input_size`` crop is taken (padded where smaller; ``v2.RandomCrop``). mmseg's
  ``Resize(ratio_range=(0.5, 2.0)) + RandomCrop`` on ADE20K is ``scale: [0.5, 2.0]``.
* ``photometric: true`` — brightness, contrast, saturation and hue jitter (the ranges of mmseg's
  ``PhotoMetricDistortion``: ±32/255, ×[0.5, 1.5], ×[0.5, 1.5], ±18°) on the image only.

Targets move with the image because every part of a sample is a ``tv_tensors`` type: labels
and depth are ``Mask`` s (nearest resampling; padding is the ignore label 255, or depth 0 =
invalid), detection boxes ``BoundingBoxes`` (cropped, and boxes left empty removed with their
labels by ``v2.SanitizeBoundingBoxes``). Each sample's randomness comes from its own seed (the
cell's seed, the iteration and its place in the global batch), so batches do not depend on the
number of loader workers or devices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from upbench.data.imagenet import MEAN, STD
from upbench.utils.schema import ConfigError, bound

IGNORE = 255


@dataclass
class AugmentConfig:
    """The ``train.augment`` section (see the module docstring); the defaults are no
    augmentation."""

    scale: list[float] | None = bound(None, gt=0, why="[min, max] factors of input_size, e.g. "
                                      "[0.5, 2.0]; null for none")
    photometric: bool = False

    def validate(self, file: str, prefix: str) -> None:
        if self.scale is not None and (len(self.scale) != 2 or self.scale[0] > self.scale[1]):
            raise ConfigError(file, f"{prefix}.scale", f"must be [min, max] with min <= max, got "
                              f"{self.scale!r}")

    @property
    def active(self) -> bool:
        """Whether anything is augmented."""
        return self.scale is not None or self.photometric


def _mean_std(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    m = torch.from_numpy(MEAN.reshape(3, 1, 1)).to(device)
    s = torch.from_numpy(STD.reshape(3, 1, 1)).to(device)
    return m, s


class _Photometric(torch.nn.Module):
    """Colour jitter on a normalised image (de-normalised to [0, 1], jittered, re-normalised)."""

    def __init__(self) -> None:
        super().__init__()
        self.jitter = v2.ColorJitter(brightness=32 / 255, contrast=(0.5, 1.5),
                                     saturation=(0.5, 1.5), hue=18 / 360)

    def forward(self, image: torch.Tensor, *rest: Any) -> Any:
        m, s = _mean_std(image.device)
        raw = (image * s + m).clamp(0, 1)
        out = tv_tensors.wrap((self.jitter(raw.as_subclass(torch.Tensor)) - m) / s, like=image)
        return (out, *rest) if rest else out


class SampleAugment:
    """The v2 pipeline of one sample, seeded per sample.

    Args:
        config: the ``train.augment`` section.
        size: the crop size ``(H, W)`` (the suite's input size).
        mask_fill: padding value of the ``Mask`` targets (255 for labels, 0 for depth).
        boxes: samples carry bounding boxes (add ``SanitizeBoundingBoxes``).
    """

    def __init__(self, config: AugmentConfig, size: tuple[int, int], mask_fill: float = IGNORE,
                 boxes: bool = False) -> None:
        steps: list[Callable[..., Any]] = []
        if config.scale is not None:
            lo, hi = config.scale
            steps += [v2.ScaleJitter(tuple(size), scale_range=(lo, hi), antialias=True),
                      v2.RandomCrop(tuple(size), pad_if_needed=True,
                                    fill={tv_tensors.Image: 0.0, tv_tensors.Mask: mask_fill,
                                          "others": 0})]
        if boxes:
            steps.append(v2.SanitizeBoundingBoxes(labels_getter=_box_fields))
        self.geometric = v2.Compose(steps) if steps else None
        self.photometric = _Photometric() if config.photometric else None

    def __call__(self, sample: Any, seed: int) -> Any:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            if self.photometric is not None:
                sample = (self.photometric(sample[0]), *sample[1:])
            if self.geometric is not None:
                sample = self.geometric(sample)
        return sample


def _box_fields(sample: Any) -> tuple[torch.Tensor, ...]:
    """The per-box tensors SanitizeBoundingBoxes filters with the boxes (labels, iscrowd, area)."""
    target = sample[1] if isinstance(sample, tuple) else sample
    return tuple(target[k] for k in ("labels", "iscrowd", "area") if k in target)


class DenseAugment:
    """A batch augmentation for image + dense target tasks: ``((x,), y)`` with ``y`` the target
    (``key`` None) or ``{key: y, ...}``; the target is a ``Mask`` padded with ``fill``."""

    def __init__(self, config: AugmentConfig, size: tuple[int, int], key: str | None,
                 fill: float) -> None:
        self.aug = SampleAugment(config, size, fill)
        self.key = key

    def __call__(self, batch: Any, seeds: torch.Tensor) -> Any:
        (x,), target = batch
        y = target if self.key is None else target[self.key]
        xs, ys = [], []
        for i in range(x.shape[0]):
            a, b = self.aug((tv_tensors.Image(x[i]), tv_tensors.Mask(y[i])), int(seeds[i]))
            xs.append(a.as_subclass(torch.Tensor))
            ys.append(b.as_subclass(torch.Tensor))
        ys_t = torch.stack(ys)
        return (torch.stack(xs),), (ys_t if self.key is None else {**target, self.key: ys_t})


class DetectionAugment:
    """A batch augmentation for detection: ``((images,), [targets])`` with XYXY ``boxes``."""

    def __init__(self, config: AugmentConfig, size: tuple[int, int]) -> None:
        self.aug = SampleAugment(config, size, boxes=True)
        self.size = tuple(size)

    def __call__(self, batch: Any, seeds: torch.Tensor) -> Any:
        (x,), targets = batch
        xs, ts = [], []
        for i, t in enumerate(targets):
            h, w = x.shape[-2:]
            boxes = tv_tensors.BoundingBoxes(t["boxes"], format="XYXY", canvas_size=(h, w))
            img, out = self.aug((tv_tensors.Image(x[i]), {**t, "boxes": boxes}), int(seeds[i]))
            xs.append(img.as_subclass(torch.Tensor))
            ts.append({k: (v.as_subclass(torch.Tensor) if isinstance(v, torch.Tensor) else v)
                       for k, v in out.items()})
        return (torch.stack(xs),), ts


def sample_seeds(seed: int, iteration: int, batch_size: int) -> torch.Tensor:
    """The per-sample augmentation seeds of one global batch (independent of the data order's
    generator, so enabling augmentation does not move the order)."""
    base = (seed * 1_000_003 + iteration) * 4096
    return torch.arange(batch_size, dtype=torch.int64) + base


__all__ = ["AugmentConfig", "DenseAugment", "DetectionAugment", "SampleAugment",
           "sample_seeds"]
