"""torchvision's ResNets as the paper baselines' encoders, and their ImageNet weights.

The paper baselines built on a plain ResNet (Faster R-CNN R50-FPN, BTS-R50, A2U-R34) use
torchvision's modules as they are (``torchvision.models.resnet50`` / ``resnet34``), so their
encoders keep torchvision's parameter names and a torchvision checkpoint loads without any
renaming. ``model.weights: imagenet`` names torchvision's ImageNet-1k file (``IMAGENET1K_V1``,
what mmdetection's ``torchvision://resnet50``, BTS's ``pretrained=True`` and the ResNet-34
ImageNet models load); its address and file name come from torchvision's weights API.

An encoder that keeps only part of the network (no ``fc``, no ``layer4``) or widens the stem
(A2U's 4-channel input) says so through :func:`torchvision_layout`: the checkpoint's keys of
the parts it lacks are dropped, and a 3-channel stem convolution is widened with zeros for the
extra input channels (A2U's own loader does the same: RGB filters copied, the trimap channel's
filters zero), so the pretrained network's response to the image is unchanged at the start.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath
from urllib.parse import urlparse

import torch
from torch import nn

from upbench.models.weights import KeyLayout, NamedWeights, StateDict, WeightsReport, load_weights

DEPTHS = (18, 34, 50, 101, 152)


def torchvision_resnet(depth: int) -> nn.Module:
    """``torchvision.models.resnet<depth>()`` with torchvision's own initialisation, no weights.

    Raises:
        ValueError: a depth torchvision does not build.
    """
    import torchvision

    if depth not in DEPTHS:
        raise ValueError(f"torchvision builds ResNet-{'/'.join(map(str, DEPTHS))}, not {depth}")
    return getattr(torchvision.models, f"resnet{depth}")(weights=None)


class ResNetStages(nn.Module):
    """The parts of a torchvision ResNet a baseline keeps, under torchvision's names.

    Args:
        depth: 18, 34, 50, 101 or 152.
        keep: the torchvision children kept, in order (e.g. ``conv1 bn1 relu maxpool layer1 ...
            layer4``; ``fc`` may be kept to be counted without being run, as BTS does).
        outputs: the children whose outputs :meth:`forward` returns (e.g. ``layer1`` ..
            ``layer4`` for C2..C5).
        frozen_stages: as mmdetection's ResNet: -1 nothing frozen, 0 the stem (conv1, bn1),
            i ≥ 1 the stem and layer1..i (their parameters get ``requires_grad=False``).
        norm_eval: every BatchNorm stays in eval mode (running statistics frozen) even while
            the model trains (mmdetection's ``norm_eval=True``).
    """

    def __init__(self, depth: int, keep: Sequence[str], outputs: Sequence[str] = (),
                 frozen_stages: int = -1, norm_eval: bool = False) -> None:
        super().__init__()
        tv = torchvision_resnet(depth)
        children = dict(tv.named_children())
        unknown = [k for k in keep if k not in children]
        if unknown:
            raise ValueError(f"torchvision's ResNet-{depth} has no {unknown}")
        for name in keep:
            self.add_module(name, children[name])
        self.depth = depth
        self.outputs = tuple(outputs)
        self.norm_eval = norm_eval
        frozen = [] if frozen_stages < 0 else (
            ["conv1", "bn1"] + [f"layer{i}" for i in range(1, frozen_stages + 1)])
        for name in frozen:
            if hasattr(self, name):
                for p in getattr(self, name).parameters():
                    p.requires_grad_(False)
        self.train()

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The outputs of the children named in ``outputs``, running the kept children in
        order (``avgpool`` and ``fc`` are never run)."""
        feats = []
        for name, mod in self.named_children():
            if name in ("avgpool", "fc"):
                continue
            x = mod(x)
            if name in self.outputs:
                feats.append(x)
        return feats

    def train(self, mode: bool = True) -> ResNetStages:
        """As ``nn.Module.train``; with ``norm_eval`` the BatchNorms stay in eval mode."""
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        return self


def imagenet_weights(depth: int) -> NamedWeights:
    """The named source ``imagenet``: torchvision's ``ResNet<depth>_Weights.IMAGENET1K_V1``."""
    import torchvision

    entry = getattr(torchvision.models, f"ResNet{depth}_Weights").IMAGENET1K_V1
    filename = PurePosixPath(urlparse(entry.url).path).name
    return NamedWeights("imagenet", filename, entry.url,
                        f"torchvision's ResNet{depth}_Weights.IMAGENET1K_V1, {entry.url}")


def torchvision_layout(drop: Sequence[str] = (), in_channels: int = 3) -> KeyLayout:
    """torchvision's key layout for an encoder that lacks the parts named in ``drop`` (key
    prefixes such as ``fc.`` or ``layer4.``) and whose stem convolution takes ``in_channels``
    (> 3: the checkpoint's RGB filters are kept and the extra channels' filters are zero)."""

    def convert(state: StateDict) -> StateDict:
        out = {k: v for k, v in state.items() if not k.startswith(tuple(drop))}
        w = out.get("conv1.weight")
        if w is not None and w.dim() == 4 and w.shape[1] == 3 and in_channels > 3:
            extra = w.new_zeros(w.shape[0], in_channels - 3, *w.shape[2:])
            out["conv1.weight"] = torch.cat((w, extra), 1)
        return out

    name = "torchvision" + (f" (without {', '.join(p.rstrip('.') for p in drop)})" if drop else "")
    if in_channels > 3:
        name += f" ({in_channels}-channel stem, extra channels zero)"
    return KeyLayout(name, convert)


def load_resnet_weights(encoder: nn.Module, spec: str, depth: int, *, strict: bool = True,
                        drop: Sequence[str] = (), in_channels: int = 3) -> WeightsReport:
    """Load ``spec`` (a file or ``imagenet``) into a torchvision-named ResNet ``encoder``.

    Raises:
        upbench.models.weights.WeightsError: see :func:`~upbench.models.weights.load_weights`.
    """
    return load_weights(encoder, spec, layouts=[torchvision_layout(drop, in_channels)],
                        named=[imagenet_weights(depth)], strict=strict,
                        what=f"ResNet-{depth} encoder")


__all__ = ["ResNetStages", "imagenet_weights", "load_resnet_weights", "torchvision_layout", "torchvision_resnet"]
