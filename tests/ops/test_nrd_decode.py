"""upbench.ops.nrd_decode: native vs references, gradients, parameter count, variants."""

from __future__ import annotations

import pytest
import torch

from upbench import ops
from upbench.ops.nrd_decode import (
    nrd_decode_official_style,
    nrd_decode_reference,
    nrd_num_params,
)


def test_parameter_count_899():
    assert nrd_num_params(19, hidden=16, guidance_channels=16) == 899


@pytest.mark.parametrize("coords,m", [(True, 3), (False, 3), (True, 0)])
def test_official_style_agrees(coords, m):
    g = torch.Generator().manual_seed(3)
    p = nrd_num_params(4, 5, m, coords)
    th = torch.randn(2, p, 2, 3, generator=g, dtype=torch.float64)
    gd = torch.randn(2, m, 8, 12, generator=g, dtype=torch.float64)
    ref = nrd_decode_reference(th, gd, 4, 5, 4, coords)
    torch.testing.assert_close(nrd_decode_official_style(th, gd, 4, 5, 4, coords), ref)
    torch.testing.assert_close(ops.nrd_decode(th, gd if m else None, 4, 5, 4, coords=coords,
                                              impl="native"), ref)


def test_coordinates_and_layout_by_hand():
    # d = 1, K = 1, coords only: out = w3 * relu(w2 * relu(W1 [x, y] + b1) + b2) + b3
    th = torch.zeros(1, nrd_num_params(1, 1, 0), 1, 1, dtype=torch.float64)
    th[0, :, 0, 0] = torch.tensor([1.0, 10.0, 1.0, 1.0, 0.0, 0.0, 0.5], dtype=torch.float64)
    out = ops.nrd_decode(th, None, 1, 1, 4, impl="native")[0, 0]
    u, v = torch.meshgrid(torch.arange(4.0), torch.arange(4.0), indexing="ij")
    torch.testing.assert_close(out, (v / 4 + 10 * u / 4 + 0.5).double())


def test_errors_name_arguments():
    th = torch.randn(1, 10, 2, 2)
    with pytest.raises(ValueError, match="params"):
        ops.nrd_decode(th, torch.randn(1, 2, 8, 8), 3, 4, 4)
    p = nrd_num_params(3, 4, 2)
    with pytest.raises(ValueError, match="guidance"):
        ops.nrd_decode(torch.randn(1, p, 2, 2), torch.randn(1, 2, 7, 8), 3, 4, 4)
