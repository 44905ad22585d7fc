"""The interface of label-space decoders, beside the feature upsampler's (:class:`Upsampler`).

A label-space decoder replaces a host's classifier and final upsampling: it decodes the class
scores at the output resolution from a low-resolution decoder feature. What it needs from its
host is declared here, once, on the class; the hosts (``upbench/tasks/segmentation/``) read these
attributes, and the engine only passes the suite entry's host settings through
(:meth:`LabelDecoder.host_settings`), never reading one itself. Adding a label-space decoder is a
subclass in its own file, registered with :func:`~upbench.upsamplers.register_upsampler`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch

from upbench.upsamplers.base import Upsampler


class LabelDecoder(Upsampler):
    """Base class of label-space decoders: ``forward(x, guide, pyramid)`` → logits
    (N, num_classes, s·h, s·w) with s the decoding stride.

    Class attributes (what the host provides):
        decode_stride: the default decoding stride, the output stride of the feature x it decodes
            from (its paper's); a suite entry's ``decode_stride`` overrides it.
        decode_strides: the strides a suite entry may choose.
        guide_stride: the output stride of the encoder feature it wants as ``guide`` (None: no
            guide).
        needs_pyramid: it takes ``pyramid=``: the decoder features from x up to the guide's
            resolution, each twice the previous.
        fused_input: it decodes the multi-level fused feature
            ``f(concat(downsample(F_i), F_last))`` at its decoding stride (DUpsampling §3.3)
            rather than the decoder's feature at that stride; the host's ``f`` outputs
            :meth:`fused_channels` channels.
    """

    space: ClassVar[Literal["feature", "label"]] = "label"
    default_placement: ClassVar[Literal["decoder", "final"] | None] = "final"
    decode_stride: ClassVar[int] = 32
    decode_strides: ClassVar[tuple[int, ...]] = (16, 32)
    guide_stride: ClassVar[int | None] = None
    needs_pyramid: ClassVar[bool] = False
    fused_input: ClassVar[bool] = False

    #: the decoding stride every label-space cell had before it became a setting: a cell config
    #: records ``decode_stride`` only when it differs, so those cells keep their hashes
    _UNRECORDED_STRIDE: ClassVar[int] = 32

    def __init__(self, in_channels: int, scale: int, num_classes: int, impl: str = "auto") -> None:
        """``num_classes`` is the decoder's output width (it decodes class scores)."""
        super().__init__(in_channels, scale, impl)
        self.num_classes = num_classes
        self.out_channels = num_classes

    @classmethod
    def fused_channels(cls, channels: int, hparams: dict[str, Any]) -> int:
        """Width of the fused feature a host builds for a ``fused_input`` decoder with these
        hyper-parameters, when its own decoder feature has ``channels`` (default: the same)."""
        return channels

    def forward(self, x: torch.Tensor, guide: torch.Tensor | None = None,  # type: ignore[override]
                pyramid: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Logits (N, num_classes, s·h, s·w) decoded from x (N, C, h, w)."""
        raise NotImplementedError

    # -- host settings (a suite entry's keys besides the hyper-parameters) ----------------------
    @classmethod
    def host_settings(cls) -> dict[str, str]:
        return {"decode_stride": "|".join(map(str, cls.decode_strides))}

    @classmethod
    def check_host_setting(cls, key: str, value: Any) -> str | None:
        if key == "decode_stride" and value not in cls.decode_strides:
            return f"must be one of {', '.join(map(str, cls.decode_strides))}, got {value!r}"
        return None

    @classmethod
    def cell_host(cls, settings: dict[str, Any]) -> dict[str, Any]:
        stride = settings.get("decode_stride") or cls.decode_stride
        return {} if stride == cls._UNRECORDED_STRIDE else {"decode_stride": stride}

    # -- standalone (an upsampler counted or timed alone) ----------------------------------------
    def example_inputs(self, channels: int, h: int, w: int) -> tuple[torch.Tensor, ...]:
        """x (1, C, h, w), a guide at ``guide_stride`` (4 if undeclared) of the output and, if
        ``needs_pyramid``, the 2× pyramid from x up to the guide's size."""
        s = self.scale
        x = torch.randn(1, channels, h, w)
        stride = self.guide_stride or 4
        gh, gw = max(h, h * s // stride), max(w, w * s // stride)
        guide = torch.randn(1, channels, gh, gw)
        if not self.needs_pyramid:
            return x, guide
        pyramid = [x]
        while pyramid[-1].shape[-1] * 2 <= gw and pyramid[-1].shape[-2] * 2 <= gh:
            t = pyramid[-1]
            pyramid.append(torch.randn(1, channels, t.shape[2] * 2, t.shape[3] * 2))
        return (x, guide, *pyramid)

    def forward_flat(self, *inputs: torch.Tensor) -> torch.Tensor:
        """``forward(x, guide, pyramid)`` from the flat ``(x, guide, *pyramid)``."""
        guide = inputs[1] if len(inputs) > 1 else None
        return self(inputs[0], guide, list(inputs[2:]) or None)
