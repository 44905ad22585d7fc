"""SAPA upsamplers: shapes, gradients, native vs reference, errors and the Table 1 MAC counts."""

from __future__ import annotations

import pytest
import torch

from upbench.upsamplers import create_upsampler

NAMES = ["sapa-i", "sapa-b", "sapa-g"]


def _inputs(n=2, c=8, h=5, w=7, s=2, cy=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, h, w, generator=g)
    y = torch.randn(n, cy or c, s * h, s * w, generator=g)
    return x, y


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("s", [2, 3])
def test_forward_shape_and_backward(name, s):
    up = create_upsampler(name, 8, s)
    x, y = _inputs(s=s)
    x.requires_grad_(True)
    y.requires_grad_(True)
    out = up(x, y)
    assert out.shape == (2, 8, 5 * s, 7 * s)
    out.square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert y.grad is not None and y.grad.abs().sum() > 0


@pytest.mark.parametrize("name", NAMES)
def test_native_matches_reference(name):
    torch.manual_seed(0)
    up = create_upsampler(name, 8, 2).double()
    x, y = (t.double() for t in _inputs())
    out_native = up(x, y)
    up.impl = "reference"
    torch.testing.assert_close(out_native, up(x, y))


@pytest.mark.parametrize("name", ["sapa-b", "sapa-g"])
def test_guide_with_other_channels(name):
    up = create_upsampler(name, 8, 2, guide_channels=12)
    x, y = _inputs(cy=12)
    assert up(x, y).shape == (2, 8, 10, 14)


def test_sapa_i_has_no_parameters_and_matches_formula():
    up = create_upsampler("sapa-i", 8, 2, impl="reference")
    assert sum(p.numel() for p in up.parameters()) == 0
    x, y = _inputs(n=1, c=8, h=3, w=3, seed=3)
    out = up(x, y)
    # centre pixel of the high-res map: softmax over the 3x3 window of LN-ed features
    ln = torch.nn.functional.layer_norm
    p = q = 2  # high-res (2, 2) -> low-res (1, 1), full 5x5 window clipped to the 3x3 map
    qy = ln(y[0, :, p, q], (8,))
    keys = ln(x[0].permute(1, 2, 0), (8,))  # (3, 3, 8)
    sims = torch.zeros(5, 5)
    sims[1:4, 1:4] = keys @ qy
    attn = sims.flatten().softmax(0).view(5, 5)[1:4, 1:4]
    want = (x[0] * attn).sum((1, 2))
    torch.testing.assert_close(out[0, :, p, q], want)


def test_sapa_g_gate_closed_uses_decoder_query():
    up = create_upsampler("sapa-g", 8, 2, impl="reference")
    with torch.no_grad():
        up.gate.bias.fill_(-50.0)  # g ≈ 0: q = q_x(nearest x)
    x, y = _inputs()
    q, _ = up.embed(x, y)
    q2, _ = up.embed(x, torch.randn_like(y))
    torch.testing.assert_close(q, q2)


def test_bad_inputs():
    x, y = _inputs()
    with pytest.raises(ValueError, match="guide"):
        create_upsampler("sapa-b", 8, 2)(x, y[:, :, :-1])
    with pytest.raises(ValueError, match="guide"):
        create_upsampler("sapa-b", 8, 2)(x)
    with pytest.raises(ValueError, match="channels"):
        create_upsampler("sapa-i", 8, 2)(x, torch.randn(2, 6, 10, 14))
    with pytest.raises(ValueError, match="guide_channels"):
        create_upsampler("sapa-i", 8, 2, guide_channels=6)
    with pytest.raises(ValueError, match="guide_channels"):
        create_upsampler("sapa-b", 8, 2)(x, torch.randn(2, 6, 10, 14))
    with pytest.raises(ValueError, match="odd"):
        create_upsampler("sapa-b", 8, 2, up_kernel=4)


def test_table1_macs():
    """SAPA Table 1 per low-res location, C = 256, d = 32, K = 5, s = 2; CARAFE 99.6K."""
    c, k, d = 256, 5, 32
    shape = (1, c, 16, 16)
    per_loc = 16 * 16
    b = create_upsampler("sapa-b", c, 2).macs(shape) / per_loc
    assert b == 5 * c * d + 4 * k * k * d + 4 * k * k * c == 69_760  # the paper's "HW·70K"
    i = create_upsampler("sapa-i", c, 2).macs(shape) / per_loc
    assert i == 8 * k * k * c
    g = create_upsampler("sapa-g", c, 2).macs(shape) / per_loc
    assert g == b + c + 8 * d + c * d
    carafe = create_upsampler("carafe", c, 2).macs(shape) / per_loc
    assert carafe == 16_384 + 57_600 + 25_600 == 99_584
