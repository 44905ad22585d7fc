"""DySample against the official grid_sample formulation (tiny-smart/dysample), every style."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from upbench.upsamplers import create_upsampler


def official_dysample(up, x):
    """The official sample(): offsets + initial positions, normalised, pixel-shuffled, sampled by
    grid_sample (bilinear, border padding, align_corners=False) per group."""
    s, g = up.scale, up.groups
    src = F.pixel_shuffle(x, s) if up.style == "pl" else x
    off = up.offset(src) * (up.scope(src).sigmoid() * 0.5 if up.dyscope else 0.25)
    if up.style == "pl":
        off = F.pixel_unshuffle(off, s)
    h = torch.arange((-s + 1) / 2, (s - 1) / 2 + 1) / s
    init = torch.stack(torch.meshgrid([h, h], indexing="ij")).transpose(1, 2)
    off = off + init.repeat(1, g, 1).reshape(1, -1, 1, 1).to(x)
    b, _, hh, ww = off.shape
    off = off.view(b, 2, -1, hh, ww)
    ch, cw = torch.arange(hh) + 0.5, torch.arange(ww) + 0.5
    coords = torch.stack(torch.meshgrid([cw, ch], indexing="ij")).transpose(1, 2)
    coords = coords.unsqueeze(1).unsqueeze(0).to(x)
    norm = torch.tensor([ww, hh]).view(1, 2, 1, 1, 1).to(x)
    coords = 2 * (coords + off) / norm - 1
    coords = F.pixel_shuffle(coords.view(b, -1, hh, ww), s).view(b, 2, -1, s * hh, s * ww)
    coords = coords.permute(0, 2, 3, 4, 1).contiguous().flatten(0, 1)
    out = F.grid_sample(x.reshape(b * g, -1, hh, ww), coords, mode="bilinear",
                        align_corners=False, padding_mode="border")
    return out.view(b, -1, s * hh, s * ww)


@pytest.mark.parametrize(("style", "dyscope", "scale"),
                         [("lp", False, 2), ("pl", False, 2), ("lp", True, 2), ("pl", True, 2),
                          ("lp", False, 3)])
def test_matches_the_official_formulation(native, style, dyscope, scale):
    torch.manual_seed(0)
    up = create_upsampler("dysample", 36, scale, style=style, dyscope=dyscope,
                          impl="native").double()
    with torch.no_grad():  # large offsets: clamping at the border is exercised too
        up.offset.weight.normal_(0, 0.5)
        if dyscope:
            up.scope.weight.normal_(0, 0.5)
    x = torch.randn(2, 36, 5, 7, dtype=torch.float64, requires_grad=True)
    got, ref = up(x), official_dysample(up, x)
    torch.testing.assert_close(got, ref)
    go = torch.randn_like(got)
    params = [x, *up.parameters()]
    # the official path normalises positions to [-1, 1] and back: a position that is an integer
    # in exact arithmetic may round to either side of a bilinear kink there, so the gradients
    # agree to rounding, not to the last bit
    for a, b in zip(torch.autograd.grad(got, params, go), torch.autograd.grad(ref, params, go),
                    strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def test_starts_as_half_pixel_bilinear_and_validates():
    up = create_upsampler("dysample", 8, 2)
    with torch.no_grad():
        up.offset.weight.zero_()
    x = torch.randn(1, 8, 4, 6)
    torch.testing.assert_close(up(x), F.interpolate(x, scale_factor=2, mode="bilinear",
                                                    align_corners=False))
    with pytest.raises(ValueError, match="multiple of groups"):
        create_upsampler("dysample", 6, 2)
    with pytest.raises(ValueError, match="style"):
        create_upsampler("dysample", 8, 2, style="pp")
    with pytest.raises(TypeError, match="did you mean 'groups'"):
        create_upsampler("dysample", 8, 2, group=4)
