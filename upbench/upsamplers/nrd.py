"""NRD: dynamic neural representational decoder (Zhang et al., NeurIPS 2021)."""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from upbench import ops
from upbench.ops.nrd_decode import MAX_HIDDEN, nrd_num_params
from upbench.upsamplers._registry import register_upsampler
from upbench.upsamplers.label_decoder import LabelDecoder

VARIANTS = ("both", "coords", "guidance")


def _grid_for(scale: int, grid: int) -> int:
    """The largest divisor of ``scale`` not above ``grid`` (8 for scale 32)."""
    return max(g for g in range(1, min(grid, scale) + 1) if scale % g == 0)


@register_upsampler("nrd")
class NRD(LabelDecoder):
    """Neural representational decoder (label space; docs/operators.md "NRD").

    Forward contract: ``forward(x, guide=None, pyramid=None)``; x (N, in_channels, h, w) is the
    coarsest decoder feature at stride ``scale`` of the output; ``guide`` (N, guide_channels,
    H', W') is a finer feature (the stride-4 decoder feature in the segmentation baseline,
    ``guide_stride = 4``), any spatial size (resized to the lattice); required unless
    ``variant="coords"``. ``pyramid`` is ignored. Returns logits (N, num_classes, s·h, s·w).

    Pipeline: the controller (3×3 conv + ReLU + 1×1 conv) emits per cell the P parameters of the
    MLP g_θ: (2 + m) → d → d → K (P = 899 for d = m = 16, K = 19; ``mlp_params``); the guidance
    branch (3×3 conv + ReLU + 1×1 conv to m channels) runs on ``guide`` and is resized
    (bilinear, half-pixel) to the g×g lattice of every cell when its size differs;
    :func:`upbench.ops.nrd_decode` evaluates every cell's MLP on its lattice (coordinates in
    [0, 1) + guidance) and :func:`upbench.ops.bilinear_upsample` upsamples the result by s/g to
    the full patch (paper §2.2: g = 8, s = 32).

    Args:
        num_classes: K.
        hidden: d (≤ 64).
        guidance_channels: m.
        grid: g, lattice points per cell side; the largest divisor of ``scale`` ≤ grid is used
            (``self.grid``), so small scales work (scale 2 → g = 2, no final upsampling).
        variant: Table 4 — ``"both"`` (coordinates + guidance), ``"coords"`` (coordinates only,
            no guide needed), ``"guidance"`` (guidance only).
        guide_channels: channels of ``guide`` (default: in_channels).
    """

    guided: ClassVar[bool] = True
    guide_stride: ClassVar[int] = 4
    ops = ("nrd_decode", "bilinear_upsample")

    def __init__(
        self,
        in_channels: int,
        scale: int,
        num_classes: int = 19,
        hidden: int = 16,
        guidance_channels: int = 16,
        grid: int = 8,
        variant: str = "both",
        guide_channels: int | None = None,
        impl: str = "auto",
    ) -> None:
        super().__init__(in_channels, scale, num_classes, impl)
        if variant not in VARIANTS:
            raise ValueError(f"nrd: variant must be one of {VARIANTS}, got {variant!r}")
        if not 1 <= hidden <= MAX_HIDDEN:
            raise ValueError(f"nrd: hidden must be in 1..{MAX_HIDDEN}, got {hidden}")
        if variant != "coords" and guidance_channels < 1:
            raise ValueError("nrd: guidance_channels must be >= 1 when guidance is used")
        self.hidden = hidden
        self.variant = variant
        self.coords = variant != "guidance"
        self.uses_guidance = variant != "coords"
        self.guidance_channels = guidance_channels if self.uses_guidance else 0
        self.grid = _grid_for(scale, grid)
        self.mlp_params = nrd_num_params(num_classes, hidden, self.guidance_channels, self.coords)
        self.controller = nn.Sequential(
            nn.Conv2d(in_channels, in_channels, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(in_channels, self.mlp_params, 1),
        )
        self.guide_channels = guide_channels or in_channels
        if self.uses_guidance:
            self.guidance = nn.Sequential(
                nn.Conv2d(self.guide_channels, self.guide_channels, 3, padding=1),
                nn.ReLU(inplace=True),
                nn.Conv2d(self.guide_channels, guidance_channels, 1),
            )

    def check_input(self, x: torch.Tensor, guide: torch.Tensor | None) -> None:
        cls = type(self).__name__
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"{cls}: x must be (N, {self.in_channels}, h, w), got {tuple(x.shape)}")
        if not self.uses_guidance:
            return
        if guide is None:
            raise ValueError(f"{cls} (variant {self.variant!r}) needs guide=, e.g. the stride-4 "
                             "decoder feature")
        if guide.dim() != 4 or guide.shape[0] != x.shape[0] or guide.shape[1] != self.guide_channels:
            raise ValueError(
                f"{cls}: guide must be (N, {self.guide_channels}, H', W') with N = {x.shape[0]}; "
                f"got {tuple(guide.shape)}"
            )

    def forward(
        self,
        x: torch.Tensor,
        guide: torch.Tensor | None = None,
        pyramid: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        self.check_input(x, guide)
        _, _, h, w = x.shape
        g = self.grid
        params = self.controller(x)
        gm = None
        if self.uses_guidance:
            gm = self.guidance(guide)
            if gm.shape[2:] != (h * g, w * g):
                gm = F.interpolate(gm, size=(h * g, w * g), mode="bilinear", align_corners=False)
        out = ops.nrd_decode(params, gm, self.num_classes, self.hidden, g, coords=self.coords,
                             impl=self.impl)
        if self.scale // g > 1:
            out = ops.bilinear_upsample(out, self.scale // g, impl=self.impl)
        return out
