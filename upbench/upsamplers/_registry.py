"""The upsampler registry: a dict plus a decorator.

Every upsampler is an ``nn.Module`` subclass of :class:`Upsampler` registered under a name::

    @register_upsampler("carafe")
    class CARAFEPack(Upsampler):
        ...

``create_upsampler(name, in_channels, scale, **hparams)`` builds one; unknown names raise an error
that suggests the closest registered name; unknown hyper-parameters name the accepted ones.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from upbench.upsamplers.base import Upsampler
from upbench.utils.suggest import unknown_name_message

_REGISTRY: dict[str, type[Upsampler]] = {}


def register_upsampler(name: str) -> Callable[[type[Upsampler]], type[Upsampler]]:
    """Class decorator adding an :class:`Upsampler` subclass to the registry under ``name``."""

    def deco(cls: type[Upsampler]) -> type[Upsampler]:
        if name in _REGISTRY:
            raise ValueError(f"upsampler {name!r} is registered twice ({_REGISTRY[name].__name__})")
        if not issubclass(cls, Upsampler):
            raise TypeError(f"{cls.__name__} must subclass upbench.upsamplers.Upsampler")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def list_upsamplers() -> list[str]:
    """Names of all registered upsamplers, sorted."""
    return sorted(_REGISTRY)


def get_upsampler_class(name: str) -> type[Upsampler]:
    """The class registered under ``name``; an unknown name suggests the closest one."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(unknown_name_message("upsampler", name, _REGISTRY)) from None


def upsampler_hparams(name: str) -> dict[str, object]:
    """The hyper-parameters an upsampler accepts, with their defaults."""
    sig = inspect.signature(get_upsampler_class(name).__init__)
    skip = {"self", "in_channels", "scale"}
    return {
        p.name: (None if p.default is inspect.Parameter.empty else p.default)
        for p in sig.parameters.values()
        if p.name not in skip and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def create_upsampler(name: str, in_channels: int, scale: int, **hparams: object) -> Upsampler:
    """Build the upsampler ``name`` for ``in_channels`` channels and integer ``scale``.

    Args:
        name: a registered name (see :func:`list_upsamplers`).
        in_channels: channels of the low-resolution input x.
        scale: integer upsampling factor.
        **hparams: the upsampler's own hyper-parameters (e.g. ``up_kernel=3`` for CARAFE).

    Raises:
        KeyError: unknown name (with the closest registered name).
        TypeError: an unknown hyper-parameter (with the accepted ones).
    """
    cls = get_upsampler_class(name)
    accepted = upsampler_hparams(name)
    unknown = sorted(set(hparams) - set(accepted))
    if unknown:
        from upbench.utils.suggest import closest

        hints = []
        for u in unknown:
            best = closest(u, accepted)
            hints.append(f"{u!r}" + (f" (did you mean {best!r}?)" if best else ""))
        raise TypeError(
            f"upsampler {name!r} got unknown hyper-parameter(s) {', '.join(hints)}; it accepts: "
            f"{', '.join(f'{k}={v!r}' for k, v in accepted.items()) or 'none'}"
        )
    return cls(in_channels, scale, **hparams)
