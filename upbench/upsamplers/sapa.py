"""SAPA upsamplers (Lu et al., NeurIPS 2022): ``sapa-i``, ``sapa-b``, ``sapa-g``.

Kernels from the similarity of each high-resolution encoder point (the guide y) with the K×K
low-resolution decoder points around it (``upbench.ops.sapa_similarity``), softmax over the K²
taps, then assembly of the **raw** decoder feature x by CARAFE's reassembly with G = 1
(``upbench.ops.carafe``) — the official poppinace/sapa construction.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from upbench import ops
from upbench.upsamplers._registry import register_upsampler
from upbench.upsamplers.base import Upsampler


def _nhwc(t: torch.Tensor) -> torch.Tensor:
    return t.permute(0, 2, 3, 1)


def _nchw(t: torch.Tensor) -> torch.Tensor:
    return t.permute(0, 3, 1, 2).contiguous()


def _init_official(module: nn.Module) -> None:
    """The official init: Linear trunc_normal(std 0.02) and zero bias; LayerNorm 1 / 0."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm) and m.elementwise_affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class _SAPA(Upsampler):
    """Shared part: checks, similarity → softmax → CARAFE assembly, and the MAC count.

    Args:
        in_channels: C of the decoder feature x.
        scale: integer s.
        up_kernel: K (odd), 5 by default.
        guide_channels: channels of the encoder feature (guide); ``None`` means ``in_channels``.
        impl: ``"auto" | "native" | "reference"`` for the two ops.
    """

    guided: ClassVar[bool] = True
    ops: ClassVar[tuple[str, ...]] = ("sapa_similarity", "carafe")

    def __init__(self, in_channels: int, scale: int, up_kernel: int = 5,
                 guide_channels: int | None = None, impl: str = "auto") -> None:
        super().__init__(in_channels, scale, impl)
        if isinstance(up_kernel, bool) or not isinstance(up_kernel, int) or up_kernel < 1 \
                or up_kernel % 2 == 0:
            raise ValueError(f"{type(self).__name__}: up_kernel must be a positive odd integer, "
                             f"got {up_kernel!r}")
        self.up_kernel = up_kernel
        self.guide_channels = in_channels if guide_channels is None else guide_channels

    def check_input(self, x: torch.Tensor, guide: torch.Tensor | None) -> None:
        super().check_input(x, guide)
        if guide.shape[1] != self.guide_channels:
            raise ValueError(
                f"{type(self).__name__}: guide has {guide.shape[1]} channels but the upsampler was "
                f"built for guide_channels={self.guide_channels}; pass guide_channels= when the "
                "encoder feature's channels differ from x's"
            )

    def embed(self, x: torch.Tensor, guide: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Query (N, d, s·h, s·w) from the guide and key (N, d, h, w) from x."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor, guide: torch.Tensor | None = None) -> torch.Tensor:
        self.check_input(x, guide)
        q, k = self.embed(x, guide)
        sim = ops.sapa_similarity(q, k, self.up_kernel, self.scale, impl=self.impl)
        attn = sim.softmax(dim=1)
        return ops.carafe(x, attn, self.up_kernel, 1, self.scale, impl=self.impl)

    def sim_channels(self) -> int:
        """d, the channels the similarity runs on."""
        raise NotImplementedError

    def macs(self, x_shape: tuple[int, ...], guide_shape: tuple[int, ...] | None = None) -> int:
        """Multiply-accumulates of one forward, counted as SAPA's Table 1 does.

        Per high-resolution pixel: similarity K²·d and assembly K²·C; plus the variant's
        embedding (:meth:`embed_macs`). LayerNorm and softmax are not counted (nor are they in
        the paper). For s = 2 this is the table's per-low-res-location count times h·w.
        """
        n, c, h, w = x_shape
        hh, ww = h * self.scale, w * self.scale
        kk = self.up_kernel**2
        return n * hh * ww * kk * (self.sim_channels() + c) + self.embed_macs(x_shape)

    def embed_macs(self, x_shape: tuple[int, ...]) -> int:
        """MACs of the feature embedding (0 for SAPA-I)."""
        return 0


@register_upsampler("sapa-i")
class SAPAI(_SAPA):
    """SAPA-I: inner product of the LayerNorm-ed features; no parameters (needs Cy = C).

    The LayerNorms have no affine parameters (the paper's SAPA-I has none).
    """

    def __init__(self, in_channels: int, scale: int, up_kernel: int = 5,
                 guide_channels: int | None = None, impl: str = "auto") -> None:
        super().__init__(in_channels, scale, up_kernel, guide_channels, impl)
        if self.guide_channels != in_channels:
            raise ValueError(
                f"sapa-i compares encoder and decoder features directly: guide_channels "
                f"({self.guide_channels}) must equal in_channels ({in_channels}); use sapa-b or "
                "sapa-g for differing channels"
            )

    def check_input(self, x: torch.Tensor, guide: torch.Tensor | None) -> None:
        Upsampler.check_input(self, x, guide)
        if guide.shape[1] != x.shape[1]:
            raise ValueError(
                f"SAPAI: inner-product similarity needs the guide to have x's channels "
                f"({x.shape[1]}); got a guide with {guide.shape[1]} channels. Use sapa-b or sapa-g "
                "for encoder features with a different channel count"
            )

    def embed(self, x, guide):
        c = x.shape[1]
        q = _nchw(F.layer_norm(_nhwc(guide), (c,)))
        k = _nchw(F.layer_norm(_nhwc(x), (c,)))
        return q, k

    def sim_channels(self) -> int:
        return self.in_channels


@register_upsampler("sapa-b")
class SAPAB(_SAPA):
    """SAPA-B: low-rank bilinear similarity, q = Linear(LN y) → d, k = Linear(LN x) → d.

    Args:
        embed_dim: d (32 as in the paper's Table 1; the official code's default is 64).
    """

    def __init__(self, in_channels: int, scale: int, up_kernel: int = 5, embed_dim: int = 32,
                 guide_channels: int | None = None, impl: str = "auto") -> None:
        super().__init__(in_channels, scale, up_kernel, guide_channels, impl)
        self.d = embed_dim
        self.norm_y = nn.LayerNorm(self.guide_channels)
        self.norm_x = nn.LayerNorm(in_channels)
        self.q = nn.Linear(self.guide_channels, embed_dim)
        self.k = nn.Linear(in_channels, embed_dim)
        _init_official(self)

    def embed(self, x, guide):
        q = _nchw(self.q(self.norm_y(_nhwc(guide))))
        k = _nchw(self.k(self.norm_x(_nhwc(x))))
        return q, k

    def sim_channels(self) -> int:
        return self.d

    def embed_macs(self, x_shape):
        """Cy·d per high-res pixel (query) + C·d per low-res pixel (key): Table 1's 5Cd at s=2."""
        n, c, h, w = x_shape
        return n * h * w * (self.scale**2 * self.guide_channels + c) * self.d


@register_upsampler("sapa-g")
class SAPAG(SAPAB):
    """SAPA-G: gated bilinear similarity (official ``q_mode='gate'``).

    gate g = sigmoid(Linear_{C→1}(LN x)), nearest-upsampled; q = g·q_y(LN y) + (1−g)·q_x(x↑),
    with x↑ the nearest-upsampled **raw** x (as the official code). q_x is applied at low
    resolution and then nearest-upsampled (identical result, s² fewer MACs).

    MAC count: SAPA-B's plus the gate (C per low-res pixel), q_x (C·d per low-res pixel) and the
    gated addition (2d per high-res pixel). Table 1 lists the gate row as C + 8d but its G total
    omits q_x; we count what runs.
    """

    def __init__(self, in_channels: int, scale: int, up_kernel: int = 5, embed_dim: int = 32,
                 guide_channels: int | None = None, impl: str = "auto") -> None:
        super().__init__(in_channels, scale, up_kernel, embed_dim, guide_channels, impl)
        self.qx = nn.Linear(in_channels, embed_dim)
        self.gate = nn.Linear(in_channels, 1)
        _init_official(self)

    def embed(self, x, guide):
        s = self.scale
        xn = self.norm_x(_nhwc(x))
        g = _nchw(torch.sigmoid(self.gate(xn)))
        qx = _nchw(self.qx(_nhwc(x)))
        qy = _nchw(self.q(self.norm_y(_nhwc(guide))))
        g = F.interpolate(g, scale_factor=s, mode="nearest")
        qx = F.interpolate(qx, scale_factor=s, mode="nearest")
        q = g * qy + (1 - g) * qx
        k = _nchw(self.k(xn))
        return q, k

    def embed_macs(self, x_shape):
        n, c, h, w = x_shape
        extra = n * h * w * (c + c * self.d + self.scale**2 * 2 * self.d)
        return super().embed_macs(x_shape) + extra
