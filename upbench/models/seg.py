"""The segmentation baseline: a small ResNet-style encoder (output stride 32) + an FPN decoder.

Architecture (widths ``w = [w2, w3, w4, w5]``, decoder channels ``D``, ``K`` classes)::

    image ─ stem (two 3×3 stride-2 convs) ─ stage2 (s4, w2) ─ stage3 (s8) ─ stage4 (s16) ─ stage5 (s32)
                                               C2               C3            C4             C5
    P5 = lat5(C5)
    P4 = L4 + up[0](P5, guide=L4),  L4 = lat4(C4)   ← slot ``up.0``  (×2, s32 → s16)
    P3 = L3 + up[1](P4, guide=L3),  L3 = lat3(C3)   ← slot ``up.1``  (×2, s16 → s8)
    P2 = L2 + up[2](P3, guide=L2),  L2 = lat2(C2)   ← slot ``up.2``  (×2, s8 → s4)
    logits = final_up(head(P2))              ← slot ``final_up`` (bilinear ×4 by default)

Residual stages use basic blocks (two 3×3 conv + BN, identity or 1×1-stride shortcut). ``lat*``
are 1×1 convs to ``D`` channels; ``head`` is 3×3 conv-BN-ReLU then a 1×1 classifier.

Slots: a *feature* upsampler goes into the three top-down slots (one instance each, scale 2;
guided ones get the lateral encoder feature ``L_i = lat_i(C_i)`` (D channels) at the target
resolution as ``guide``, as SAPA's FPN does; an upsampler that accepts ``guide_channels`` gets
``D``); the final slot stays bilinear. A *label-space* decoder replaces ``head`` + ``final_up``: it gets
``x = P5`` (scale 32), ``guide = P2`` (the stride-4 decoder feature) and ``pyramid = [P5, P4, P3,
P2]``, and returns the logits; the top-down slots stay bilinear. A label-space decoder that is
neither ``guided`` nor ``needs_pyramid`` gets ``guide = pyramid = None`` and the top-down path is
not computed at all.

``placement="final"`` (suite entry ``{name: {placement: final}}``, or a class attribute
``default_placement = "final"``) puts a non-guided *feature* upsampler into the final slot instead:
it upsamples the class scores ×4 (as LaU does in its paper), the top-down slots stay bilinear,
and its ``extra_losses`` (which receive the prediction) apply. In the top-down placement an
upsampler's ``extra_losses`` are not used (its output is not the prediction).

Initialisation is seeded and independent of the upsampler: the shared layers are built from
``torch.manual_seed(seed)`` before any slot, and the slots from a derived seed, so every upsampler
in a suite starts from the same encoder/decoder weights.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from upbench.upsamplers import create_upsampler, get_upsampler_class, upsampler_hparams
from upbench.upsamplers.base import Upsampler


class Unhostable(Exception):
    """The baseline cannot host this upsampler (recorded as ``n/a`` with the reason)."""


def conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1, relu: bool = True) -> nn.Sequential:
    """k×k conv (no bias) + BatchNorm (+ ReLU)."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, k // 2, bias=False),
                               nn.BatchNorm2d(cout)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    """ResNet basic block."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = conv_bn(cin, cout, 3, stride)
        self.conv2 = conv_bn(cout, cout, 3, 1, relu=False)
        self.short = (nn.Identity() if stride == 1 and cin == cout
                      else conv_bn(cin, cout, 1, stride, relu=False))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv2(self.conv1(x)) + self.short(x))


class Encoder(nn.Module):
    """From-scratch ResNet-style encoder returning C2..C5 at strides 4, 8, 16, 32."""

    def __init__(self, widths: list[int], blocks: list[int]) -> None:
        super().__init__()
        w0 = widths[0]
        self.stem = nn.Sequential(conv_bn(3, max(8, w0 // 2), 3, 2), conv_bn(max(8, w0 // 2), w0, 3, 2))
        stages, cin = [], w0
        for i, (w, n) in enumerate(zip(widths, blocks)):
            layers = [BasicBlock(cin, w, 1 if i == 0 else 2)]
            layers += [BasicBlock(w, w) for _ in range(n - 1)]
            stages.append(nn.Sequential(*layers))
            cin = w
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats


def _make(name: str, in_channels: int, scale: int, hparams: dict[str, Any], impl: str,
          num_classes: int | None = None, guide_channels: int | None = None) -> Upsampler:
    kwargs = dict(hparams)
    accepted = upsampler_hparams(name)
    if "impl" in accepted:
        kwargs.setdefault("impl", impl)
    if guide_channels is not None and "guide_channels" in accepted:
        kwargs.setdefault("guide_channels", guide_channels)
    if num_classes is not None:
        if "num_classes" not in accepted:
            raise Unhostable(f"label-space upsampler {name!r} takes no num_classes argument")
        kwargs["num_classes"] = num_classes
    try:
        return create_upsampler(name, in_channels, scale, **kwargs)
    except (ValueError, NotImplementedError, AssertionError) as e:
        raise Unhostable(f"{name} cannot be built for in_channels={in_channels}, "
                         f"scale={scale}: {e}") from e


class SegBaseline(nn.Module):
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

    Raises:
        Unhostable: the upsampler cannot be built in its slot.
    """

    def __init__(self, num_classes: int, upsampler: str = "bilinear",
                 hparams: dict[str, Any] | None = None, widths: list[int] | None = None,
                 blocks: list[int] | None = None, decoder_channels: int = 32,
                 impl: str = "auto", seed: int | None = None,
                 placement: str | None = None) -> None:
        super().__init__()
        widths = list(widths or [16, 32, 64, 128])
        blocks = list(blocks or [1, 1, 1, 1])
        hparams = dict(hparams or {})
        cls = get_upsampler_class(upsampler)
        self.upsampler_name, self.space, self.num_classes = upsampler, cls.space, num_classes
        placement = placement or getattr(cls, "default_placement", None) or (
            "decoder" if cls.space == "feature" else "final")
        if placement not in ("decoder", "final"):
            raise ValueError(f"placement must be 'decoder' or 'final', got {placement!r}")
        if cls.space == "label" and placement != "final":
            raise Unhostable(f"{upsampler} is a label-space decoder: it can only take the final "
                             "slot (placement 'final')")
        if cls.space == "feature" and placement == "final" and cls.guided:
            raise Unhostable(f"{upsampler} is guided: the final prediction slot has no guide "
                             "feature at the output resolution")
        self.placement = placement
        in_decoder = cls.space == "feature" and placement == "decoder"
        d = decoder_channels
        if seed is not None:
            torch.manual_seed(seed)
        self.encoder = Encoder(widths, blocks)
        self.lateral = nn.ModuleList(nn.Conv2d(w, d, 1) for w in widths)
        self.head = (nn.Sequential(conv_bn(d, d, 3), nn.Conv2d(d, num_classes, 1))
                     if self.space == "feature" else None)
        if seed is not None:
            torch.manual_seed(seed + 1_000_003)
        feat_name, feat_hp = (upsampler, hparams) if in_decoder else ("bilinear", {})
        self.up = nn.ModuleList(_make(feat_name, d, 2, feat_hp, impl, guide_channels=d)
                                for _ in range(3))
        self.adapt = nn.ModuleList(
            nn.Identity() if u.out_channels == d else nn.Conv2d(u.out_channels, d, 1)
            for u in self.up)
        if in_decoder:
            self.final_up = _make("bilinear", num_classes, 4, {}, impl)
            self.slots = ["up.0", "up.1", "up.2"]
        elif self.space == "feature":  # a feature upsampler as the final ×4 of the class scores
            self.final_up = _make(upsampler, num_classes, 4, hparams, impl)
            if self.final_up.out_channels != num_classes:
                raise Unhostable(f"{upsampler} changes the channel count ({num_classes} → "
                                 f"{self.final_up.out_channels}); it cannot upsample the logits")
            self.slots = ["final_up"]
        else:
            self.final_up = _make(upsampler, d, 32, hparams, impl, num_classes, guide_channels=d)
            self.slots = ["final_up"]
        self.needs_pyramid = bool(getattr(self.final_up, "needs_pyramid", False))

    def slot_modules(self) -> list[tuple[str, nn.Module]]:
        """(name, module) of the slots holding the upsampler under test."""
        mods = dict(self.named_modules())
        return [(s, mods[s]) for s in self.slots]

    def decoder_features(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Encoder features [C2..C5] and decoder features [P5, P4, P3, P2]."""
        feats = self.encoder(x)
        p = self.lateral[3](feats[3])
        pyramid = [p]
        for i, level in enumerate((2, 1, 0)):
            lateral = self.lateral[level](feats[level])
            guide = lateral if self.up[i].guided else None
            p = lateral + self.adapt[i](self.up[i](p, guide))
            pyramid.append(p)
        return feats, pyramid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, K, H, W) for images (N, 3, H, W) with H, W multiples of 32."""
        if x.dim() != 4 or x.shape[2] % 32 or x.shape[3] % 32:
            raise ValueError(f"SegBaseline: input must be (N, 3, H, W) with H, W multiples of 32, "
                             f"got {tuple(x.shape)}")
        if self.head is None and not (self.final_up.guided or self.needs_pyramid):
            # a label-space decoder that needs neither guide nor pyramid: skip the top-down path
            # (it would be computed for nothing and inflate latency)
            return self.final_up(self.lateral[3](self.encoder(x)[3]), None, None)
        _, pyramid = self.decoder_features(x)
        if self.head is not None:
            return self.final_up(self.head(pyramid[-1]))
        return self.final_up(pyramid[0], pyramid[-1], pyramid)

    def extra_losses(self, logits: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """The own losses of the upsampler that produces the prediction, prefixed by slot name.

        ``extra_losses(outputs, target)`` receives the prediction, so it applies only where the
        upsampler under test produces it (the final slot); in the top-down slots there are none.
        """
        out: dict[str, torch.Tensor] = {}
        if self.slots != ["final_up"]:
            return out
        for name, mod in self.slot_modules():
            for k, v in mod.extra_losses(logits, target).items():
                out[f"{name}.{k}"] = v
        return out

    def fit(self, dataloader) -> None:
        """Run each slot upsampler's fitting step (e.g. DUpsampling's PCA) before training."""
        for _, mod in self.slot_modules():
            mod.fit(dataloader)
