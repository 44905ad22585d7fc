"""The Mix Transformer (MiT) encoder of SegFormer (Xie et al., NeurIPS 2021), sizes B0–B5.

Built after NVlabs/SegFormer ``mmseg/models/backbones/mix_transformer.py``; the module names are
mmseg's (``patch_embed1.proj``, ``block1.0.attn.q``, ``block1.0.attn.kv``, ``block1.0.attn.sr``,
``block1.0.mlp.dwconv.dwconv``, ``norm1``, ...), so NVlabs' checkpoints load as they are (other
key layouts: :mod:`upbench.models.mit_weights`).

Four stages; stage i:

* an overlapping patch embedding: conv ``k×k`` stride ``s`` padding ``k//2`` (7×7/4 for the first
  stage, 3×3/2 after) + LayerNorm (eps 1e-5, torch's default, as the official code);
* ``depths[i]`` transformer blocks ``x += drop_path(attn(norm1(x)))``,
  ``x += drop_path(mlp(norm2(x)))`` with LayerNorm eps 1e-6;
* efficient self-attention: queries from every token, keys and values from the tokens reduced by
  a ``sr×sr`` stride-``sr`` conv + LayerNorm (eps 1e-5) when ``sr > 1``; q and kv linears with
  bias (``kv`` holds keys then values), ``heads[i]`` heads, an output projection;
* Mix-FFN: Linear C → 4C, depthwise 3×3 conv (bias), GELU, Linear 4C → C;
* a final LayerNorm (eps 1e-6); the output is reshaped to (N, C, H, W).

Outputs: the four stage features at strides 4, 8, 16, 32 (MiT-B1: 64, 128, 320, 512 channels).
MiT-B1 has exactly 13,151,424 parameters.

Drop-path rates rise linearly from 0 to ``drop_path_rate`` (0.1 in the official configs) over
all blocks (torchvision's ``StochasticDepth`` in row mode: identity at rate 0 and in eval).

FLOPs: a counter sees the convolutions, linears and matmuls; the efficient attention also
reports :meth:`EfficientAttention.counted_macs` (SegFormer's ``tools/get_flops.py`` term
``sra_flops``, 2·N1·N2·C per block) for counters whose hooks do not see the functional
``q·kᵀ`` and ``attn·v`` products (the mmcv convention).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torchvision.ops import StochasticDepth

BLOCK_EPS = 1e-6  # the blocks' and stages' LayerNorms (mmseg's partial(nn.LayerNorm, eps=1e-6))


@dataclass(frozen=True)
class MiTSize:
    """One MiT variant (the four stages' settings)."""

    embed_dims: tuple[int, int, int, int]
    depths: tuple[int, int, int, int]
    heads: tuple[int, int, int, int] = (1, 2, 5, 8)
    sr_ratios: tuple[int, int, int, int] = (8, 4, 2, 1)
    mlp_ratio: int = 4


MIT_SIZES: dict[str, MiTSize] = {
    "mit_b0": MiTSize((32, 64, 160, 256), (2, 2, 2, 2)),
    "mit_b1": MiTSize((64, 128, 320, 512), (2, 2, 2, 2)),
    "mit_b2": MiTSize((64, 128, 320, 512), (3, 4, 6, 3)),
    "mit_b3": MiTSize((64, 128, 320, 512), (3, 4, 18, 3)),
    "mit_b4": MiTSize((64, 128, 320, 512), (3, 8, 27, 3)),
    "mit_b5": MiTSize((64, 128, 320, 512), (3, 6, 40, 3)),
}


def _tokens_to_map(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """(N, h·w, C) → (N, C, h, w)."""
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], h, w)


class OverlapPatchEmbed(nn.Module):
    """Strided conv (k×k, stride s, padding k//2) + LayerNorm over the tokens."""

    def __init__(self, in_channels: int, dim: int, kernel: int, stride: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, kernel, stride, kernel // 2)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        """Tokens (N, H·W, C) and the map's H, W."""
        x = self.proj(x)
        h, w = x.shape[-2:]
        return self.norm(x.flatten(2).transpose(1, 2)), h, w


class EfficientAttention(nn.Module):
    """Multi-head self-attention with keys/values from a spatially reduced sequence."""

    def __init__(self, dim: int, heads: int, sr_ratio: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"MiT attention: dim {dim} is not divisible by {heads} heads")
        self.dim, self.heads, self.sr_ratio = dim, heads, sr_ratio
        self.scale = (dim // heads) ** -0.5
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        if sr_ratio > 1:
            self.sr = nn.Conv2d(dim, dim, sr_ratio, sr_ratio)
            self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """Attend over tokens x (N, h·w, C)."""
        n, length, c = x.shape
        d = c // self.heads
        q = self.q(x).reshape(n, length, self.heads, d).transpose(1, 2)
        src = x
        if self.sr_ratio > 1:
            src = self.norm(self.sr(_tokens_to_map(x, h, w)).flatten(2).transpose(1, 2))
        k, v = self.kv(src).reshape(n, -1, 2, self.heads, d).permute(2, 0, 3, 1, 4)
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(n, length, c))

    def counted_macs(self, inputs: tuple, output: torch.Tensor) -> int:
        """SegFormer's ``sra_flops``: the MACs of ``q·kᵀ`` and ``attn·v``, 2·N1·N2·C per image
        (N1 query tokens, N2 = (h//sr)·(w//sr) reduced tokens), which hook-based counters do not
        see. ``inputs`` is the forward's ``(x, h, w)``."""
        x, h, w = inputs[:3]
        n1 = int(x.shape[1])
        n2 = (int(h) // self.sr_ratio) * (int(w) // self.sr_ratio)
        return 2 * int(x.shape[0]) * n1 * n2 * self.dim


class DWConv(nn.Module):
    """Depthwise 3×3 conv (with bias) over a token sequence."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 3, 1, 1, groups=dim)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        return self.dwconv(_tokens_to_map(x, h, w)).flatten(2).transpose(1, 2)


class MixFFN(nn.Module):
    """Linear C → hidden, depthwise 3×3, GELU, Linear hidden → C."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.dwconv = DWConv(hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        return self.fc2(self.act(self.dwconv(self.fc1(x), h, w)))


class Block(nn.Module):
    """A pre-norm transformer block: efficient attention and Mix-FFN, both with drop-path."""

    def __init__(self, dim: int, heads: int, sr_ratio: int, mlp_ratio: int,
                 drop_path: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=BLOCK_EPS)
        self.attn = EfficientAttention(dim, heads, sr_ratio)
        self.drop_path = StochasticDepth(drop_path, "row") if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=BLOCK_EPS)
        self.mlp = MixFFN(dim, dim * mlp_ratio)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), h, w))
        return x + self.drop_path(self.mlp(self.norm2(x), h, w))


class MixVisionTransformer(nn.Module):
    """The MiT encoder (see the module docstring).

    Args:
        size: ``mit_b0`` … ``mit_b5`` (:data:`MIT_SIZES`).
        in_channels: image channels.
        drop_path_rate: the last block's drop-path rate (0.1 as the official configs).

    Attributes:
        size, embed_dims: the variant and its stage widths.
    """

    def __init__(self, size: str = "mit_b1", in_channels: int = 3,
                 drop_path_rate: float = 0.1) -> None:
        super().__init__()
        if size not in MIT_SIZES:
            raise ValueError(f"unknown MiT size {size!r} (known: {', '.join(MIT_SIZES)})")
        cfg = MIT_SIZES[size]
        self.size, self.embed_dims = size, list(cfg.embed_dims)
        total = sum(cfg.depths)
        rates = [drop_path_rate * i / (total - 1) if total > 1 else 0.0 for i in range(total)]
        prev, first = in_channels, 0
        for i, (dim, depth) in enumerate(zip(cfg.embed_dims, cfg.depths, strict=True), start=1):
            kernel, stride = (7, 4) if i == 1 else (3, 2)
            setattr(self, f"patch_embed{i}", OverlapPatchEmbed(prev, dim, kernel, stride))
            setattr(self, f"block{i}", nn.ModuleList(
                Block(dim, cfg.heads[i - 1], cfg.sr_ratios[i - 1], cfg.mlp_ratio,
                      rates[first + j]) for j in range(depth)))
            setattr(self, f"norm{i}", nn.LayerNorm(dim, eps=BLOCK_EPS))
            prev, first = dim, first + depth
        self.apply(_init_weights)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The stage features [c1, c2, c3, c4] (N, Ci, H/si, W/si), si = 4, 8, 16, 32."""
        outs = []
        for i in range(1, 5):
            x, h, w = getattr(self, f"patch_embed{i}")(x)
            for blk in getattr(self, f"block{i}"):
                x = blk(x, h, w)
            x = _tokens_to_map(getattr(self, f"norm{i}")(x), h, w).contiguous()
            outs.append(x)
        return outs


def _init_weights(m: nn.Module) -> None:
    """The official initialisation: truncated normal (std 0.02) linears with zero bias, unit
    LayerNorms, convs normal with std sqrt(2 / fan_out) (fan_out per group) and zero bias."""
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Conv2d):
        fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
        nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
        if m.bias is not None:
            nn.init.zeros_(m.bias)


__all__ = ["MIT_SIZES", "EfficientAttention", "MiTSize", "MixVisionTransformer"]
