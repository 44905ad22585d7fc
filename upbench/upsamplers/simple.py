"""Parameter-free and convolutional baselines: bilinear, nearest, PixelShuffle, deconvolution."""

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


@register_upsampler("deconv")
class Deconv(Upsampler):
    """Transposed convolution, the classic learnable upsampler the papers list: ConvTranspose2d
    C → C, kernel 3, stride s, padding 1, output padding s − 1 (for s = 2: kernel 3, stride 2,
    padding 1, output padding 1), so the output is exactly s·h × s·w.

    Args:
        kernel_size: odd kernel size k (3); the output padding is s − k + 2·(k // 2), which must
            lie in [0, s).
    """

    def __init__(self, in_channels: int, scale: int, kernel_size: int = 3,
                 impl: str = "auto") -> None:
        super().__init__(in_channels, scale, impl)
        if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size < 1 \
                or kernel_size % 2 == 0:
            raise ValueError(f"deconv: kernel_size must be a positive odd integer, got "
                             f"{kernel_size!r}")
        pad = kernel_size // 2
        out_pad = scale - kernel_size + 2 * pad
        if not 0 <= out_pad < scale:
            raise ValueError(f"deconv: kernel_size {kernel_size} cannot upsample exactly by "
                             f"{scale} (output padding {out_pad} must be in [0, {scale}))")
        self.deconv = nn.ConvTranspose2d(in_channels, in_channels, kernel_size, scale, pad,
                                         out_pad)

    def forward(self, x: torch.Tensor, guide: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x, guide)
        return self.deconv(x)

    def macs(self, x_shape: tuple[int, ...], guide_shape: tuple[int, ...] | None = None) -> int:
        """k²·C·C per low-res pixel (every input pixel scatters a k×k×C patch per channel)."""
        n, c, h, w = x_shape
        k = self.deconv.kernel_size[0]
        return n * h * w * k * k * c * c
