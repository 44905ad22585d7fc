"""The paper baseline ``a2u-r34``: A2U matting's ResNet-34 network at output stride 16
(dongdong93/a2u_matting ``scripts/resnet.py``, ``hlaspp.py``, ``decoder.py``, ``hlconv.py``,
``config/adobe.yaml``), SAPA Table 5's network, in its bilinear form, with the decoder's four ×2
as slots.

* **Encoder**: a 7×7 stride-1 conv 4→64 + BN + ReLU (``conv1``, ``bn1``) on the image and trimap;
  two 2×2 max-poolings (A2U's learnt downsamplings, max-pooling in its bilinear baseline);
  torchvision's ResNet-34 ``layer1`` (3 blocks, 64), ``layer2`` (4, 128) and the first four blocks
  of ``layer3`` (256; A2U's structure is [3, 4, 4, 2] and layer4 is never built). Strides 1, 2,
  4, 4, 8, 16.
* **ASPP** (256→256, dilations 1, 6, 12, 18): a 1×1 branch, three depthwise-separable 3×3
  branches (depthwise 3×3 + BN, pointwise 1×1 + BN), image pooling (1×1 + BN, nearest back),
  1×1 1280→256 + BN, dropout 0.5.
* **Decoder**: four stages ``x = up(x) + short(skip)`` then two residual blocks (3×3 conv-BN,
  3×3 conv-BN, a 1×1 conv-BN projection where the width changes): 256→128, 128→64, 64→64, 64→32;
  the shortcuts are 3×3 conv-BN of layer2 (128→256), layer1 (64→128), the stride-2 feature
  (64→64) and the 4-channel input (4→64). Prediction: 3×3 conv-BN 32→1, 3×3 conv 1→1 (no bias;
  the raw output is trained, and clipped to [0, 1] for evaluation, as A2U).
* **Slots**: the four ×2 (``up.0``–``up.3``) on 256, 128, 64 and 64 channels; a guided upsampler
  gets the shortcut at the target resolution (same channels).

A2U's normalisation layers are InPlaceABN: BatchNorm followed by LeakyReLU(0.01) (identity after
the residual branches' second BN and the projections), kept here as BatchNorm + LeakyReLU in the
decoder, ASPP and shortcuts; the encoder's blocks are torchvision's (ReLU), so that torchvision's
ImageNet weights apply as they were trained. Outside the encoder, convolutions are Xavier-normal
initialised with LeakyReLU's gain and BatchNorms to (1, 0), as A2U's ``_initialize_weights``.
``model.weights`` loads the encoder in torchvision's ResNet-34 layout (``imagenet`` =
torchvision's ``ResNet34_Weights.IMAGENET1K_V1``): ``layer3.4``, ``layer3.5``, ``layer4`` and
``fc`` are dropped, and the stem's trimap channel gets zero filters (A2U's loader does the same).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from upbench.models import Unhostable, make_upsampler
from upbench.models.resnet import ResNetStages, load_resnet_weights
from upbench.tasks.base import TaskModel
from upbench.tasks.matting.model import SLOT_SEED_OFFSET, MattingBaseline
from upbench.upsamplers import get_upsampler_class

NAME = "a2u-r34"
SLOPE = 0.01  # InPlaceABN's LeakyReLU slope
DILATIONS = (1, 6, 12, 18)  # output stride 16
DECODER = ((256, 128), (128, 64), (64, 64), (64, 32))  # stage in → out channels
SHORTCUTS = ((128, 256), (64, 128), (64, 64), (4, 64))  # layer2, layer1, stride 2, input
DROPPED = ("fc.", "layer4.", "layer3.4.", "layer3.5.")  # torchvision keys A2U has no use for


def bn_act(c: int, act: bool = True) -> nn.Sequential:
    """A2U's ABN: BatchNorm (+ LeakyReLU 0.01)."""
    return nn.Sequential(nn.BatchNorm2d(c), *([nn.LeakyReLU(SLOPE)] if act else []))


def conv_bn_act(cin: int, cout: int, k: int = 3, groups: int = 1, dilation: int = 1,
                act: bool = True) -> nn.Sequential:
    """k×k conv (no bias) + ABN."""
    return nn.Sequential(nn.Conv2d(cin, cout, k, 1, dilation * (k // 2), dilation, groups,
                                   bias=False), *bn_act(cout, act))


class ResidualBlock(nn.Module):
    """A2U's decoder ``ResidualBlock`` (k = 3): conv-BN-act, conv-BN, + (projected) input,
    LeakyReLU."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(conv_bn_act(cin, cout), conv_bn_act(cout, cout, act=False))
        self.proj = conv_bn_act(cin, cout, 1, act=False) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.convs(x) + self.proj(x), SLOPE)


class ASPP(nn.Module):
    """A2U's ASPP at output stride 16 (see the module docstring)."""

    def __init__(self, cin: int = 256, cout: int = 256, width: int = 256) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            [conv_bn_act(cin, width, 1)]
            + [nn.Sequential(conv_bn_act(cin, cin, 3, groups=cin, dilation=d),
                             conv_bn_act(cin, width, 1)) for d in DILATIONS[1:]])
        self.image_pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), conv_bn_act(cin, width, 1))
        self.bottleneck = conv_bn_act(5 * width, cout, 1)
        self.dropout = nn.Dropout(0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [b(x) for b in self.branches]
        outs.append(F.interpolate(self.image_pool(x), size=x.shape[-2:], mode="nearest"))
        return self.dropout(self.bottleneck(torch.cat(outs, 1)))


class A2UEncoder(ResNetStages):
    """The 4-channel stride-1 stem, two 2×2 max-poolings and ResNet-34 layer1–3 (layer3 cut to
    4 blocks), under torchvision's names; :meth:`forward` returns the input, the full-resolution,
    stride-2, layer1, layer2 and layer3 features."""

    def __init__(self) -> None:
        super().__init__(34, ("conv1", "bn1", "relu", "layer1", "layer2", "layer3"))
        self.conv1 = nn.Conv2d(4, 64, 7, 1, 3, bias=False)
        nn.init.kaiming_normal_(self.conv1.weight, mode="fan_out", nonlinearity="relu")
        self.layer3: nn.Sequential = nn.Sequential(*list(self.layer3.children())[:4])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        l0 = self.relu(self.bn1(self.conv1(x)))
        l0p = F.max_pool2d(l0, 2)
        l1 = self.layer1(F.max_pool2d(l0p, 2))
        l2 = self.layer2(l1)
        return [x, l0, l0p, l1, l2, self.layer3(l2)]


class A2UR34(TaskModel):
    """A2U matting's ResNet-34 network (bilinear form) with four ×2 slots (see the module
    docstring).

    Args:
        upsampler, hparams: the upsampler under test (one instance per slot).
        weights, weights_strict: ``model.weights`` for the encoder (None: none).
        impl: ``auto`` | ``native`` | ``reference``; seed: initialisation seed.
        placement: only the decoder stages host an upsampler.

    Raises:
        Unhostable: a label-space decoder, a final placement, or an upsampler that cannot be
            built for a stage.
        upbench.models.weights.WeightsError: the weights cannot be loaded.
    """

    def __init__(self, upsampler: str = "bilinear", hparams: dict[str, Any] | None = None,
                 weights: str | None = None, weights_strict: bool = True, impl: str = "auto",
                 seed: int | None = None, placement: str | None = None) -> None:
        super().__init__()
        if get_upsampler_class(upsampler).space == "label":
            raise Unhostable(f"{upsampler} is a label-space decoder (it predicts class labels); "
                             "matting regresses an alpha matte")
        if placement == "final":
            raise Unhostable("A2U hosts upsamplers in its four decoder stages only (the last "
                             "already upsamples to full resolution)")
        self.placement = "decoder"
        if seed is not None:
            torch.manual_seed(seed)
        self.encoder = A2UEncoder()
        self.aspp = ASPP()
        self.short = nn.ModuleList(conv_bn_act(i, o) for i, o in SHORTCUTS)
        self.decoder = nn.ModuleList(nn.Sequential(ResidualBlock(i, o), ResidualBlock(o, o))
                                     for i, o in DECODER)
        self.pred = nn.Sequential(conv_bn_act(32, 1), nn.Conv2d(1, 1, 3, 1, 1, bias=False))
        gain = nn.init.calculate_gain("leaky_relu", SLOPE)
        for part in (self.aspp, self.short, self.decoder, self.pred):
            for m in part.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.xavier_normal_(m.weight, gain)
        if seed is not None:
            torch.manual_seed(seed + SLOT_SEED_OFFSET)
        self.up = nn.ModuleList(make_upsampler(upsampler, i, 2, dict(hparams or {}), impl,
                                               guide_channels=i) for i, _ in DECODER)
        self.adapt = nn.ModuleList(nn.Identity() if u.out_channels == i
                                   else nn.Conv2d(u.out_channels, i, 1)
                                   for u, (i, _) in zip(self.up, DECODER, strict=True))
        self.slots = [f"up.{i}" for i in range(len(DECODER))]
        if weights:
            self.weights_report = load_resnet_weights(self.encoder, weights, 34,
                                                      strict=weights_strict, drop=DROPPED,
                                                      in_channels=4)

    def forward(self, image: torch.Tensor, trimap: torch.Tensor) -> torch.Tensor:
        """The raw alpha prediction (N, 1, H, W) for normalised images (N, 3, H, W) and trimaps
        / 255 (N, 1, H, W); H, W multiples of 16."""
        if image.dim() != 4 or image.shape[2] % 16 or image.shape[3] % 16:
            raise ValueError(f"A2U: input must be (N, 3, H, W) with H, W multiples of 16, got "
                             f"{tuple(image.shape)}")
        x, _, l0p, l1, l2, l3 = self.encoder(torch.cat((image, trimap), 1))
        d = self.aspp(l3)
        for i, skip in enumerate((l2, l1, l0p, x)):
            short = self.short[i](skip)
            up = self.up[i]
            d = self.decoder[i](self.adapt[i](up(d, short if up.guided else None)) + short)
        return self.pred(d)

    loss = MattingBaseline.loss  # A2U's 0.5·alpha + 0.5·composition Charbonnier losses
    diagnostics = MattingBaseline.diagnostics  # what "alpha = trimap" scores

    def predict(self, outputs: torch.Tensor) -> torch.Tensor:
        """The alpha matte clipped to [0, 1] (the evaluator pastes the trimap's known
        regions)."""
        return outputs.clamp(0, 1)


__all__ = ["A2UR34", "ASPP", "NAME"]
