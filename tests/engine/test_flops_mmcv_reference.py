"""The mmcv convention on a reference implementation of SegFormer-B1 (Hugging Face
``transformers``, built from a config — no download): mmcv's hooks plus SegFormer's
efficient-attention term give SAPA Table 2's printed 15.91 G at 512×512."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from upbench.engine.flops import count_flops

transformers = pytest.importorskip("transformers")

EMBED, HEADS, DEPTHS, SR = (64, 128, 320, 512), (1, 2, 5, 8), (2, 2, 2, 2), (8, 4, 2, 1)


class Logits(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(pixel_values=x).logits


def sra_macs(size: int) -> int:
    """SegFormer's tools/get_flops.py ``sra_flops``: 2·N1·N2·C per efficient-attention block."""
    total = 0
    for i, (c, sr, depth) in enumerate(zip(EMBED, SR, DEPTHS, strict=True)):
        side = size // (4 * 2**i)
        total += depth * 2 * side * side * (side // sr) ** 2 * c
    return total


def test_segformer_b1_mmcv_count_is_the_printed_total():
    cfg = transformers.SegformerConfig(hidden_sizes=list(EMBED), num_attention_heads=list(HEADS),
                                       depths=list(DEPTHS), sr_ratios=list(SR),
                                       decoder_hidden_size=256, num_labels=150)
    torch.manual_seed(0)
    model = Logits(transformers.SegformerForSemanticSegmentation(cfg))
    rep = count_flops(model, (torch.randn(1, 3, 512, 512),), convention="mmcv")
    # the hooks see convs (with bias), Linear (without), the head's BN and ReLU; LayerNorm, GELU,
    # the attention matmuls and the resizes are functional or unhooked
    assert set(rep.by_operator) == {"Conv2d", "Linear", "BatchNorm2d", "ReLU"}
    assert rep.by_operator["BatchNorm2d"] == 2 * 256 * 128 * 128
    assert rep.uncounted["LayerNorm"] == 30
    total = rep.total + sra_macs(512)
    assert sra_macs(512) == 2_080_374_784
    assert round(total / 1e9, 2) == 15.91
    # the parameter count without mmseg's unused conv_seg (128 -> 150: 19,350)
    assert sum(p.numel() for p in model.parameters()) + 19_350 == 13_735_148
