"""Upsamplers behind one interface (see :class:`Upsampler` and :func:`create_upsampler`).

Importing this package registers every built-in upsampler.
"""

from upbench.upsamplers import (  # noqa: F401  (registration side effects)
    carafe,
    dupsampling,
    dysample,
    fade,
    lau,
    nrd,
    pyramid_fuse,
    sapa,
    simple,
)
from upbench.upsamplers._registry import (
    create_upsampler,
    get_upsampler_class,
    list_upsamplers,
    register_upsampler,
    upsampler_hparams,
)
from upbench.upsamplers.base import Upsampler
from upbench.upsamplers.label_decoder import LabelDecoder

__all__ = [
    "LabelDecoder",
    "Upsampler",
    "create_upsampler",
    "get_upsampler_class",
    "list_upsamplers",
    "register_upsampler",
    "upsampler_hparams",
]
