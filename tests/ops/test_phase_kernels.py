"""The phase-split CPU kernels (ops_cuda/common/upb_phase_cpu.h) where their special paths begin:
channel counts past one register block, one correlation chunk (32) and one gather ring (64);
K = 7 (the tap loop not unrolled); outputs past the streaming-store threshold (2 MiB); rows that
cross samples in a thread's run of tasks; and bilinear's phase stencil at every scale with
one-pixel maps. Forward and backward against float64 references, in both CPU kernel modes."""

from __future__ import annotations

import pytest
import torch

from upbench.ops.bilinear import bilinear_reference, bilinear_upsample
from upbench.ops.carafe import carafe, carafe_reference, random_masks
from upbench.ops.sapa_similarity import sapa_similarity, sapa_similarity_reference


def _grads(fn, inputs, go):
    inputs = [t.detach().requires_grad_() for t in inputs]
    out = fn(*inputs)
    return [out, *torch.autograd.grad(out, inputs, go)]


def _close(got, want, tol):
    for g, r in zip(got, want, strict=True):
        torch.testing.assert_close(g.double(), r, atol=tol, rtol=tol)


# (N, C, h, w, K, s, groups): 70 channels = two gather rings and three correlation chunks;
# (1, 72, 48, 64, 5, 2) writes a 3.4 MiB output (streaming stores)
CARAFE_CASES = [(2, 70, 6, 19, 5, 2, 1), (1, 9, 5, 11, 7, 2, 1), (2, 12, 4, 7, 3, 3, 2),
                (1, 72, 48, 64, 5, 2, 1), (3, 5, 3, 4, 5, 4, 1)]


@pytest.mark.parametrize(("n", "c", "h", "w", "k", "s", "g"), CARAFE_CASES)
def test_carafe_phase_paths(kernel_mode, n, c, h, w, k, s, g):
    gen = torch.Generator().manual_seed(c * h + w)
    x = torch.randn(n, c, h, w, generator=gen)
    m = random_masks(n, g, k, h, w, s, torch.float32, "cpu", gen)
    go = torch.randn(n, c, h * s, w * s, generator=gen)
    got = _grads(lambda a, b: carafe(a, b, k, g, s, impl="native"), (x, m), go)
    want = _grads(lambda a, b: carafe_reference(a, b, k, g, s), (x.double(), m.double()),
                  go.double())
    _close(got, want, 1e-4)


# (N, d, h, w, K, s): (1, 40, 48, 64, 7, 2) writes a 2.4 MiB similarity (streaming stores)
SAPA_CASES = [(2, 70, 5, 18, 5, 2), (1, 40, 48, 64, 7, 2), (2, 3, 4, 6, 3, 1), (1, 33, 3, 5, 5, 3)]


@pytest.mark.parametrize(("n", "d", "h", "w", "k", "s"), SAPA_CASES)
def test_sapa_phase_paths(kernel_mode, n, d, h, w, k, s):
    gen = torch.Generator().manual_seed(d * h + w + k)
    q = torch.randn(n, d, h * s, w * s, generator=gen)
    key = torch.randn(n, d, h, w, generator=gen)
    go = torch.randn(n, k * k, h * s, w * s, generator=gen)
    got = _grads(lambda a, b: sapa_similarity(a, b, k, s, impl="native"), (q, key), go)
    want = _grads(lambda a, b: sapa_similarity_reference(a, b, k, s),
                  (q.double(), key.double()), go.double())
    _close(got, want, 2e-4)


def test_phase_kernels_split_over_threads_match_one_thread(native):
    """Runs of rows per thread (rings primed mid-map, samples crossed) give the same numbers."""
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(3, 20, 9, 13, generator=gen)
    m = random_masks(3, 1, 5, 9, 13, 2, torch.float32, "cpu", gen)
    go = torch.randn(3, 20, 18, 26, generator=gen)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = _grads(lambda a, b: carafe(a, b, 5, 1, 2, impl="native"), (x, m), go)
        torch.set_num_threads(max(2, threads))
        many = _grads(lambda a, b: carafe(a, b, 5, 1, 2, impl="native"), (x, m), go)
    finally:
        torch.set_num_threads(threads)
    for a, b in zip(one, many, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("s", [1, 2, 3, 4, 5])
@pytest.mark.parametrize(("h", "w"), [(1, 1), (1, 5), (4, 1), (7, 37)])
def test_bilinear_phase_stencil(kernel_mode, s, h, w):
    gen = torch.Generator().manual_seed(s * 100 + h * 10 + w)
    x = torch.randn(2, 3, h, w, generator=gen)
    go = torch.randn(2, 3, h * s, w * s, generator=gen)
    got = _grads(lambda a: bilinear_upsample(a, s, impl="native"), (x,), go)
    want = _grads(lambda a: bilinear_reference(a, s), (x.double(),), go.double())
    _close(got, want, 1e-4)  # float32 sums of up to (2s)^2 gradient terms


def test_bilinear_large_output_streams(native):
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(1, 16, 96, 100, generator=gen)  # 2.3 MiB output
    torch.testing.assert_close(bilinear_upsample(x, 2, impl="native").double(),
                               bilinear_reference(x.double(), 2), atol=1e-5, rtol=1e-5)
