"""Registry-driven tests: every registered upsampler builds, runs forward and backward, and keeps
the output shape (N, out_channels, s·h, s·w) — label-space decoders give (N, classes, s·h, s·w)."""

from __future__ import annotations

import pytest
import torch

from upbench.upsamplers import (
    LabelDecoder,
    Upsampler,
    create_upsampler,
    get_upsampler_class,
    list_upsamplers,
    register_upsampler,
)

NAMES = list_upsamplers()
NUM_CLASSES = 5


def _build(name: str, channels: int, scale: int) -> Upsampler:
    cls = get_upsampler_class(name)
    kwargs = {"num_classes": NUM_CLASSES} if cls.space == "label" else {}
    return create_upsampler(name, channels, scale, **kwargs)


def _inputs(up: Upsampler, n=2, h=5, w=7):
    gen = torch.Generator().manual_seed(0)
    c, s = up.in_channels, up.scale
    x = torch.randn(n, c, h, w, generator=gen, requires_grad=True)
    kwargs = {}
    if up.guided or up.space == "label":
        kwargs["guide"] = torch.randn(n, c, h * s, w * s, generator=gen, requires_grad=True)
    if getattr(up, "needs_pyramid", False):
        levels = []
        for lvl in range(4):
            f = 2**lvl
            levels.append(torch.randn(n, c, h * f, w * f, generator=gen, requires_grad=True))
        kwargs["pyramid"] = levels
        kwargs["guide"] = levels[-1]
    return x, kwargs


def test_the_foundation_upsamplers_are_registered():
    assert {"bilinear", "nearest", "pixelshuffle", "carafe"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_declares_interface(name):
    cls = get_upsampler_class(name)
    assert cls.name == name
    assert cls.space in ("feature", "label")
    # a label-space decoder declares what it needs from its host on the LabelDecoder interface
    assert (cls.space == "label") == issubclass(cls, LabelDecoder)
    assert isinstance(cls.guided, bool)
    assert cls.__doc__, f"{name} needs a docstring"


@pytest.mark.parametrize("name", NAMES)
def test_forward_backward_shape(name):
    cls = get_upsampler_class(name)
    if getattr(cls, "needs_pyramid", False):
        up = _build(name, 8, 8)
    else:
        up = _build(name, 8, 2)
    x, kwargs = _inputs(up)
    out = up(x, **kwargs)
    s = up.scale
    want_c = NUM_CLASSES if up.space == "label" else up.out_channels
    assert out.shape == (2, want_c, 5 * s, 7 * s)
    assert torch.isfinite(out).all()
    out.square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    params = [p for p in up.parameters() if p.requires_grad]
    if params:
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in params), name


def test_unknown_name_suggests_the_closest():
    with pytest.raises(KeyError, match="did you mean 'carafe'"):
        create_upsampler("carafee", 8, 2)


def test_unknown_hparam_names_the_accepted_ones():
    with pytest.raises(TypeError, match="did you mean 'up_kernel'"):
        create_upsampler("carafe", 8, 2, upkernel=3)


def test_duplicate_registration_is_an_error():
    with pytest.raises(ValueError, match="registered twice"):
        register_upsampler("bilinear")(type("Dup", (Upsampler,), {}))


def test_bad_scale_and_channels():
    with pytest.raises(ValueError, match="scale"):
        create_upsampler("bilinear", 8, 0)
    up = create_upsampler("bilinear", 8, 2)
    with pytest.raises(ValueError, match="in_channels=8"):
        up(torch.randn(1, 4, 3, 3))
