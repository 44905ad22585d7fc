"""The from-scratch ResNet-style encoder every task baseline starts from."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from upbench.models.blocks import BasicBlock, conv_bn


class Encoder(nn.Module):
    """ResNet-style encoder returning C2..C5 at strides 4, 8, 16, 32.

    Stem: two 3×3 stride-2 conv-BN-ReLU (``in_channels`` → max(8, w2/2) → w2). Stages: basic
    blocks, ``blocks[i]`` per stage; the first block of stages 3–5 downsamples by 2, by a strided
    convolution (``downsample="stride"``, ResNet) or by a 2×2 max-pooling before a stride-1 block
    (``downsample="maxpool"``, as A2U matting's encoder keeps the pooling indices' locality).

    Args:
        widths: channels of C2..C5.
        blocks: basic blocks per stage.
        in_channels: image channels (3; 4 for image + trimap).
        downsample: ``"stride"`` or ``"maxpool"``.
    """

    def __init__(self, widths: list[int], blocks: list[int], in_channels: int = 3,
                 downsample: Literal["stride", "maxpool"] = "stride") -> None:
        super().__init__()
        if downsample not in ("stride", "maxpool"):
            raise ValueError(f"Encoder: downsample must be 'stride' or 'maxpool', got {downsample!r}")
        w0 = widths[0]
        self.stem = nn.Sequential(conv_bn(in_channels, max(8, w0 // 2), 3, 2),
                                  conv_bn(max(8, w0 // 2), w0, 3, 2))
        stages, cin = [], w0
        for i, (w, n) in enumerate(zip(widths, blocks, strict=True)):
            stride = 1 if i == 0 else 2
            if downsample == "maxpool" and stride == 2:
                layers: list[nn.Module] = [nn.MaxPool2d(2), BasicBlock(cin, w, 1)]
            else:
                layers = [BasicBlock(cin, w, stride)]
            layers += [BasicBlock(w, w) for _ in range(n - 1)]
            stages.append(nn.Sequential(*layers))
            cin = w
        self.stages = nn.ModuleList(stages)
        self.widths = list(widths)

    @property
    def stem_channels(self) -> int:
        """Channels of the stride-2 stem feature (:meth:`features`)."""
        return self.stem[0][0].out_channels

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """[C2, C3, C4, C5] of an image batch (N, in_channels, H, W), H and W multiples of 32."""
        return self.features(x)[1:]

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """[S2, C2, C3, C4, C5]: the stride-2 stem feature, then the four stages."""
        s2 = self.stem[0](x)
        x = self.stem[1](s2)
        feats = [s2]
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats
