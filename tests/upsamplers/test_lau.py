"""LaU upsampler: bilinear at init, gradients, and the location-aware losses of §3.2."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from upbench.ops import offset_bilinear
from upbench.upsamplers import create_upsampler


def _x(n=2, c=5, h=4, w=6, seed=0):
    return torch.randn(n, c, h, w, generator=torch.Generator().manual_seed(seed))


def test_starts_as_corner_aligned_bilinear():
    up = create_upsampler("lau", 5, 4)
    x = _x()
    out = up(x)
    assert out.shape == (2, 5, 16, 24)
    torch.testing.assert_close(out, offset_bilinear(x, torch.zeros(2, 2, 16, 24), 4))
    torch.testing.assert_close(out[..., ::4, ::4], x)  # i/s hits the pixels


@pytest.mark.parametrize("s", [2, 3])
def test_backward_reaches_offset_branch(s):
    up = create_upsampler("lau", 5, s)
    with torch.no_grad():
        up.branch_y[2].weight.normal_(std=0.1)
        up.branch_x[2].weight.normal_(std=0.1)
    x = _x().requires_grad_()
    up(x).square().sum().backward()
    for p in up.parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0
    assert x.grad.abs().sum() > 0


def test_native_matches_reference():
    torch.manual_seed(0)
    up = create_upsampler("lau", 5, 2).double()
    with torch.no_grad():
        up.branch_y[2].weight.normal_(std=0.2)
        up.branch_x[2].weight.normal_(std=0.2)
    x = _x().double()
    a = up(x)
    up.impl = "reference"
    torch.testing.assert_close(a, up(x))


def test_offset_guided_loss_at_init_punishes_every_pixel():
    """With Δ = 0, L_i = L'_i: every valid pixel takes the extra λ (Eq. 3's trivial solution)."""
    up = create_upsampler("lau", 5, 2, lam=0.3)
    x = _x()
    out, state = up.forward_with_state(x)
    target = torch.randint(0, 5, (2, 8, 12), generator=torch.Generator().manual_seed(1))
    target[0, 0, :] = 255
    losses = up.extra_losses(out, target, state)
    want = 0.3 * F.cross_entropy(out, target, ignore_index=255)
    torch.testing.assert_close(losses["lau_offset_guided"], want)


def _random_offsets(up, std=0.3, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for b in (up.branch_y, up.branch_x):
            b[2].weight.copy_(torch.randn(b[2].weight.shape, generator=g) * std)


def test_offset_guided_loss_matches_loop_oracle_and_has_gradient_only_through_L():
    up = create_upsampler("lau", 4, 2, lam=0.3)
    _random_offsets(up)
    x = _x(c=4).requires_grad_()
    out, state = up.forward_with_state(x)
    target = torch.randint(0, 4, (2, 8, 12), generator=torch.Generator().manual_seed(2))
    loss = F.cross_entropy(out, target, reduction="none")
    ref = F.cross_entropy(offset_bilinear(x, torch.zeros(2, 2, 8, 12), 2), target,
                          reduction="none")
    want = (0.3 * loss * (loss >= ref)).mean()
    got = up.extra_losses(out, target, state)["lau_offset_guided"]
    torch.testing.assert_close(got, want)
    # the weight Λ is a constant: d(extra)/d(out) = λ·[L ≥ L']·dL/d(out) / #pixels
    (g_out,) = torch.autograd.grad(got, out, retain_graph=True)
    (g_l,) = torch.autograd.grad((loss * (loss >= ref).float()).sum() * 0.3 / loss.numel(), out)
    torch.testing.assert_close(g_out, g_l)


def test_regression_loss_matches_loop_oracle():
    s, lam, gamma = 2, 0.3, 0.1
    up = create_upsampler("lau", 3, s, loss="regression", lam=lam, gamma=gamma)
    _random_offsets(up, std=0.5, seed=3)
    x = _x(n=1, c=3, h=3, w=3, seed=4)
    out, state = up.forward_with_state(x)
    off = state[1]
    target = torch.randint(0, 3, (1, 6, 6), generator=torch.Generator().manual_seed(5))
    got = up.extra_losses(out, target, state)

    def ce(logits, t):
        return -torch.log_softmax(logits, 0)[t]

    reg, extra = 0.0, 0.0
    for i in range(6):
        for j in range(6):
            t = int(target[0, i, j])
            li = float(ce(out[0, :, i, j].detach(), t))
            pos = (i / s + float(off[0, 0, i, j].detach()), j / s + float(off[0, 1, i, j].detach()))
            cands = [(li, pos)]
            for r in (math.floor(i / s), min(math.ceil(i / s), 2)):
                for c in (math.floor(j / s), min(math.ceil(j / s), 2)):
                    cands.append((float(ce(x[0, :, r, c], t)), (r, c)))
            best = min(range(5), key=lambda k: cands[k][0])
            ty, tx = cands[best][1]
            for a, b in ((pos[0], ty), (pos[1], tx)):
                d = abs(a - b)
                reg += 0.5 * d * d if d < 1 else d - 0.5
            if li > min(c[0] for c in cands[1:]):
                extra += lam * li
    n = 36
    assert got["lau_regression"].item() == pytest.approx(gamma * reg / n, rel=1e-5, abs=1e-7)
    assert got["lau_offset_guided"].item() == pytest.approx(extra / n, rel=1e-5, abs=1e-7)
    sum(got.values()).backward()
    assert up.branch_y[2].weight.grad.abs().sum() > 0


def test_loss_selection_and_errors():
    up = create_upsampler("lau", 5, 2, loss="none")
    out, state = up.forward_with_state(_x())
    assert up.extra_losses(out, torch.zeros(2, 8, 12, dtype=torch.long), state) == {}
    up = create_upsampler("lau", 5, 2)
    with pytest.raises(ValueError, match="forward_with_state"):
        up.extra_losses(torch.zeros(2, 5, 8, 12), torch.zeros(2, 8, 12, dtype=torch.long))
    out, state = up.forward_with_state(_x())
    with pytest.raises(ValueError, match="prediction"):
        up.extra_losses(out[..., :4], torch.zeros(2, 8, 4, dtype=torch.long), state)
    with pytest.raises(ValueError, match="target"):
        up.extra_losses(out, torch.zeros(2, 8, 10, dtype=torch.long), state)
    with pytest.raises(ValueError, match="loss"):
        create_upsampler("lau", 5, 2, loss="bogus")


def test_macs():
    up = create_upsampler("lau", 19, 4)
    per_loc = 2 * (19 * 64 + 9 * 64 * 16) + 4 * 19 * 16
    assert up.macs((1, 19, 8, 8)) == 64 * per_loc
