"""DySample (Liu et al., "Learning to Upsample by Learning to Sample", ICCV 2023;
official code: tiny-smart/dysample).

Upsampling as point sampling: a 1×1 convolution predicts, for every output pixel, an offset
from its initial position — the sampling position of half-pixel bilinear upsampling — and x is
sampled there bilinearly with border padding, per channel group. Here the sampling runs natively
(:func:`upbench.ops.offset_bilinear` with ``align_corners=False`` and M = ``groups`` offset
groups), checked against the official ``grid_sample`` formulation in the tests.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from upbench import ops
from upbench.upsamplers._registry import register_upsampler
from upbench.upsamplers.base import Upsampler


@register_upsampler("dysample")
class DySample(Upsampler):
    """DySample with the official defaults (style ``lp``, 4 groups, static scope).

    * ``style="lp"`` (linear then pixel-shuffle): offsets = conv1×1(x): C → 2·g·s² at low
      resolution; ``"pl"`` (pixel-shuffle then linear): conv1×1 on pixel_shuffle(x) (C/s²
      channels) → 2·g at high resolution, pixel-unshuffled.
    * scope: ``dyscope=False`` multiplies the offsets by 0.25 ("static scope factor");
      ``dyscope=True`` by 0.5·σ(conv1×1(·)) (a second conv, initialised to 0).
    * The offset conv is initialised normal(std 0.001), bias 0, so DySample starts as bilinear.
    * The offsets of group k (channels k·C/g … (k+1)·C/g − 1) move the initial positions
      (p + 0.5)/s − 0.5 in low-resolution pixels; positions are clamped to the map (border
      padding), as ``grid_sample(..., padding_mode="border", align_corners=False)``.

    Args:
        style: ``"lp"`` or ``"pl"``.
        groups: g, dividing C (the official asserts).
        dyscope: the dynamic scope factor.
    """

    ops: ClassVar[tuple[str, ...]] = ("offset_bilinear",)

    def __init__(self, in_channels: int, scale: int, style: Literal["lp", "pl"] = "lp",
                 groups: int = 4, dyscope: bool = False, impl: str = "auto") -> None:
        super().__init__(in_channels, scale, impl)
        if style not in ("lp", "pl"):
            raise ValueError(f"dysample: style must be 'lp' or 'pl', got {style!r}")
        if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
            raise ValueError(f"dysample: groups must be a positive integer, got {groups!r}")
        if in_channels < groups or in_channels % groups:
            raise ValueError(f"dysample: in_channels ({in_channels}) must be a multiple of groups "
                             f"({groups})")
        s2 = scale * scale
        if style == "pl" and (in_channels < s2 or in_channels % s2):
            raise ValueError(f"dysample: style 'pl' needs in_channels ({in_channels}) to be a "
                             f"multiple of scale² ({s2})")
        self.style, self.groups, self.dyscope = style, groups, dyscope
        cin = in_channels // s2 if style == "pl" else in_channels
        cout = 2 * groups if style == "pl" else 2 * groups * s2
        self.offset = nn.Conv2d(cin, cout, 1)
        nn.init.normal_(self.offset.weight, std=0.001)
        nn.init.zeros_(self.offset.bias)
        if dyscope:
            self.scope = nn.Conv2d(cin, cout, 1, bias=False)
            nn.init.zeros_(self.scope.weight)

    def _raw_offsets(self, x: torch.Tensor) -> torch.Tensor:
        """Offsets in the official layout (N, 2·g·s², h, w): x-offsets of the g·s² sub-positions,
        then y-offsets, scope applied."""
        s = self.scale
        src = F.pixel_shuffle(x, s) if self.style == "pl" else x
        off = self.offset(src)
        off = off * torch.sigmoid(self.scope(src)) * 0.5 if self.dyscope else off * 0.25
        return F.pixel_unshuffle(off, s) if self.style == "pl" else off

    def offsets(self, x: torch.Tensor) -> torch.Tensor:
        """Per-group offsets at high resolution in :func:`upbench.ops.offset_bilinear`'s layout
        (N, 2·g, s·h, s·w): channel 2k = Δy, 2k+1 = Δx of group k."""
        g, s = self.groups, self.scale
        off = F.pixel_shuffle(self._raw_offsets(x), s)  # (N, 2g, sH, sW): x of g groups, y of g
        n, _, hh, ww = off.shape
        return torch.stack((off[:, g:], off[:, :g]), dim=2).reshape(n, 2 * g, hh, ww)

    def forward(self, x: torch.Tensor, guide: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x, guide)
        return ops.offset_bilinear(x, self.offsets(x), self.scale, align_corners=False,
                                   impl=self.impl)

    def macs(self, x_shape: tuple[int, ...], guide_shape: tuple[int, ...] | None = None) -> int:
        """Offset conv(s) (C·2g·s² per low-res pixel; ``pl``: (C/s²)·2g per high-res pixel, the
        same) and the sampling (4 per output element)."""
        n, c, h, w = x_shape
        s2 = self.scale**2
        conv = n * h * w * c * 2 * self.groups * (2 if self.dyscope else 1)
        return conv + n * c * h * w * s2 * 4
