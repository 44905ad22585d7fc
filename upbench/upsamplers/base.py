"""The one interface every upsampler implements."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
from torch import nn


class Upsampler(nn.Module):
    """Base class of all upsamplers.

    Class attributes:
        name: the registry name (set by :func:`register_upsampler`).
        guided: True when ``forward`` needs the high-resolution encoder feature ``guide``
            (N, Cg, s·h, s·w); its channel count may differ from x's.
        space: ``"feature"`` for feature upsamplers used inside decoders (output
            (N, out_channels, s·h, s·w)); ``"label"`` for decoders that produce the final
            prediction (output (N, num_classes, s·h, s·w)) and may bring losses and fitting.
        ops: the ``upbench.ops`` operators this upsampler calls (for reports).
        needs_pyramid: a label-space decoder that takes ``pyramid=`` (decoder features from x up
            to the guide's resolution, each 2× the previous).
        guide_stride: the output stride of the guide a label-space decoder wants (None: none).
        default_placement: ``"decoder"`` or ``"final"`` where a host puts it unless the suite
            says otherwise (None: decoder for feature upsamplers, final for label-space ones).
        decode_stride: a label-space decoder's default decoding stride, the output stride of the
            feature x it decodes from (its paper's; a suite entry's ``decode_stride`` overrides).
        fused_input: a label-space decoder that decodes the multi-level fused feature
            ``f(concat(downsample(F_i), F_last))`` at its decoding stride (DUpsampling §3.3)
            rather than the decoder's feature at that stride; the host's ``f`` outputs
            :meth:`fused_channels` channels.

    Instance attributes:
        in_channels, scale, out_channels.
    """

    name: ClassVar[str] = ""
    guided: ClassVar[bool] = False
    space: ClassVar[Literal["feature", "label"]] = "feature"
    ops: ClassVar[tuple[str, ...]] = ()
    needs_pyramid: ClassVar[bool] = False
    guide_stride: ClassVar[int | None] = None
    default_placement: ClassVar[Literal["decoder", "final"] | None] = None
    decode_stride: ClassVar[int] = 32
    fused_input: ClassVar[bool] = False

    @classmethod
    def fused_channels(cls, channels: int, hparams: dict[str, Any]) -> int:
        """Width of the fused feature a host builds for a ``fused_input`` decoder with these
        hyper-parameters, when its own decoder feature has ``channels`` (default: the same)."""
        return channels

    def __init__(self, in_channels: int, scale: int, impl: str = "auto") -> None:
        super().__init__()
        if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
            raise ValueError(f"{type(self).__name__}: scale must be an integer >= 1, got {scale!r}")
        if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1:
            raise ValueError(
                f"{type(self).__name__}: in_channels must be a positive integer, got {in_channels!r}"
            )
        self.in_channels = in_channels
        self.scale = scale
        self.out_channels = in_channels
        # channels of the guide a guided upsampler is built for (a subclass taking
        # ``guide_channels`` sets its own); None: it takes no guide
        self.guide_channels: int | None = in_channels if self.guided else None
        self.impl = impl

    def forward(self, x: torch.Tensor, guide: torch.Tensor | None = None) -> torch.Tensor:
        """Upsample x (N, C, h, w) to (N, out_channels, s·h, s·w)."""
        raise NotImplementedError

    def forward_with_state(self, *args: Any) -> tuple[torch.Tensor, Any]:
        """``forward(*args)`` and the intermediate tensors :meth:`extra_losses` needs (None by
        default). Nothing is kept on the module: a host that wants the losses passes the state
        on, so deepcopy, pickling and tracing of the module never see activations."""
        return self(*args), None

    def extra_losses(self, outputs: torch.Tensor, target: torch.Tensor,
                     state: Any = None) -> dict[str, torch.Tensor]:
        """Auxiliary training losses (none by default) of the prediction ``outputs`` this module
        produced, with the ``state`` that :meth:`forward_with_state` returned with it."""
        return {}

    def fit(self, dataloader) -> None:
        """Fitting step before training (e.g. DUpsampling's PCA); nothing by default."""

    def hosting_notes(self) -> list[str]:
        """What a host should record about how this instance runs where its behaviour depends on
        the slot (e.g. FADE's gate is off when encoder and decoder channels differ)."""
        return []

    def label_oracle(self, labels: torch.Tensor) -> dict[str, float] | None:
        """A label-space decoder's reconstruction ceiling on ground-truth label maps (N, H, W),
        e.g. DUpsampling's paper Table 1 oracle; None where it has none (the default)."""
        return None

    def check_input(self, x: torch.Tensor, guide: torch.Tensor | None) -> None:
        """Shared argument checks: rank, channels, and the guide's size for guided upsamplers."""
        cls = type(self).__name__
        if x.dim() != 4:
            raise ValueError(f"{cls}: x must be 4-D (N, C, h, w), got shape {tuple(x.shape)}")
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"{cls}: x has {x.shape[1]} channels but the upsampler was built for "
                f"in_channels={self.in_channels}"
            )
        if self.guided:
            if guide is None:
                raise ValueError(f"{cls} is guided: pass the high-resolution encoder feature as guide=")
            want = (x.shape[0], x.shape[2] * self.scale, x.shape[3] * self.scale)
            got = (guide.shape[0], guide.shape[2], guide.shape[3]) if guide.dim() == 4 else None
            if got != want:
                raise ValueError(
                    f"{cls}: guide must be (N, C_guide, s·h, s·w) with N, s·h, s·w = {want} for x "
                    f"{tuple(x.shape)} and scale {self.scale}; got {tuple(guide.shape)}"
                )
