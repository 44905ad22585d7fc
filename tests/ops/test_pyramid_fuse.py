"""upbench.ops.pyramid_fuse: native vs reference, gradient routing, hand-made pyramids."""

from __future__ import annotations

import pytest
import torch

from upbench import ops
from upbench.ops.pyramid_fuse import pyramid_fuse_aten, pyramid_fuse_reference, random_pyramid


def test_aten_peer_agrees():
    g = torch.Generator().manual_seed(0)
    sem, uni = random_pyramid(2, 3, 2, 3, 4, torch.float64, "cpu", g)
    for a, b in zip(pyramid_fuse_aten(sem, uni, 0.6), pyramid_fuse_reference(sem, uni, 0.6),
                    strict=True):
        torch.testing.assert_close(a, b)


def _hand_pyramid():
    """L = 4, coarsest 2×2 (finest 16×16), K = 2; semantic level ℓ holds the constant ℓ + 1 in
    class 0 and -(ℓ + 1) in class 1, so the fused value tells the chosen level."""
    sem = [torch.full((1, 2, 2 << i, 2 << i), float(i + 1), dtype=torch.float64) for i in range(4)]
    for i in range(4):
        sem[i][:, 1] = -(i + 1)
    uni = [torch.zeros(1, 1, 2 << i, 2 << i, dtype=torch.float64) for i in range(3)]
    return sem, uni


@pytest.mark.parametrize("impl", ["native", "reference"])
def test_unity_cell_at_level_1_claims_its_64_finest_pixels(impl):
    sem, uni = _hand_pyramid()
    uni[0][0, 0, 1, 0] = 0.95  # coarsest cell (1, 0) is a unity-cell
    uni[1][0, 0, 2, 1] = 0.99  # inside it: its finer claim must lose to the coarser one
    uni[1][0, 0, 0, 3] = 0.90  # exactly tau counts (>=): level 1 cell (0, 3)
    uni[2][0, 0, 0, 0] = 0.89  # below tau: stays with the finest level
    out, level = ops.pyramid_fuse(sem, uni, 0.9, impl=impl)
    want = torch.full((1, 16, 16), 3, dtype=torch.long)
    want[0, 8:16, 0:8] = 0  # 64 finest pixels below coarsest cell (1, 0)
    want[0, 0:4, 12:16] = 1
    torch.testing.assert_close(level, want)
    assert int((level == 0).sum()) == 64
    torch.testing.assert_close(out[:, 0], (want + 1).double())
    torch.testing.assert_close(out[:, 1], -(want + 1).double())


def test_backward_routes_to_chosen_level_only():
    sem, uni = _hand_pyramid()
    uni[0][0, 0, 1, 0] = 0.95
    sem = [s.requires_grad_(True) for s in sem]
    out, _level = ops.pyramid_fuse(sem, uni, 0.9, impl="native")
    out.sum().backward()
    # the claimed coarsest cell gets the sum over its 64 pixels, the other coarsest cells none
    assert sem[0].grad[0, 0, 1, 0] == 64 and sem[0].grad[0, 0].sum() == 64
    assert sem[1].grad.abs().sum() == 0 and sem[2].grad.abs().sum() == 0
    # the finest level gets 1 everywhere except under the claimed cell
    assert sem[3].grad[0, 0, 8:, :8].abs().sum() == 0 and sem[3].grad[0, 0].sum() == 256 - 64


def test_errors_name_arguments():
    sem, uni = _hand_pyramid()
    with pytest.raises(ValueError, match="unity"):
        ops.pyramid_fuse(sem, uni[:2], 0.9)
    with pytest.raises(ValueError, match=r"semantic\[2\]"):
        ops.pyramid_fuse(sem[:2] + [sem[3], sem[3]], uni, 0.9)
