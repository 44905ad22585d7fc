"""Parameter-free and convolutional baselines: bilinear, nearest, PixelShuffle."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from upbench import ops
from upbench.upsamplers._registry import register_upsampler
from upbench.upsamplers.base import Upsampler


@register_upsampler("bilinear")
class Bilinear(Upsampler):
    """Bilinear upsampling, half-pixel centres (``upbench.ops.bilinear_upsample``)."""

    ops = ("bilinear_upsample",)

    def forward(self, x: torch.Tensor, guide: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x, guide)
        return ops.bilinear_upsample(x, self.scale, impl=self.impl)


@register_upsampler("nearest")
class Nearest(Upsampler):
    """Nearest-neighbour upsampling (ATen; a pure copy with no native op of its own)."""

    def forward(self, x: torch.Tensor, guide: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x, guide)
        return F.interpolate(x, scale_factor=self.scale, mode="nearest")


@register_upsampler("pixelshuffle")
class PixelShuffle(Upsampler):
    """3×3 conv C → C·s², then depth-to-space (``upbench.ops.pixel_shuffle``)."""

    ops = ("pixel_shuffle",)

    def __init__(self, in_channels: int, scale: int, impl: str = "auto") -> None:
        super().__init__(in_channels, scale, impl)
        self.conv = nn.Conv2d(in_channels, in_channels * scale * scale, 3, padding=1)

    def forward(self, x: torch.Tensor, guide: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x, guide)
        return ops.pixel_shuffle(self.conv(x), self.scale, impl=self.impl)
