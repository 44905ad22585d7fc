"""The ``deeplabv3plus-r50`` baseline: mmseg's ``deeplabv3plus_r50-d8``, hosting upsamplers.

Network (mmseg ``configs/_base_/models/deeplabv3plus_r50-d8.py``; ``K`` classes, output stride
``s`` = ``model.output_stride``, 8 by default as the config)::

    image ─ ResNetV1c-50 (deep stem; OS s by dilation) ─ C2 (256, 1/4) … C5 (2048, 1/s)
    a   = ASPP(C5): image pool + 1×1 + three depthwise-separable 3×3 at rates 96/s, 192/s,
          288/s (12, 24, 36 at OS 8; 6, 12, 18 at 16; 3, 6, 9 at 32), 512 ch each, concatenated,
          3×3 bottleneck 2560→512
    a'  = up[n-1](… up[0](a, guide=C@s/2) …, guide=C2)   ← slots ``up.i``: ×2 cascade 1/s → 1/4
    f   = sep_bottleneck(concat(a', c1_bottleneck(C2)))   (1×1 256→48; two separable 3×3 → 512)
    logits = final_up(conv_seg(dropout(f)))              ← slot ``final_up``: ×4 (bilinear)

mmseg resizes ``a`` to 1/4 in one bilinear call and the logits to the image in another; here the
first is a cascade of log2(s/4) bilinear ×2 (the same function up to interpolation rounding, and
the same FLOPs and parameters), so that a feature upsampler can take each step as SAPA's
SegFormer and FPN hosts do (one module per ×2, guided by the encoder feature at the target
resolution: C3 (512) at 1/8, C4 (1024) at 1/16 when s = 32, C2 (256) at 1/4).

Hosting (:class:`DeepLabV3Plus`):

* feature upsampler, placement ``decoder`` (default): the cascade slots ``up.0`` … (1 at OS 8,
  2 at 16, 3 at 32); ``final_up`` stays bilinear (the logits' resize, which SAPA's hosts leave
  alone). Placement ``final``: a non-guided upsampler takes the final ×4 of the class scores
  (LaU's paper placement: ``{lau: {placement: final}}``), the cascade stays bilinear.
* label-space decoder: replaces ``conv_seg`` + ``final_up``; the encoder's output stride is its
  decoding stride (``decode_stride``: the suite entry's, else the class's; 16 or 32), as in the
  papers, and ``model.output_stride`` does not apply.

  - ``fused_input`` (DUpsampling, OS 16): the low-level skip ``c1_bottleneck(C2)`` is bilinearly
    *downsampled* to a's size, concatenated with a and fused by ``sep_bottleneck`` — the
    DeepLabv3+ decoder run at the decoding stride — then decoded (§3.3).
  - ``guided`` (NRD, OS 32, non-dilated): x = a, from NRD's head (ASPP rates 1, 3, 6, 9 at OS
    32), guide = C2 (256 ch, 1/4) — the encoder feature at the class's ``guide_stride``; the
    DeepLabv3+ decoder is not built (NRD's ``deeppad`` head has none).
  - ``needs_pyramid`` (pyramid fuse, OS 32): the pyramid is [a, the bilinear cascade's steps,
    f] (strides s … 4, 512 ch each); x = a.

Initialisation: the backbone and head from ``torch.manual_seed(seed)``, then the slots from
``seed + SLOT_SEED_OFFSET``; then ``model.weights`` (if any) into the backbone
(:func:`upbench.models.resnet_v1c.load_v1c_weights`). Not built: mmseg's auxiliary ``FCNHead`` on
C4 (a training-only loss head, weight 0.4).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from upbench.models import Unhostable, make_upsampler
from upbench.models.aspp import ASPP, ConvModule, SeparableConvModule, aspp_dilations
from upbench.models.resnet_v1c import OUTPUT_STRIDES, ResNetV1c, load_v1c_weights, stage_strides
from upbench.models.topdown import slot_upsamplers
from upbench.tasks.segmentation.hosting import (
    SLOT_SEED_OFFSET,
    SegHost,
    check_decode_stride,
    logits_upsampler,
    resolve_placement,
)
from upbench.upsamplers import get_upsampler_class

CHANNELS = 512  # mmseg's ``channels``
C1_CHANNELS = 48  # ``c1_channels``
DROPOUT = 0.1
DECODE_STRIDES = (16, 32)  # a label-space decoder's encoder output stride


class DeepLabV3PlusHead(ASPP):
    """mmseg's ``DepthwiseSeparableASPPHead`` (same module names and parameters).

    Args:
        in_channels: C5's channels (2048).
        channels: 512.
        dilations: ASPP rates.
        c1_in_channels: C2's channels (256).
        c1_channels: the skip's channels (48).
        num_classes: K, or None: no classifier (a label-space decoder replaces it).
        decoder: build the low-level decoder (``c1_bottleneck``, ``sep_bottleneck``).
    """

    def __init__(self, in_channels: int, channels: int, dilations: tuple[int, ...],
                 c1_in_channels: int, c1_channels: int, num_classes: int | None,
                 decoder: bool = True) -> None:
        super().__init__(in_channels, channels, dilations, separable=True)
        self.c1_bottleneck = ConvModule(c1_in_channels, c1_channels, 1) if decoder else None
        self.sep_bottleneck = nn.Sequential(
            SeparableConvModule(channels + c1_channels, channels, 3),
            SeparableConvModule(channels, channels, 3)) if decoder else None
        self.dropout = nn.Dropout2d(DROPOUT) if num_classes else None
        self.conv_seg = nn.Conv2d(channels, num_classes, 1) if num_classes else None
        if self.conv_seg is not None:  # mmseg's BaseDecodeHead.init_weights
            nn.init.normal_(self.conv_seg.weight, 0, 0.01)
            nn.init.zeros_(self.conv_seg.bias)

    def fuse(self, x: torch.Tensor, c2: torch.Tensor) -> torch.Tensor:
        """``sep_bottleneck(concat(x, c1_bottleneck(C2) at x's size))``: DeepLabv3+'s decoder
        when x is at 1/4, DUpsampling's fusion when x is at the decoding stride."""
        low = self.c1_bottleneck(c2)
        if low.shape[2:] != x.shape[2:]:
            low = F.interpolate(low, size=x.shape[2:], mode="bilinear", align_corners=False)
        return self.sep_bottleneck(torch.cat([x, low], 1))

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """``conv_seg(dropout(x))``: the class scores at x's resolution. The dropout runs only
        in training (in evaluation it is the identity; skipping it keeps it out of traces)."""
        return self.conv_seg(self.dropout(x) if self.training else x)


class DeepLabV3Plus(SegHost):
    """DeepLabv3+ ResNetV1c-50 with named upsampler slots (see the module docstring).

    Args:
        num_classes: K.
        upsampler: registry name of the upsampler under test.
        hparams: its hyper-parameters.
        output_stride: 8, 16 or 32 (feature upsamplers and bilinear; a label-space decoder uses
            its decoding stride).
        impl: ``auto`` | ``native`` | ``reference``, passed to every upsampler.
        seed: initialisation seed (None: the current RNG state).
        placement: ``decoder`` | ``final`` | None (the upsampler's default).
        decode_stride: a label-space decoder's decoding stride, 16 or 32 (None: the class's).
        weights: ``model.weights`` for the backbone (a file or ``imagenet``), or None.
        weights_strict: missing / unexpected keys are an error.

    Raises:
        Unhostable: the upsampler cannot be built in its slot.
        WeightsError: the weights cannot be loaded.
    """

    def __init__(self, num_classes: int, upsampler: str = "bilinear",
                 hparams: dict[str, Any] | None = None, output_stride: int = 8,
                 impl: str = "auto", seed: int | None = None, placement: str | None = None,
                 decode_stride: int | None = None, weights: str | None = None,
                 weights_strict: bool = True) -> None:
        super().__init__()
        hparams = dict(hparams or {})
        cls = get_upsampler_class(upsampler)
        self.upsampler_name, self.space, self.num_classes = upsampler, cls.space, num_classes
        self.placement = placement = resolve_placement(upsampler, cls, placement)
        label = cls.space == "label"
        if label:
            output_stride = check_decode_stride(upsampler, decode_stride or cls.decode_stride,
                                                DECODE_STRIDES)
        elif output_stride not in OUTPUT_STRIDES:
            raise ValueError(f"output_stride must be one of {OUTPUT_STRIDES}, got "
                             f"{output_stride!r}")
        self.output_stride = output_stride
        strides = stage_strides(output_stride)
        decoder = not label or cls.fused_input or cls.needs_pyramid
        cascade = not label or cls.needs_pyramid
        if seed is not None:
            torch.manual_seed(seed)
        self.backbone = ResNetV1c(output_stride=output_stride)
        widths = self.backbone.channels
        self.decode_head = DeepLabV3PlusHead(widths[3], CHANNELS, aspp_dilations(output_stride),
                                             widths[0], C1_CHANNELS,
                                             None if label else num_classes, decoder)
        if seed is not None:
            torch.manual_seed(seed + SLOT_SEED_OFFSET)
        in_decoder = not label and placement == "decoder"
        targets = [output_stride >> (i + 1) for i in range((output_stride // 4).bit_length() - 1)
                   ] if cascade else []
        self.guide_levels = [strides.index(t) for t in targets]  # C_i at each target stride
        name, hp = (upsampler, hparams) if in_decoder else ("bilinear", {})
        self.up, self.adapt = slot_upsamplers(name, hp, impl, CHANNELS, len(targets),
                                              [widths[i] for i in self.guide_levels])
        self.guide_level: int | None = None
        if in_decoder:
            self.final_up = make_upsampler("bilinear", num_classes, 4, {}, impl)
            self.slots = [f"up.{i}" for i in range(len(targets))]
        elif not label:
            self.final_up = logits_upsampler(upsampler, num_classes, 4, hparams, impl)
            self.slots = ["final_up"]
        else:
            guide_channels = None
            if cls.guided:
                gs = cls.guide_stride or 4
                if gs not in strides:
                    raise Unhostable(f"{upsampler} wants a guide at stride {gs}; the encoder "
                                     f"has features at strides {sorted(set(strides))}")
                self.guide_level = strides.index(gs)
                guide_channels = widths[self.guide_level]
            self.final_up = make_upsampler(upsampler, CHANNELS, output_stride, hparams, impl,
                                           num_classes, guide_channels=guide_channels)
            self.slots = ["final_up"]
        if weights:
            self.weights_report = load_v1c_weights(self.backbone, weights, weights_strict)

    def final_inputs(self, x: torch.Tensor) -> tuple:
        """The inputs of ``final_up`` for images x (N, 3, H, W), H and W multiples of 32."""
        if x.dim() != 4 or x.shape[1] != 3 or x.shape[2] % 32 or x.shape[3] % 32:
            raise ValueError(f"DeepLabV3Plus: input must be (N, 3, H, W) with H, W multiples of "
                             f"32, got {tuple(x.shape)}")
        feats = self.backbone(x)
        head = self.decode_head
        a = head.aspp(feats[3])
        guide = feats[self.guide_level] if self.guide_level is not None else None
        if self.space == "label" and not self.final_up.needs_pyramid:
            return (head.fuse(a, feats[0]) if self.final_up.fused_input else a), guide, None
        levels = [a]
        for i, (up, adapt) in enumerate(zip(self.up, self.adapt, strict=True)):
            g = feats[self.guide_levels[i]] if up.guided else None
            levels.append(adapt(up(levels[-1], g)))
        f = head.fuse(levels[-1], feats[0])
        if self.space == "label":
            x_in = head.fuse(a, feats[0]) if self.final_up.fused_input else a
            return x_in, guide, levels[:-1] + [f]
        return (head.classify(f),)


__all__ = ["C1_CHANNELS", "CHANNELS", "DECODE_STRIDES", "DeepLabV3Plus", "DeepLabV3PlusHead"]
