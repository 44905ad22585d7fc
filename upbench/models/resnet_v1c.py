"""ResNet encoders of the paper baselines, built on torchvision's ResNet, and their weights.

:class:`ResNetV1c` is mmseg's ``ResNetV1c`` (the encoder of mmseg's DeepLabv3+ / ASPP configs and
of NRD's ``deeppad_r50``): torchvision's bottleneck ResNet with the 7×7 stem replaced by the deep
stem 3→32→32→64 (three 3×3 conv + BN + ReLU, the first with stride 2), then max-pool. It returns
the four stage outputs C2..C5. Output stride 8 / 16 / 32 by dilation, as torchvision's
``replace_stride_with_dilation`` and mmseg's ``dilations`` with ``contract_dilation=True`` do
alike: OS 16 dilates stage 4 (dilation 2, its first block 1), OS 8 stages 3 and 4 (2 and 4, the
first blocks 1 and 2), OS 32 none.

Module names follow mmseg's (``stem.0`` conv, ``stem.1`` BN, ``stem.3``, ``stem.4``, ``stem.6``,
``stem.7``; ``layerN.i.conv1`` / ``bn1`` … ``downsample.0`` / ``.1``), which torchvision's ResNet
shares from ``layer1`` on. Accepted checkpoint layouts (:data:`V1C_LAYOUTS`):

* ``mmseg``: mmseg's ImageNet file ``resnet50_v1c-2cccc1ad.pth`` (the named source ``imagenet``)
  or a whole mmseg segmentor checkpoint, whose ``backbone.*`` tensors are taken. The ImageNet
  classifier ``fc.*`` is dropped (mmseg loads it non-strictly and never uses it).
* ``torchvision``: a torchvision ResNet state dict (``conv1.weight`` 7×7, ``bn1.*``, ``layer*``,
  ``fc.*`` dropped). Its 7×7 stem has no counterpart in the deep stem, so ``conv1.*`` / ``bn1.*``
  are reported as unexpected and ``stem.*`` as missing: an error, unless ``weights_strict: false``
  loads every stage and leaves the deep stem at its seeded initialisation (recorded in the
  result). A 7×7 kernel is not mapped onto three 3×3 convs: no mapping reproduces its function.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torchvision.models.resnet import Bottleneck, ResNet

from upbench.models.weights import KeyLayout, NamedWeights, StateDict, WeightsReport, load_weights

OUTPUT_STRIDES = (8, 16, 32)
RESNET50_LAYERS = (3, 4, 6, 3)
MMSEG_V1C_URL = "https://download.openmmlab.com/pretrain/third_party/resnet50_v1c-2cccc1ad.pth"

# mmcv's model zoo (open_mmlab.json) entry 'resnet50_v1c' = mmseg's 'open-mmlab://resnet50_v1c'
IMAGENET_V1C_50 = NamedWeights(
    "imagenet", "resnet50_v1c-2cccc1ad.pth", MMSEG_V1C_URL,
    "mmseg's ImageNet ResNetV1c-50, open-mmlab://resnet50_v1c in mmcv's model zoo")


def dilation_flags(output_stride: int) -> list[bool]:
    """torchvision's ``replace_stride_with_dilation`` for stages 2-4 at ``output_stride``.

    Raises:
        ValueError: not 8, 16 or 32.
    """
    if output_stride not in OUTPUT_STRIDES:
        raise ValueError(f"output_stride must be one of {OUTPUT_STRIDES}, got {output_stride!r}")
    return [False, output_stride <= 8, output_stride <= 16]


def stage_strides(output_stride: int) -> tuple[int, int, int, int]:
    """The strides of C2..C5 at ``output_stride`` (dilated stages keep the previous stride)."""
    dilation_flags(output_stride)
    return (4, 8, min(16, output_stride), output_stride)


def deep_stem(in_channels: int = 3, channels: int = 64) -> nn.Sequential:
    """mmseg's deep stem: 3×3 conv (stride 2) in→c/2, 3×3 c/2→c/2, 3×3 c/2→c, each + BN + ReLU."""
    half = channels // 2
    layers: list[nn.Module] = []
    for i, (cin, cout) in enumerate(((in_channels, half), (half, half), (half, channels))):
        layers += [nn.Conv2d(cin, cout, 3, 2 if i == 0 else 1, 1, bias=False),
                   nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class ResNetV1c(ResNet):
    """mmseg's ResNetV1c (deep stem) on torchvision's bottleneck ResNet; forward returns
    [C2, C3, C4, C5] (256, 512, 1024, 2048 channels for the bottleneck widths).

    Args:
        layers: blocks per stage ((3, 4, 6, 3): ResNetV1c-50).
        output_stride: 8, 16 or 32 (see the module docstring).
        zero_init_residual: start every block's last BN at zero (mmseg's default for a
            from-scratch ResNet; irrelevant once weights are loaded).
    """

    def __init__(self, layers: Sequence[int] = RESNET50_LAYERS, output_stride: int = 32,
                 zero_init_residual: bool = True) -> None:
        super().__init__(Bottleneck, list(layers), zero_init_residual=zero_init_residual,
                         replace_stride_with_dilation=dilation_flags(output_stride))
        del self.conv1, self.bn1, self.relu, self.avgpool, self.fc
        self.stem = deep_stem(3, self.layer1[0].conv1.in_channels)
        for m in self.stem.modules():  # torchvision's initialisation of its own stem
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        self.output_stride = output_stride
        self.channels = [layer[-1].conv3.out_channels for layer in
                         (self.layer1, self.layer2, self.layer3, self.layer4)]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:  # type: ignore[override]
        """[C2, C3, C4, C5] at strides :func:`stage_strides` for images (N, 3, H, W)."""
        x = self.maxpool(self.stem(x))
        feats = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            feats.append(x)
        return feats


def _without_fc(state: StateDict) -> StateDict:
    return {k: v for k, v in state.items() if not k.startswith("fc.")}


def _mmseg(state: StateDict) -> StateDict:
    if "conv1.weight" in state:  # torchvision's 7×7 stem: the other layout
        return {}
    if any(k.startswith("backbone.") for k in state):  # a whole segmentor checkpoint
        state = {k.removeprefix("backbone."): v for k, v in state.items()
                 if k.startswith("backbone.")}
    return _without_fc(state)


def _torchvision(state: StateDict) -> StateDict:
    return _without_fc(state) if "conv1.weight" in state else {}


V1C_LAYOUTS = (KeyLayout("mmseg", _mmseg),
               KeyLayout("torchvision", _torchvision,
                         "a torchvision ResNet has a 7×7 stem (conv1, bn1) where ResNetV1c has "
                         "the deep stem stem.*; relaxed loading keeps the deep stem's "
                         "initialisation"))


def load_v1c_weights(encoder: ResNetV1c, spec: str, strict: bool = True) -> WeightsReport:
    """Load ``model.weights`` (a file, or ``imagenet``: mmseg's ResNetV1c-50 file) into a
    ResNetV1c in the ``mmseg`` or ``torchvision`` layout (see the module docstring).

    Raises:
        WeightsError: as :func:`upbench.models.weights.load_weights`.
    """
    named = [IMAGENET_V1C_50] if tuple(len(s) for s in (encoder.layer1, encoder.layer2,
                                                        encoder.layer3, encoder.layer4)
                                       ) == RESNET50_LAYERS else []
    return load_weights(encoder, spec, layouts=V1C_LAYOUTS, named=named, strict=strict,
                        what="ResNetV1c encoder")


__all__ = ["IMAGENET_V1C_50", "OUTPUT_STRIDES", "V1C_LAYOUTS", "ResNetV1c", "deep_stem",
           "dilation_flags", "load_v1c_weights", "stage_strides"]
