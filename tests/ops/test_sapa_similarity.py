"""upbench.ops.sapa_similarity: native vs the unfold+einsum reference, gradients, both CPU modes."""

from __future__ import annotations

import pytest
import torch

from upbench.ops import get_op, sapa_similarity
from upbench.ops.sapa_similarity import sapa_similarity_reference

# every test needs the native library; `kernel_mode` (tests/conftest.py) runs a test in both
# CPU kernel modes
pytestmark = pytest.mark.usefixtures("native")


def _naive(query, key, k, s):
    """Loop oracle of the official semantics (out-of-range taps = 0)."""
    n, _d, h, w = key.shape
    r = k // 2
    out = torch.zeros(n, k * k, h * s, w * s, dtype=key.dtype)
    for p in range(h * s):
        for q in range(w * s):
            for i in range(k):
                for j in range(k):
                    y, x = p // s + i - r, q // s + j - r
                    if 0 <= y < h and 0 <= x < w:
                        out[:, i * k + j, p, q] = (query[:, :, p, q] * key[:, :, y, x]).sum(1)
    return out


def test_reference_matches_loop_oracle():
    g = torch.Generator().manual_seed(0)
    q = torch.randn(2, 3, 6, 8, generator=g, dtype=torch.float64)
    k = torch.randn(2, 3, 3, 4, generator=g, dtype=torch.float64)
    torch.testing.assert_close(sapa_similarity_reference(q, k, 3, 2), _naive(q, k, 3, 2))


def test_official_check_shape(kernel_mode):
    """poppinace/sapa forward_check: b4, h10, w12, c8, K5, s2, atol 1e-5 (float32)."""
    g = torch.Generator().manual_seed(1)
    q = torch.randn(4, 8, 20, 24, generator=g)
    k = torch.randn(4, 8, 10, 12, generator=g)
    out = sapa_similarity(q, k, 5, 2, impl="native")
    assert out.shape == (4, 25, 20, 24)
    torch.testing.assert_close(out, sapa_similarity_reference(q, k, 5, 2), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("case", range(4))
def test_native_matches_reference_and_gradcheck(kernel_mode, case):
    g = torch.Generator().manual_seed(10 + case)
    spec = get_op("sapa_similarity")
    c = spec.check_cases(torch.float64, torch.device("cpu"), g)[case]
    q, k, ks, s = c.args
    torch.testing.assert_close(spec.run("native", *c.args), spec.run("reference", *c.args))
    q.requires_grad_(True)
    k.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda a, b: torch.ops.upbench.sapa_similarity(a, b, ks, s), (q, k), fast_mode=True
    )


def test_backward_matches_reference_and_is_deterministic(kernel_mode):
    g = torch.Generator().manual_seed(3)
    q = torch.randn(2, 5, 14, 10, generator=g, dtype=torch.float32, requires_grad=True)
    k = torch.randn(2, 5, 7, 5, generator=g, dtype=torch.float32, requires_grad=True)
    go = torch.randn(2, 25, 14, 10, generator=g)
    grads = [torch.autograd.grad(sapa_similarity(q, k, 5, 2, impl="native"), (q, k), go)
             for _ in range(2)]
    ref = torch.autograd.grad(sapa_similarity_reference(q, k, 5, 2), (q, k), go)
    for a, b in zip(*grads, strict=True):
        assert torch.equal(a, b)
    for a, r in zip(grads[0], ref, strict=True):
        torch.testing.assert_close(a, r, atol=1e-4, rtol=1e-4)


def test_non_contiguous_inputs():
    g = torch.Generator().manual_seed(4)
    q = torch.randn(2, 8, 10, 6, generator=g, dtype=torch.float64).permute(0, 3, 1, 2)
    k = torch.randn(2, 6, 5, 4, generator=g, dtype=torch.float64).transpose(2, 3)
    assert not q.is_contiguous() and not k.is_contiguous()
    torch.testing.assert_close(sapa_similarity(q, k, 3, 2, impl="native"),
                               sapa_similarity_reference(q, k, 3, 2))


def test_opcheck():
    g = torch.Generator().manual_seed(5)
    c = get_op("sapa_similarity").check_cases(torch.float64, torch.device("cpu"), g)[0]
    args = list(c.args)
    args[0].requires_grad_(True)
    torch.library.opcheck(torch.ops.upbench.sapa_similarity.default, tuple(args))


def test_macs_and_bench_case():
    spec = get_op("sapa_similarity")
    c = spec.bench_case(gen=torch.Generator().manual_seed(0))
    q, k, ks, s = c.args
    assert q.shape == (2, 32, 128, 128) and k.shape == (2, 32, 64, 64) and (ks, s) == (5, 2)
    # 4·K²·d per low-res location for s = 2 (SAPA Table 1, "inner product")
    assert spec.macs(*c.args) == 2 * 64 * 64 * 4 * 25 * 32


@pytest.mark.parametrize(
    "args, match",
    [
        ((torch.zeros(1, 4, 8, 8), torch.zeros(1, 4, 4, 5), 5, 2), "query"),
        ((torch.zeros(1, 3, 8, 8), torch.zeros(1, 4, 4, 4), 5, 2), "query"),
        ((torch.zeros(1, 4, 8, 8), torch.zeros(1, 4, 4, 4), 4, 2), "kernel_size"),
        ((torch.zeros(1, 4, 8, 8), torch.zeros(1, 4, 4, 4, dtype=torch.float64), 5, 2), "dtype|float"),
    ],
)
def test_bad_input(args, match):
    with pytest.raises((ValueError, TypeError), match=match):
        sapa_similarity(*args)
