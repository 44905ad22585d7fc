"""CARAFE-specific checks: mmcv's gradcheck case, semantics and argument errors."""

from __future__ import annotations

import pytest
import torch

from upbench import ops
from upbench.ops.carafe import carafe_reference, random_masks


def test_mmcv_gradcheck_case(kernel_mode):
    gen = torch.Generator().manual_seed(0)
    feat = torch.randn(2, 64, 3, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    mask = random_masks(2, 4, 5, 3, 3, 2, torch.float64, "cpu", gen).requires_grad_()
    assert mask.shape == (2, 100, 6, 6)
    assert torch.autograd.gradcheck(
        lambda f, m: ops.carafe(f, m, 5, 4, 2, impl="native"), (feat, mask), eps=1e-6, atol=1e-7
    )


def test_uniform_masks_give_box_filter_with_zero_padding(native):
    x = torch.arange(12, dtype=torch.float64).view(1, 1, 3, 4)
    k, s = 3, 2
    masks = torch.full((1, k * k, 6, 8), 1.0 / (k * k), dtype=torch.float64)
    out = ops.carafe(x, masks, k, 1, s, impl="native")
    box = torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=True)
    expected = box.repeat_interleave(2, 2).repeat_interleave(2, 3)
    torch.testing.assert_close(out, expected)


def test_reference_matches_direct_formula():
    gen = torch.Generator().manual_seed(1)
    n, c, h, w, k, g, s = 1, 4, 3, 2, 3, 2, 2
    x = torch.randn(n, c, h, w, generator=gen, dtype=torch.float64)
    m = random_masks(n, g, k, h, w, s, torch.float64, "cpu", gen)
    out = carafe_reference(x, m, k, g, s)
    r = k // 2
    for ch in range(c):
        for p in range(h * s):
            for q in range(w * s):
                acc = 0.0
                for i in range(k):
                    for j in range(k):
                        y, xx = p // s + i - r, q // s + j - r
                        if 0 <= y < h and 0 <= xx < w:
                            acc += m[0, (ch // (c // g)) * k * k + i * k + j, p, q] * x[0, ch, y, xx]
                assert abs(out[0, ch, p, q].item() - acc) < 1e-12


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"features": torch.randn(4, 3, 3)}, "features.*4-D"),
        ({"masks": torch.randn(1, 9, 7, 6)}, "masks.*shape"),
        ({"kernel_size": 4, "masks": torch.randn(1, 16, 6, 6)}, "kernel_size.*odd"),
        ({"group_size": 3}, "divisible by group_size"),
        ({"features": torch.ones(1, 4, 3, 3, dtype=torch.int64)}, "float32 or float64"),
        ({"masks": torch.randn(1, 9, 6, 6, device="meta")}, "device"),
        ({"scale_factor": 0}, "scale_factor"),
    ],
)
def test_bad_input_names_the_argument(kwargs, match):
    args = {"features": torch.randn(1, 4, 3, 3), "masks": torch.randn(1, 9, 6, 6),
            "kernel_size": 3, "group_size": 1, "scale_factor": 2}
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=match):
        ops.carafe(**args)
