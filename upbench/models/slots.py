"""Building the upsampler that fills a baseline's slot, and the n/a signal when it cannot."""

from __future__ import annotations

from typing import Any

from upbench.upsamplers import (
    LabelDecoder,
    create_upsampler,
    get_upsampler_class,
    upsampler_hparams,
)
from upbench.upsamplers.base import Upsampler

#: a baseline builds its shared layers from ``seed`` and its upsampler slots from
#: ``seed + SLOT_SEED_OFFSET``: every upsampler of a suite starts from the same shared weights,
#: whatever the slots consume of the random stream
SLOT_SEED_OFFSET = 1_000_003


class Unhostable(Exception):
    """The baseline cannot host this upsampler (the cell is recorded as ``n/a`` with the
    reason)."""


def make_upsampler(name: str, in_channels: int, scale: int, hparams: dict[str, Any], impl: str,
                   num_classes: int | None = None, guide_channels: int | None = None) -> Upsampler:
    """Build ``name`` for a slot: ``impl`` and ``guide_channels`` are passed where the upsampler
    accepts them, ``num_classes`` only to label-space decoders (others raise :class:`Unhostable`).

    Raises:
        Unhostable: the upsampler cannot be built with these channels / scale (with the reason).
    """
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


def decoder_slots_only(upsampler: str, placement: str | None, predicts: str,
                       final: str) -> type[Upsampler]:
    """The class of ``upsampler`` for a baseline that hosts feature upsamplers in its decoder
    stages only (depth, matting, detection).

    Args:
        upsampler: registry name.
        placement: the suite entry's placement.
        predicts: why a label-space decoder has no place here (what the task predicts).
        final: why the final placement has no slot here.

    Raises:
        Unhostable: a label-space decoder, or ``placement == "final"``.
    """
    cls = get_upsampler_class(upsampler)
    if issubclass(cls, LabelDecoder):
        raise Unhostable(f"{upsampler} is a label-space decoder (it predicts class labels); "
                         f"{predicts}")
    if placement == "final":
        raise Unhostable(final)
    return cls
