"""The paper baseline ``bts-r50``: BTS with a ResNet-50 encoder (cleinc/bts ``pytorch/bts.py``,
``bts_size`` 512), SAPA Table 4's network, with the nearest ×2 of upconv5–2 as slots.

* **Encoder**: torchvision's whole ``resnet50`` (its ``avgpool`` and ``fc`` are kept, counted
  and never run, as BTS keeps ``models.resnet50()``); skips ``relu`` (1/2, 64), ``layer1``
  (1/4, 256), ``layer2`` (1/8, 512), ``layer3`` (1/16, 1024), ``layer4`` (1/32, 2048).
* **Decoder** (BTS's ``bts`` module): ``upconv5`` (×2, 3×3 2048→512, ELU) + BN, concat layer3,
  3×3 1536→512 + ELU; ``upconv4`` (512→256) + BN, concat layer2, 3×3 768→256 + ELU + BN; the dense
  ASPP (dilations 3, 6, 12, 18, 24; each BN-ReLU-1×1-BN-ReLU-3×3 to 128, the first without its
  leading BN) and 3×3 896→128 + ELU; local planar guidance at 8×8; ``upconv3`` (128→128) + BN,
  concat layer1 and the 8×8 depth (downsampled), 3×3 385→128; LPG 4×4; ``upconv2`` (128→64) +
  BN, concat the relu skip and the 4×4 depth, 3×3 129→64; LPG 2×2; ``upconv1`` (64→32, nearest),
  ``reduc1x1``; 3×3 36→32 + ELU; 3×3 32→1, sigmoid × ``max_depth``. The decoder's convolutions
  have no bias and are Xavier-uniform initialised; its BatchNorms use BTS's momentum 0.01 and
  eps 1.1e-5.
* **Slots**: the nearest ×2 inside ``upconv5``, ``4``, ``3``, ``2`` (``decoder.upconv5.up``, …)
  on 2048, 512, 128 and 128 channels; a guided upsampler gets the encoder skip at the target
  resolution (layer3 1024, layer2 512, layer1 256, relu 64 channels). ``upconv1`` stays nearest.

Training follows BTS's default: the encoder's ``conv1`` and the parameters of its ``bn*``
BatchNorms are frozen (BTS's ``fixing_layers = ['base_model.conv1', '.bn']``; the downsample
BatchNorms stay trainable). Loss: BTS's scale-invariant log loss (the task's). ``model.weights``
loads the whole ResNet-50 (torchvision layout, ``fc`` included; ``imagenet`` = torchvision's
``ResNet50_Weights.IMAGENET1K_V1``, what BTS's ``pretrained=True`` loads). BTS's KITTI focal
rescaling does not apply (NYU).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from upbench.models import Unhostable, make_upsampler
from upbench.models.resnet import ResNetStages, load_resnet_weights
from upbench.tasks.base import TaskModel
from upbench.tasks.depth.model import SLOT_SEED_OFFSET, DepthBaseline, silog_loss
from upbench.upsamplers import get_upsampler_class

NAME = "bts-r50"
FEATURES = 512  # BTS's bts_size
SKIPS = (64, 256, 512, 1024, 2048)  # relu, layer1..layer4
BN = {"momentum": 0.01, "eps": 1.1e-5}


def conv_elu(cin: int, cout: int, k: int = 3) -> nn.Sequential:
    """k×k conv (no bias) + ELU."""
    return nn.Sequential(nn.Conv2d(cin, cout, k, 1, k // 2, bias=False), nn.ELU())


class UpConv(nn.Module):
    """BTS's ``upconv``: ×2 (the slot ``up``, or nearest without one), 3×3 conv (no bias), ELU."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
        self.elu = nn.ELU()
        self.up: nn.Module | None = None
        self.adapt: nn.Module = nn.Identity()

    def fill(self, up: nn.Module) -> None:
        """Put the upsampler under test in the slot (a 1×1 conv after it if it changes the
        channel count)."""
        self.up = up
        cin = self.conv.in_channels
        if up.out_channels != cin:
            self.adapt = nn.Conv2d(up.out_channels, cin, 1)

    def forward(self, x: torch.Tensor, guide: torch.Tensor | None = None) -> torch.Tensor:
        if self.up is None:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        else:
            x = self.adapt(self.up(x, guide if self.up.guided else None))
        return self.elu(self.conv(x))


class AtrousConv(nn.Sequential):
    """One dense-ASPP branch: [BN] ReLU 1×1 (→2·cout) BN ReLU 3×3 dilated (→cout)."""

    def __init__(self, cin: int, cout: int, dilation: int, bn_first: bool = True) -> None:
        layers: list[nn.Module] = [nn.BatchNorm2d(cin, **BN)] if bn_first else []
        layers += [nn.ReLU(), nn.Conv2d(cin, 2 * cout, 1, bias=False),
                   nn.BatchNorm2d(2 * cout, momentum=0.01), nn.ReLU(),
                   nn.Conv2d(2 * cout, cout, 3, 1, dilation, dilation, bias=False)]
        super().__init__(*layers)


class Reduction(nn.Module):
    """BTS's ``reduction_1x1``: 1×1 convs + ELU halving the channels down to 8, then 3 plane
    parameters (θ, φ, distance → a unit normal and a distance, 4 channels) or, ``final``, one
    sigmoid channel."""

    def __init__(self, cin: int, cout: int, max_depth: float, final: bool = False) -> None:
        super().__init__()
        self.max_depth, self.final = max_depth, final
        layers: list[nn.Module] = []
        while cout >= 4:
            if cout < 8:
                layers += ([nn.Conv2d(cin, 1, 1, bias=False), nn.Sigmoid()] if final
                           else [nn.Conv2d(cin, 3, 1, bias=False)])
                break
            layers += [nn.Conv2d(cin, cout, 1, bias=False), nn.ELU()]
            cin, cout = cout, cout // 2
        self.reduc = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.reduc(x)
        if self.final:
            return x
        theta = torch.sigmoid(x[:, 0]) * torch.pi / 3
        phi = torch.sigmoid(x[:, 1]) * torch.pi * 2
        dist = torch.sigmoid(x[:, 2]) * self.max_depth
        return torch.stack((torch.sin(theta) * torch.cos(phi), torch.sin(theta) * torch.sin(phi),
                            torch.cos(theta), dist), 1)


class LocalPlanarGuidance(nn.Module):
    """BTS's LPG: each low-resolution plane (unit normal n, distance d) gives the depth
    d / (n1·u + n2·v + n3) on its ``ratio``×``ratio`` block, (u, v) the pixel's normalised
    offset from the block's centre."""

    def __init__(self, ratio: int) -> None:
        super().__init__()
        self.ratio = ratio
        offsets = (torch.arange(ratio, dtype=torch.float32) - (ratio - 1) * 0.5) / ratio
        self.register_buffer("offsets", offsets, persistent=False)

    def forward(self, plane: torch.Tensor) -> torch.Tensor:
        """Depth (N, 1, r·h, r·w) of planes (N, 4, h, w)."""
        r = self.ratio
        p = plane.repeat_interleave(r, 2).repeat_interleave(r, 3)
        u = self.offsets.repeat(plane.shape[3]).view(1, 1, -1)
        v = self.offsets.repeat(plane.shape[2]).view(1, -1, 1)
        return (p[:, 3] / (p[:, 0] * u + p[:, 1] * v + p[:, 2])).unsqueeze(1)


def plane_equation(reduc: torch.Tensor) -> torch.Tensor:
    """The reduction's 4 channels with the normal re-normalised (BTS does both)."""
    return torch.cat((F.normalize(reduc[:, :3], 2, 1), reduc[:, 3:4]), 1)


class BTSDecoder(nn.Module):
    """BTS's decoder (``bts``) for the skips ``SKIPS`` (see the module docstring)."""

    def __init__(self, max_depth: float, f: int = FEATURES) -> None:
        super().__init__()
        s = SKIPS
        self.max_depth = max_depth
        self.upconv5, self.bn5 = UpConv(s[4], f), nn.BatchNorm2d(f, **BN)
        self.conv5 = conv_elu(f + s[3], f)
        self.upconv4, self.bn4 = UpConv(f, f // 2), nn.BatchNorm2d(f // 2, **BN)
        self.conv4, self.bn4_2 = conv_elu(f // 2 + s[2], f // 2), nn.BatchNorm2d(f // 2, **BN)
        self.daspp_3 = AtrousConv(f // 2, f // 4, 3, bn_first=False)
        self.daspp_6 = AtrousConv(f // 2 + f // 4 + s[2], f // 4, 6)
        self.daspp_12 = AtrousConv(f + s[2], f // 4, 12)
        self.daspp_18 = AtrousConv(f + f // 4 + s[2], f // 4, 18)
        self.daspp_24 = AtrousConv(f + f // 2 + s[2], f // 4, 24)
        self.daspp_conv = conv_elu(f + f // 2 + f // 4, f // 4)
        self.reduc8x8 = Reduction(f // 4, f // 4, max_depth)
        self.lpg8x8 = LocalPlanarGuidance(8)
        self.upconv3, self.bn3 = UpConv(f // 4, f // 4), nn.BatchNorm2d(f // 4, **BN)
        self.conv3 = conv_elu(f // 4 + s[1] + 1, f // 4)
        self.reduc4x4 = Reduction(f // 4, f // 8, max_depth)
        self.lpg4x4 = LocalPlanarGuidance(4)
        self.upconv2, self.bn2 = UpConv(f // 4, f // 8), nn.BatchNorm2d(f // 8, **BN)
        self.conv2 = conv_elu(f // 8 + s[0] + 1, f // 8)
        self.reduc2x2 = Reduction(f // 8, f // 16, max_depth)
        self.lpg2x2 = LocalPlanarGuidance(2)
        self.upconv1 = UpConv(f // 8, f // 16)
        self.reduc1x1 = Reduction(f // 16, f // 32, max_depth, final=True)
        self.conv1 = conv_elu(f // 16 + 4, f // 16)
        self.get_depth = nn.Sequential(nn.Conv2d(f // 16, 1, 3, 1, 1, bias=False), nn.Sigmoid())
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight)

    @property
    def slot_convs(self) -> list[UpConv]:
        """The upconvs whose ×2 are slots, deepest first (upconv1 stays nearest)."""
        return [self.upconv5, self.upconv4, self.upconv3, self.upconv2]

    def forward(self, skips: list[torch.Tensor]) -> torch.Tensor:
        """Depth (N, 1, H, W) from the encoder's [relu, layer1, layer2, layer3, layer4]."""
        skip0, skip1, skip2, skip3, dense = skips
        iconv5 = self.conv5(torch.cat((self.bn5(self.upconv5(dense, skip3)), skip3), 1))
        concat4 = torch.cat((self.bn4(self.upconv4(iconv5, skip2)), skip2), 1)
        iconv4 = self.bn4_2(self.conv4(concat4))
        daspp_3 = self.daspp_3(iconv4)
        concat4_2 = torch.cat((concat4, daspp_3), 1)
        daspp_6 = self.daspp_6(concat4_2)
        concat4_3 = torch.cat((concat4_2, daspp_6), 1)
        daspp_12 = self.daspp_12(concat4_3)
        concat4_4 = torch.cat((concat4_3, daspp_12), 1)
        daspp_18 = self.daspp_18(concat4_4)
        daspp_24 = self.daspp_24(torch.cat((concat4_4, daspp_18), 1))
        daspp_feat = self.daspp_conv(torch.cat((iconv4, daspp_3, daspp_6, daspp_12, daspp_18,
                                                daspp_24), 1))
        depth_8x8 = self.lpg8x8(plane_equation(self.reduc8x8(daspp_feat))) / self.max_depth
        depth_8x8_ds = F.interpolate(depth_8x8, scale_factor=0.25, mode="nearest")
        upconv3 = self.bn3(self.upconv3(daspp_feat, skip1))
        iconv3 = self.conv3(torch.cat((upconv3, skip1, depth_8x8_ds), 1))
        depth_4x4 = self.lpg4x4(plane_equation(self.reduc4x4(iconv3))) / self.max_depth
        depth_4x4_ds = F.interpolate(depth_4x4, scale_factor=0.5, mode="nearest")
        upconv2 = self.bn2(self.upconv2(iconv3, skip0))
        iconv2 = self.conv2(torch.cat((upconv2, skip0, depth_4x4_ds), 1))
        depth_2x2 = self.lpg2x2(plane_equation(self.reduc2x2(iconv2))) / self.max_depth
        upconv1 = self.upconv1(iconv2)
        reduc1x1 = self.reduc1x1(upconv1)
        iconv1 = self.conv1(torch.cat((upconv1, reduc1x1, depth_2x2, depth_4x4, depth_8x8), 1))
        return self.max_depth * self.get_depth(iconv1)


class BTSR50(TaskModel):
    """BTS with the ResNet-50 encoder and four ×2 slots (see the module docstring).

    Args:
        upsampler, hparams: the upsampler under test (one instance per slot).
        max_depth: the output range (metres); min_depth: the loss's validity threshold.
        weights, weights_strict: ``model.weights`` for the encoder (None: none).
        impl: ``auto`` | ``native`` | ``reference``; seed: initialisation seed.
        placement: only the decoder's ×2 host an upsampler.

    Raises:
        Unhostable: a label-space decoder, a final placement, or an upsampler that cannot be built
            for a slot (e.g. SAPA-I: the skip's channels differ from the decoder's).
        upbench.models.weights.WeightsError: the weights cannot be loaded.
    """

    def __init__(self, upsampler: str = "nearest", hparams: dict[str, Any] | None = None,
                 max_depth: float = 10.0, min_depth: float = 1e-3, weights: str | None = None,
                 weights_strict: bool = True, impl: str = "auto", seed: int | None = None,
                 placement: str | None = None) -> None:
        super().__init__()
        if get_upsampler_class(upsampler).space == "label":
            raise Unhostable(f"{upsampler} is a label-space decoder (it predicts class labels); "
                             "depth regresses a continuous map")
        if placement == "final":
            raise Unhostable("BTS hosts upsamplers in upconv5-2 only; upconv1 stays nearest")
        self.placement = "decoder"
        self.max_depth, self.min_depth = float(max_depth), float(min_depth)
        if seed is not None:
            torch.manual_seed(seed)
        self.encoder = ResNetStages(50, ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2",
                                         "layer3", "layer4", "avgpool", "fc"),
                                    outputs=("relu", "layer1", "layer2", "layer3", "layer4"))
        for name, p in self.encoder.named_parameters():
            if name.startswith("conv1.") or ".bn" in f".{name}":
                p.requires_grad_(False)
        self.decoder = BTSDecoder(self.max_depth)
        if seed is not None:
            torch.manual_seed(seed + SLOT_SEED_OFFSET)
        guides = (SKIPS[3], SKIPS[2], SKIPS[1], SKIPS[0])
        for conv, g in zip(self.decoder.slot_convs, guides, strict=True):
            conv.fill(make_upsampler(upsampler, conv.conv.in_channels, 2, dict(hparams or {}),
                                     impl, guide_channels=g))
        self.slots = [f"decoder.upconv{i}.up" for i in (5, 4, 3, 2)]
        if weights:
            self.weights_report = load_resnet_weights(self.encoder, weights, 50,
                                                      strict=weights_strict)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Depth (N, 1, H, W) in metres for images (N, 3, H, W), H and W multiples of 32."""
        if image.dim() != 4 or image.shape[2] % 32 or image.shape[3] % 32:
            raise ValueError(f"BTS: input must be (N, 3, H, W) with H, W multiples of 32, got "
                             f"{tuple(image.shape)}")
        return self.decoder(self.encoder(image))

    def loss(self, outputs: torch.Tensor, targets: dict[str, torch.Tensor]
             ) -> dict[str, torch.Tensor]:
        """BTS's scale-invariant log loss (variance focus 0.85, ×10) on valid pixels."""
        return {"silog": silog_loss(outputs, targets["depth"], self.min_depth, self.max_depth)}

    def predict(self, outputs: torch.Tensor) -> torch.Tensor:
        """The depth map itself."""
        return outputs

    diagnostics = DepthBaseline.diagnostics  # the constant predictor's scores, as the tiny one


__all__ = ["BTSR50", "NAME", "BTSDecoder", "LocalPlanarGuidance"]
