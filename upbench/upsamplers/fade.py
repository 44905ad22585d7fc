"""FADE (Lu et al., "FADE: Fusing the Assets of Decoder and Encoder for Task-Agnostic
Upsampling", ECCV 2022; official code: poppinace/fade).

Kernels from both sides: the encoder (high-resolution) and decoder (low-resolution) features are
compressed by 1×1 convs to ``embedding_dim`` channels; one shared 3×3 content encoder maps each
to K² channels — the decoder's then nearest-upsampled ×s — and their sum, softmax-normalised over
the K² taps, reassembles the decoder feature by CARAFE (:func:`upbench.ops.carafe`, G = 1, no
second reassembly kernel), the official "semi-shift" construction. A gate
``σ(conv1×1(decoder))``, nearest-upsampled, mixes ``gate · encoder + (1 − gate) · reassembled``
where the encoder and decoder channel counts match (the official default); otherwise the gate is
off (the output is the reassembled feature) and :meth:`FADE.hosting_notes` says so.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from upbench import ops
from upbench.upsamplers._registry import register_upsampler
from upbench.upsamplers.base import Upsampler


@register_upsampler("fade")
class FADE(Upsampler):
    """FADE with the official defaults (K = 5, embedding 64, gate when channels match).

    Init as the official code: Xavier (uniform) on every convolution, biases 0.

    Args:
        up_kernel: K (odd).
        embedding_dim: channels of the two 1×1 compressors.
        guide_channels: channels of the encoder feature (``guide``); None: ``in_channels``.
        gate: use the gate where the channels match (False turns it off everywhere).
    """

    guided: ClassVar[bool] = True
    ops: ClassVar[tuple[str, ...]] = ("carafe",)

    def __init__(self, in_channels: int, scale: int, up_kernel: int = 5, embedding_dim: int = 64,
                 guide_channels: int | None = None, gate: bool = True,
                 impl: str = "auto") -> None:
        super().__init__(in_channels, scale, impl)
        if isinstance(up_kernel, bool) or not isinstance(up_kernel, int) or up_kernel < 1 \
                or up_kernel % 2 == 0:
            raise ValueError(f"fade: up_kernel must be a positive odd integer, got {up_kernel!r}")
        if isinstance(embedding_dim, bool) or not isinstance(embedding_dim, int) \
                or embedding_dim < 1:
            raise ValueError(f"fade: embedding_dim must be a positive integer, got "
                             f"{embedding_dim!r}")
        self.up_kernel = up_kernel
        self.guide_channels = in_channels if guide_channels is None else guide_channels
        self.gated = bool(gate) and self.guide_channels == in_channels
        self.compressor_en = nn.Conv2d(self.guide_channels, embedding_dim, 1)
        self.compressor_de = nn.Conv2d(in_channels, embedding_dim, 1, bias=False)
        self.content_encoder = nn.Conv2d(embedding_dim, up_kernel * up_kernel, 3, padding=1)
        self.gate = nn.Conv2d(in_channels, 1, 1) if self.gated else None
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def check_input(self, x: torch.Tensor, guide: torch.Tensor | None) -> None:
        super().check_input(x, guide)
        if guide.shape[1] != self.guide_channels:
            raise ValueError(f"FADE: guide has {guide.shape[1]} channels but the upsampler was "
                             f"built for guide_channels={self.guide_channels}")

    def kernels(self, x: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        """Reassembly kernels (N, K², s·h, s·w), softmax over the taps."""
        en = self.content_encoder(self.compressor_en(guide))
        de = self.content_encoder(self.compressor_de(x))
        return F.softmax(en + F.interpolate(de, scale_factor=self.scale, mode="nearest"), dim=1)

    def forward(self, x: torch.Tensor, guide: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x, guide)
        out = ops.carafe(x, self.kernels(x, guide), self.up_kernel, 1, self.scale,
                         impl=self.impl)
        if self.gate is None:
            return out
        g = F.interpolate(torch.sigmoid(self.gate(x)), scale_factor=self.scale, mode="nearest")
        return g * guide + (1 - g) * out

    def hosting_notes(self) -> list[str]:
        if self.gated:
            return []
        note = (f"fade: gate off (encoder channels {self.guide_channels} ≠ decoder channels "
                f"{self.in_channels})")
        return [note]

    def macs(self, x_shape: tuple[int, ...], guide_shape: tuple[int, ...] | None = None) -> int:
        """Per low-res location (s = 2): compressors (s²·Cy + C)·E, content encoder
        9·E·K²·(s² + 1), reassembly K²·s²·C, gate C (+ 3·s² for the mix)."""
        n, c, h, w = x_shape
        s2, kk = self.scale**2, self.up_kernel**2
        e = self.compressor_en.out_channels
        per = (s2 * self.guide_channels + c) * e + 9 * e * kk * (s2 + 1) + kk * s2 * c
        if self.gated:
            per += c + 3 * s2 * c
        return n * h * w * per
