"""CARAFEPack: mmcv's defaults, init and parameter count."""

from __future__ import annotations

import torch

from upbench.upsamplers import create_upsampler


def test_defaults_and_param_count():
    up = create_upsampler("carafe", 256, 2)
    assert (up.up_kernel, up.up_group) == (5, 1)
    assert up.channel_compressor.out_channels == 64
    assert up.content_encoder.kernel_size == (3, 3)
    # OPERATORS.md: 74,148 parameters for C = 256
    assert sum(p.numel() for p in up.parameters()) == 74148


def test_init_is_close_to_a_box_filter():
    torch.manual_seed(0)
    up = create_upsampler("carafe", 16, 2)
    x = torch.randn(1, 16, 6, 6)
    mask = up.kernel_normalizer(up.content_encoder(up.channel_compressor(x)))
    # every kernel within 10% of the uniform 1/K² box filter
    assert torch.allclose(mask, torch.full_like(mask, 1 / 25), rtol=0.1, atol=0)


def test_native_and_reference_agree():
    torch.manual_seed(0)
    up = create_upsampler("carafe", 16, 2).double()
    x = torch.randn(2, 16, 5, 7, dtype=torch.float64)
    a = up(x)
    up.impl = "reference"
    b = up(x)
    torch.testing.assert_close(a, b)
