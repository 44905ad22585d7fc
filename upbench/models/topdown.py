"""The top-down path with ×2 upsampler slots (an FPN's), shared by segmentation and detection.

``P5 = lat5(C5)``; ``P_i = L_i + adapt_i(up_i(P_{i+1}, guide=L_i))`` with ``L_i = lat_i(C_i)``
for i = 4, 3, 2 — three ×2 slots (``up.0`` s32→s16, ``up.1`` s16→s8, ``up.2`` s8→s4). Guided
upsamplers get the lateral feature at the target resolution (D channels), as SAPA's FPN and
mmdetection's FPN_CARAFE do; ``adapt`` is a 1×1 conv only where an upsampler changes the channel
count.

The pieces are separate functions so that a baseline keeps its own module names and
initialisation order (laterals with the shared layers, slots from the slot seed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from upbench.models.slots import make_upsampler


def lateral_convs(widths: list[int], channels: int) -> nn.ModuleList:
    """1×1 convs from each encoder width to ``channels`` (D)."""
    return nn.ModuleList(nn.Conv2d(w, channels, 1) for w in widths)


def slot_upsamplers(name: str, hparams: dict[str, Any], impl: str, channels: int, n: int = 3,
                    guide_channels: Sequence[int] | None = None
                    ) -> tuple[nn.ModuleList, nn.ModuleList]:
    """``n`` ×2 instances of ``name`` on ``channels`` and the channel adapters after them.
    Guides have ``channels`` too, or ``guide_channels[i]`` for slot i (a host whose guides are
    encoder features of different widths). Raises :class:`~upbench.models.slots.Unhostable`."""
    guides = list(guide_channels) if guide_channels is not None else [channels] * n
    if len(guides) != n:
        raise ValueError(f"slot_upsamplers: {n} slots but {len(guides)} guide widths")
    up = nn.ModuleList(make_upsampler(name, channels, 2, hparams, impl, guide_channels=g)
                       for g in guides)
    adapt = nn.ModuleList(nn.Identity() if u.out_channels == channels
                          else nn.Conv2d(u.out_channels, channels, 1) for u in up)
    return up, adapt


def top_down(feats: list[torch.Tensor], lateral: nn.ModuleList, up: nn.ModuleList,
             adapt: nn.ModuleList) -> list[torch.Tensor]:
    """[P5, P4, P3, P2] from encoder features [C2, C3, C4, C5]."""
    p = lateral[3](feats[3])
    pyramid = [p]
    for i, level in enumerate((2, 1, 0)):
        lat = lateral[level](feats[level])
        guide = lat if up[i].guided else None
        p = lat + adapt[i](up[i](p, guide))
        pyramid.append(p)
    return pyramid
