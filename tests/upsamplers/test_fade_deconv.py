"""FADE (poppinace/fade semantics) and the transposed-convolution baseline."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from upbench.ops.carafe import carafe_reference
from upbench.upsamplers import create_upsampler


def test_fade_is_gate_mix_of_encoder_and_carafe_with_kernels_from_both_sides(native):
    torch.manual_seed(0)
    up = create_upsampler("fade", 8, 2, impl="native").double()
    x = torch.randn(2, 8, 5, 6, dtype=torch.float64)
    y = torch.randn(2, 8, 10, 12, dtype=torch.float64)
    ce = up.content_encoder
    k = ce(up.compressor_en(y)) + F.interpolate(ce(up.compressor_de(x)), scale_factor=2,
                                                mode="nearest")
    reassembled = carafe_reference(x, F.softmax(k, 1), 5, 1, 2)
    gate = F.interpolate(torch.sigmoid(up.gate(x)), scale_factor=2, mode="nearest")
    torch.testing.assert_close(up(x, y), gate * y + (1 - gate) * reassembled)
    assert up.hosting_notes() == []


def test_fade_gate_is_off_without_equal_channels_and_says_so():
    up = create_upsampler("fade", 8, 2, guide_channels=4)
    assert up.gate is None and "gate off" in up.hosting_notes()[0]
    out = up(torch.randn(1, 8, 3, 3), torch.randn(1, 4, 6, 6))
    assert out.shape == (1, 8, 6, 6)
    with pytest.raises(ValueError, match="up_kernel"):
        create_upsampler("fade", 8, 2, up_kernel=4)
    with pytest.raises(ValueError, match="guide_channels"):
        up(torch.randn(1, 8, 3, 3), torch.randn(1, 8, 6, 6))


@pytest.mark.parametrize("scale", [2, 4])
def test_deconv_is_an_exact_upsampling_transposed_conv(scale):
    up = create_upsampler("deconv", 6, scale)
    conv = up.deconv
    assert (conv.kernel_size, conv.stride, conv.padding) == ((3, 3), (scale,) * 2, (1, 1))
    assert conv.output_padding == (scale - 1,) * 2
    x = torch.randn(2, 6, 5, 7)
    torch.testing.assert_close(up(x), F.conv_transpose2d(x, conv.weight, conv.bias, scale, 1,
                                                         scale - 1))
    assert up(x).shape == (2, 6, 5 * scale, 7 * scale)
    with pytest.raises(ValueError, match="kernel_size"):
        create_upsampler("deconv", 6, 2, kernel_size=2)
