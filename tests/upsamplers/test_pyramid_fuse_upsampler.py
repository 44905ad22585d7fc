"""Pyramid-fuse decoder: hand-made ground truth and relabelling, forward/backward, losses."""

from __future__ import annotations

import torch

from upbench.upsamplers import create_upsampler
from upbench.upsamplers._pyramid_targets import pyramid_ground_truth, relabel_done_by_coarser

I = 255


def _label_map():
    """8×8: left half class 0, right half class 1, a class-2 2×2 block at rows 0-1 cols 6-7,
    one ignore pixel at (7, 0)."""
    lab = torch.zeros(1, 8, 8, dtype=torch.long)
    lab[0, :, 4:] = 1
    lab[0, 0:2, 6:8] = 2
    lab[0, 7, 0] = I
    return lab


def test_ground_truth_pyramid_by_hand():
    sem, uni = pyramid_ground_truth(_label_map(), 3, [8, 4, 2])
    # level 0: one 8×8 mix-cell
    assert sem[0].tolist() == [[[I]]] and uni[0].tolist() == [[[[0.0]]]]
    # level 1 (4×4 cells): unity 0 | mix ; (class 0 + ignore) -> ignored | unity 1
    assert sem[1].tolist() == [[[0, I], [I, 1]]]
    assert uni[1][0, 0].tolist() == [[1.0, 0.0], [-1.0, 1.0]]
    # level 2 (2×2 cells)
    assert sem[2][0].tolist() == [[0, 0, 1, 2], [0, 0, 1, 1], [0, 0, 1, 1], [I, 0, 1, 1]]
    assert uni[2][0, 0].tolist() == [[1.0] * 4, [1.0] * 4, [1.0] * 4, [-1.0, 1.0, 1.0, 1.0]]


def test_relabelling_only_below_true_positives():
    sem, uni = pyramid_ground_truth(_label_map(), 3, [8, 4, 2])
    pred0 = torch.tensor([[[[0.95]]]])  # false positive on the mix-cell: no relabelling
    pred1 = torch.tensor([[[[0.95, 0.95], [0.99, 0.5]]]])
    # (0,0) true positive; (0,1) false positive (mix); (1,0) ignored gt; (1,1) false negative
    sem_r, uni_r = relabel_done_by_coarser(sem, uni, [pred0, pred1], 0.9)
    assert sem_r[0].tolist() == sem[0].tolist() and sem_r[1].tolist() == sem[1].tolist()
    assert sem_r[2][0].tolist() == [[I, I, 1, 2], [I, I, 1, 1], [0, 0, 1, 1], [I, 0, 1, 1]]
    assert uni_r[2][0, 0, :2, :2].eq(-1).all() and uni_r[2][0, 0, 2:].ne(-1).sum() == 7


def test_forward_backward_losses_small():
    up = create_upsampler("pyramid-fuse", 8, 8, num_classes=3, unity_channels=4)
    assert up.levels == 4
    x = torch.randn(2, 8, 2, 2)
    pyr = [x] + [torch.randn(2, 8, 2 << i, 2 << i) for i in range(1, 4)]
    pyr = [p.requires_grad_(True) for p in pyr]
    out, state = up.forward_with_state(pyr[0], pyramid=pyr)
    assert out.shape == (2, 3, 16, 16)
    torch.testing.assert_close(out, up(pyr[0], pyramid=pyr))
    target = torch.randint(0, 3, (2, 16, 16))
    target[:, :8, :8] = 1
    target[0, 0, 0] = 255
    losses = up.extra_losses(out, target, state)
    assert set(losses) == {"pyramid_ce", "unity_bce"}
    (out.mean() + sum(losses.values())).backward()
    assert pyr[3].grad is not None and pyr[3].grad.abs().sum() > 0
    assert up.unity.score.weight.grad.abs().sum() > 0


def test_segmentation_defaults_and_short_pyramids():
    up = create_upsampler("pyramid-fuse", 64, 32, num_classes=19)
    x = torch.randn(1, 64, 2, 2)
    pyr = [x] + [torch.randn(1, 64, 2 << i, 2 << i) for i in range(1, 4)]
    assert up(x, guide=torch.randn(1, 64, 16, 16), pyramid=pyr).shape == (1, 19, 64, 64)
    small = create_upsampler("pyramid-fuse", 4, 2, num_classes=3)
    x = torch.randn(1, 4, 3, 3)
    assert small(x, pyramid=[x, torch.randn(1, 4, 6, 6)]).shape == (1, 3, 6, 6)
    odd = create_upsampler("pyramid-fuse", 4, 3, num_classes=3)
    assert odd(x, pyramid=[x]).shape == (1, 3, 9, 9)


def test_one_level_runs_no_unity_head():
    """With one level (×2, no finer feature) nothing is fused: the unity head's 1×1
    convolutions are not computed (they were once computed and discarded), and the forward
    costs the semantic projection and the bilinear ×2 only."""
    from torch.utils.flop_counter import FlopCounterMode

    up = create_upsampler("pyramid-fuse", 16, 2, num_classes=5)
    x = torch.randn(2, 16, 6, 7)
    ran = []
    for m in up.unity.modules():
        m.register_forward_hook(lambda *a: ran.append(1))
    with FlopCounterMode(display=False) as fc:
        out, state = up.forward_with_state(x, None, [x])
    assert not ran and state["unity"] == []
    assert out.shape == (2, 5, 12, 14)
    conv = 2 * 5 * 16 * 6 * 7
    assert fc.get_total_flops() == 2 * (conv + 4 * out.numel())
