"""Building the upsampler that fills a baseline's slot, and the n/a signal when it cannot."""

from __future__ import annotations

from typing import Any

from upbench.upsamplers import create_upsampler, upsampler_hparams
from upbench.upsamplers.base import Upsampler


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
