"""Atrous spatial pyramid pooling (DeepLabv3) with mmcv's conv modules, for the ASPP baselines.

The blocks mirror mmcv's ``ConvModule`` (conv without bias + BN + ReLU, attributes ``conv``,
``bn``) and ``DepthwiseSeparableConvModule`` (``depthwise_conv`` then ``pointwise_conv``, each a
conv module), and :class:`ASPP` mmseg's ``ASPPHead`` / ``DepthwiseSeparableASPPHead`` body
(``image_pool``, ``aspp_modules``, ``bottleneck``), so the parameter names and counts are
mmseg's.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class ConvModule(nn.Module):
    """k×k conv (no bias: BN follows) + BN + ReLU, as mmcv's ``ConvModule`` with a norm."""

    def __init__(self, cin: int, cout: int, k: int = 1, dilation: int = 1, groups: int = 1,
                 relu: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, padding=dilation * (k // 2), dilation=dilation,
                              groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.activate = nn.ReLU(inplace=True) if relu else nn.Identity()
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activate(self.bn(self.conv(x)))


class SeparableConvModule(nn.Module):
    """Depthwise k×k conv module then pointwise 1×1 conv module (each conv + BN + ReLU), as
    mmcv's ``DepthwiseSeparableConvModule``."""

    def __init__(self, cin: int, cout: int, k: int = 3, dilation: int = 1) -> None:
        super().__init__()
        self.depthwise_conv = ConvModule(cin, cin, k, dilation, groups=cin)
        self.pointwise_conv = ConvModule(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise_conv(self.depthwise_conv(x))


def aspp_dilations(output_stride: int) -> tuple[int, ...]:
    """DeepLab's ASPP rates at an output stride: (1, 6, 12, 18) at 16, doubled at 8 (mmseg's
    ``-d8`` configs: 1, 12, 24, 36), halved at 32 (NRD's ``deeppad_r50``: 1, 3, 6, 9)."""
    return (1, *(r * 16 // output_stride for r in (6, 12, 18)))


class ASPP(nn.Module):
    """Image pooling + a 1×1 branch + dilated 3×3 branches, concatenated, then a 3×3 bottleneck.

    Args:
        in_channels: channels of the input feature.
        channels: channels of every branch and of the output.
        dilations: branch rates, 1 = the 1×1 branch.
        separable: dilated branches as depthwise-separable conv modules (DeepLabv3+ / NRD) or
            full 3×3 conv modules (DeepLabv3).
    """

    def __init__(self, in_channels: int, channels: int, dilations: Sequence[int],
                 separable: bool = True) -> None:
        super().__init__()
        self.dilations = tuple(dilations)
        self.image_pool = nn.Sequential(nn.AdaptiveAvgPool2d(1),
                                        ConvModule(in_channels, channels, 1))
        self.aspp_modules = nn.ModuleList(
            ConvModule(in_channels, channels, 1) if d == 1
            else SeparableConvModule(in_channels, channels, 3, d) if separable
            else ConvModule(in_channels, channels, 3, d) for d in self.dilations)
        self.bottleneck = ConvModule((len(self.dilations) + 1) * channels, channels, 3)

    def aspp(self, x: torch.Tensor) -> torch.Tensor:
        """The bottleneck's output (N, channels, h, w) for x (N, in_channels, h, w)."""
        pooled = F.interpolate(self.image_pool(x), size=x.shape[2:], mode="bilinear",
                               align_corners=False)
        return self.bottleneck(torch.cat([pooled] + [m(x) for m in self.aspp_modules], 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.aspp(x)


__all__ = ["ASPP", "ConvModule", "SeparableConvModule", "aspp_dilations"]
