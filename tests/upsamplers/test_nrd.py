"""NRD label-space decoder: parameter count, variants, forward/backward contract."""

from __future__ import annotations

import pytest
import torch

from upbench.upsamplers import create_upsampler


def test_mlp_has_899_parameters_for_the_defaults():
    up = create_upsampler("nrd", 64, 32, num_classes=19)
    assert up.mlp_params == 899 and up.grid == 8
    assert up.controller[-1].out_channels == 899


@pytest.mark.parametrize("variant", ["both", "coords", "guidance"])
def test_variants_forward_backward(variant):
    up = create_upsampler("nrd", 8, 4, num_classes=3, hidden=4, guidance_channels=3, grid=2,
                          variant=variant, guide_channels=5)
    x = torch.randn(2, 8, 3, 2, requires_grad=True)
    guide = torch.randn(2, 5, 6, 4, requires_grad=True)  # stride 2 of the 12x8 output
    out = up(x, guide=guide if variant != "coords" else None)
    assert out.shape == (2, 3, 12, 8)
    out.square().mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    if variant != "coords":
        assert guide.grad is not None and guide.grad.abs().sum() > 0
    want = {"both": 2 + 3, "coords": 2, "guidance": 3}[variant]
    assert up.mlp_params == want * 4 + 4 + 16 + 4 + 4 * 3 + 3


def test_segmentation_defaults_and_small_scale():
    up = create_upsampler("nrd", 64, 32, num_classes=19)
    out = up(torch.randn(1, 64, 2, 2), guide=torch.randn(1, 64, 16, 16))
    assert out.shape == (1, 19, 64, 64)
    small = create_upsampler("nrd", 4, 2, num_classes=3)
    assert small.grid == 2
    out = small(torch.randn(1, 4, 3, 3), guide=torch.randn(1, 4, 6, 6))
    assert out.shape == (1, 3, 6, 6)


def test_missing_guide_is_a_clear_error():
    up = create_upsampler("nrd", 4, 2, num_classes=3)
    with pytest.raises(ValueError, match="guide"):
        up(torch.randn(1, 4, 3, 3))
