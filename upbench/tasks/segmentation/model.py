"""The segmentation baseline: a small ResNet-style encoder (output stride 32) + an FPN decoder.

Architecture (widths ``w = [w2, w3, w4, w5]``, decoder channels ``D``, ``K`` classes)::

    image ─ stem (two 3×3 stride-2 convs) ─ stage2 (s4, w2) ─ stage3 (s8) ─ stage4 (s16) ─ stage5 (s32)
                                               C2               C3            C4             C5
    P5 = lat5(C5)
    P4 = L4 + up[0](P5, guide=L4),  L4 = lat4(C4)   ← slot ``up.0``  (×2, s32 → s16)
    P3 = L3 + up[1](P4, guide=L3),  L3 = lat3(C3)   ← slot ``up.1``  (×2, s16 → s8)
    P2 = L2 + up[2](P3, guide=L2),  L2 = lat2(C2)   ← slot ``up.2``  (×2, s8 → s4)
    logits = final_up(head(P2))              ← slot ``final_up`` (bilinear ×4 by default)

Residual stages use basic blocks (:class:`upbench.models.Encoder`); the top-down path is
:mod:`upbench.models.topdown`; ``head`` is 3×3 conv-BN-ReLU then a 1×1 classifier.

Slots: a *feature* upsampler goes into the three top-down slots (one instance each, scale 2;
guided ones get the lateral encoder feature ``L_i = lat_i(C_i)`` (D channels) at the target
resolution as ``guide``, as SAPA's FPN does; an upsampler that accepts ``guide_channels`` gets
``D``); the final slot stays bilinear. A *label-space* decoder replaces ``head`` + ``final_up``,
hosted as its paper does, at its decoding stride ``s`` (``decode_stride``: 32 or 16, the class's
paper default unless the suite entry says otherwise): it gets ``x`` = the decoder feature at
stride ``s`` (P5 or P4), ``guide = P2`` (the stride-4 decoder feature; NRD's guidance) and
``pyramid`` = the decoder features from stride ``s`` down to P2 (pyramid fuse's levels), and
returns the logits at scale ``s``; the top-down slots stay bilinear. A decoder with
``fused_input`` (DUpsampling, §3.3 / Fig. 2) instead gets ``x = fuse(concat(P_s,
downsample(P_i) for the finer levels))``: every finer level bilinearly downsampled to stride
``s``, concatenated and fused by a 3×3 conv-BN-ReLU to the decoder's ``fused_channels`` (slot
``fuse``, counted with the decoder; DUpsampling: max(D, C̃), as its F has C̃ channels). A
label-space decoder at stride 32 that is neither ``guided``, ``needs_pyramid`` nor
``fused_input`` gets ``guide = pyramid = None`` and the top-down path is not computed at all.

``placement="final"`` (suite entry ``{name: {placement: final}}``, or a class attribute
``default_placement = "final"``) puts a non-guided *feature* upsampler into the final slot instead:
it upsamples the class scores ×4 (as LaU does in its paper), the top-down slots stay bilinear,
and its ``extra_losses`` (which receive the prediction) apply. In the top-down placement an
upsampler's ``extra_losses`` are not used (its output is not the prediction).

Loss: cross-entropy (ignore 255) plus, in the final slot, the upsampler's own
``extra_losses`` (given the state its ``forward_with_state`` returned). Prediction: the arg-max
label map.

Initialisation is seeded and independent of the upsampler: the shared layers are built from
``torch.manual_seed(seed)`` before any slot, and the slots from a derived seed, so every upsampler
in a suite starts from the same encoder/decoder weights.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from upbench.models import Encoder, conv_bn, make_upsampler
from upbench.models.topdown import lateral_convs, slot_upsamplers, top_down
from upbench.tasks.segmentation.hosting import (
    SLOT_SEED_OFFSET,
    SegHost,
    check_decode_stride,
    logits_upsampler,
    resolve_placement,
)
from upbench.upsamplers import get_upsampler_class

LEVEL_OF_STRIDE = {32: 0, 16: 1}  # decoding stride → index into [P5, P4, P3, P2]


class SegBaseline(SegHost):
    """The segmentation baseline with named upsampler slots (see the module docstring).

    Args:
        num_classes: K.
        upsampler: registry name of the upsampler under test.
        hparams: its hyper-parameters.
        widths: encoder stage widths (strides 4, 8, 16, 32).
        blocks: basic blocks per stage.
        decoder_channels: D.
        impl: ``auto`` | ``native`` | ``reference``, passed to every upsampler.
        seed: initialisation seed (None: use the current RNG state).
        placement: ``decoder`` | ``final`` | None (the upsampler's default).
        decode_stride: a label-space decoder's decoding stride, 16 or 32 (None: the class's).

    Raises:
        Unhostable: the upsampler cannot be built in its slot.
    """

    def __init__(self, num_classes: int, upsampler: str = "bilinear",
                 hparams: dict[str, Any] | None = None, widths: list[int] | None = None,
                 blocks: list[int] | None = None, decoder_channels: int = 32,
                 impl: str = "auto", seed: int | None = None,
                 placement: str | None = None, decode_stride: int | None = None) -> None:
        super().__init__()
        widths = list(widths or [16, 32, 64, 128])
        blocks = list(blocks or [1, 1, 1, 1])
        hparams = dict(hparams or {})
        cls = get_upsampler_class(upsampler)
        self.upsampler_name, self.space, self.num_classes = upsampler, cls.space, num_classes
        self.placement = placement = resolve_placement(upsampler, cls, placement)
        self.decode_level, self.fuse = 0, None
        in_decoder = cls.space == "feature" and placement == "decoder"
        d = decoder_channels
        if seed is not None:
            torch.manual_seed(seed)
        self.encoder = Encoder(widths, blocks)
        self.lateral = lateral_convs(widths, d)
        self.head = (nn.Sequential(conv_bn(d, d, 3), nn.Conv2d(d, num_classes, 1))
                     if self.space == "feature" else None)
        if seed is not None:
            torch.manual_seed(seed + SLOT_SEED_OFFSET)
        feat_name, feat_hp = (upsampler, hparams) if in_decoder else ("bilinear", {})
        self.up, self.adapt = slot_upsamplers(feat_name, feat_hp, impl, d)
        if in_decoder:
            self.final_up = make_upsampler("bilinear", num_classes, 4, {}, impl)
            self.slots = ["up.0", "up.1", "up.2"]
        elif self.space == "feature":  # a feature upsampler as the final ×4 of the class scores
            self.final_up = logits_upsampler(upsampler, num_classes, 4, hparams, impl)
            self.slots = ["final_up"]
        else:
            stride = check_decode_stride(upsampler, decode_stride or cls.decode_stride,
                                         LEVEL_OF_STRIDE)
            self.decode_level = LEVEL_OF_STRIDE[stride]
            n_fused = len(widths) - self.decode_level
            fused = cls.fused_channels(d, hparams) if cls.fused_input else d
            self.fuse = conv_bn(n_fused * d, fused, 3) if cls.fused_input else None
            self.final_up = make_upsampler(upsampler, fused, stride, hparams, impl, num_classes,
                                           guide_channels=d)
            self.slots = ["fuse", "final_up"] if self.fuse is not None else ["final_up"]

    def decoder_features(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Encoder features [C2..C5] and decoder features [P5, P4, P3, P2]."""
        feats = self.encoder(x)
        return feats, top_down(feats, self.lateral, self.up, self.adapt)

    def final_inputs(self, x: torch.Tensor) -> tuple:
        """The inputs of ``final_up`` for images x."""
        if x.dim() != 4 or x.shape[2] % 32 or x.shape[3] % 32:
            raise ValueError(f"SegBaseline: input must be (N, 3, H, W) with H, W multiples of 32, "
                             f"got {tuple(x.shape)}")
        up = self.final_up
        if self.head is None and self.decode_level == 0 and self.fuse is None and not (
                up.guided or up.needs_pyramid):
            # a label-space decoder that needs neither guide nor pyramid: skip the top-down path
            # (it would be computed for nothing and inflate latency)
            return self.lateral[3](self.encoder(x)[3]), None, None
        _, pyramid = self.decoder_features(x)
        if self.head is not None:
            return (self.head(pyramid[-1]),)
        levels = pyramid[self.decode_level:]
        xin = levels[0]
        if self.fuse is not None:
            size = xin.shape[-2:]
            xin = self.fuse(torch.cat([xin] + [F.interpolate(p, size=size, mode="bilinear",
                                                             align_corners=False)
                                               for p in levels[1:]], 1))
        return xin, pyramid[-1], levels
