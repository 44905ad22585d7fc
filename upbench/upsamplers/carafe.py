"""CARAFE upsampler (CARAFEPack in mmcv): kernel prediction + ``upbench.ops.carafe``."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from upbench import ops
from upbench.upsamplers._registry import register_upsampler
from upbench.upsamplers.base import Upsampler


@register_upsampler("carafe")
class CARAFEPack(Upsampler):
    """Content-Aware ReAssembly of FEatures (Wang et al., ICCV 2019), mmcv's CARAFEPack.

    Kernel prediction: 1×1 conv C → ``compressed_channels``, ``encoder_kernel``² conv →
    G·K²·s², pixel_shuffle(s), softmax over the K² taps; then reassembly. Init as mmcv: Xavier
    (uniform) everywhere and the content encoder normal(std 0.001), so that at init every kernel is
    close to a uniform box filter.

    Args:
        up_kernel: reassembly kernel size K (odd).
        up_group: kernel groups G.
        encoder_kernel: kernel size of the content encoder.
        encoder_dilation: its dilation.
        compressed_channels: Cm of the channel compressor.
    """

    ops = ("carafe", "pixel_shuffle")

    def __init__(
        self,
        in_channels: int,
        scale: int,
        up_kernel: int = 5,
        up_group: int = 1,
        encoder_kernel: int = 3,
        encoder_dilation: int = 1,
        compressed_channels: int = 64,
        impl: str = "auto",
    ) -> None:
        super().__init__(in_channels, scale, impl)
        if up_kernel % 2 == 0:
            raise ValueError(f"carafe: up_kernel must be odd, got {up_kernel}")
        if in_channels % up_group:
            raise ValueError(f"carafe: in_channels {in_channels} not divisible by up_group {up_group}")
        self.up_kernel, self.up_group = up_kernel, up_group
        self.channel_compressor = nn.Conv2d(in_channels, compressed_channels, 1)
        self.content_encoder = nn.Conv2d(
            compressed_channels,
            up_group * up_kernel * up_kernel * scale * scale,
            encoder_kernel,
            padding=(encoder_kernel - 1) * encoder_dilation // 2,
            dilation=encoder_dilation,
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.content_encoder.weight, std=0.001)
        nn.init.zeros_(self.content_encoder.bias)

    def kernel_normalizer(self, mask: torch.Tensor) -> torch.Tensor:
        """pixel_shuffle the encoder output to (N, G·K², s·h, s·w) and softmax over the taps."""
        mask = ops.pixel_shuffle(mask, self.scale, impl=self.impl)
        n, _, hh, ww = mask.shape
        kk = self.up_kernel * self.up_kernel
        mask = F.softmax(mask.view(n, -1, kk, hh, ww), dim=2)
        return mask.view(n, -1, hh, ww).contiguous()

    def forward(self, x: torch.Tensor, guide: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x, guide)
        mask = self.content_encoder(self.channel_compressor(x))
        mask = self.kernel_normalizer(mask)
        return ops.carafe(x, mask, self.up_kernel, self.up_group, self.scale, impl=self.impl)

    def macs(self, x_shape: tuple[int, ...], guide_shape: tuple[int, ...] | None = None) -> int:
        """Multiply-accumulates of one forward (bias adds and softmax not counted).

        Per low-res location: compressor C·Cm, encoder k_enc²·Cm·G·K²·s², reassembly K²·s²·C —
        99,584 for C = 256 and the defaults (SAPA Table 1's "HW·99K").
        """
        n, c, h, w = x_shape
        cm = self.channel_compressor.out_channels
        k_enc = self.content_encoder.kernel_size[0] * self.content_encoder.kernel_size[1]
        enc_out = self.content_encoder.out_channels
        kk = self.up_kernel**2
        return n * h * w * (c * cm + k_enc * cm * enc_out + kk * self.scale**2 * c)
