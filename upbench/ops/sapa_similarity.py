"""SAPA similarity (Lu et al., NeurIPS 2022) with the official poppinace/sapa semantics.

``sim[n, i·K + j, p, q] = Σ_c query[n, c, p, q] · key[n, c, ⌊p/s⌋+i−r, ⌊q/s⌋+j−r]``, r = K // 2.
query comes from the high-resolution encoder feature (N, d, s·h, s·w), key from the
low-resolution decoder feature (N, d, h, w). Taps outside the key map get similarity 0 (as the
official kernel: they still take exp(0) mass in the softmax that follows). The assembly step is
CARAFE's reassembly with G = 1 (:func:`upbench.ops.carafe` on the softmax of these similarities).

Deviation from the official code: channels-first (NCHW) tensors instead of channels-last, and a
deterministic gather backward instead of ``atomicAdd``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from upbench.ops._autocast import autocast_frontend
from upbench.ops._checks import check_cpu_dtype, check_int, check_same, check_tensor
from upbench.ops._registry import (
    OpCase,
    OpSpec,
    register_backward_op,
    register_op,
    run_op,
)

OP = "sapa_similarity"


def _validate(query, key, kernel_size, scale_factor) -> tuple[int, int]:
    check_tensor(query, "query", OP)
    check_tensor(key, "key", OP)
    check_same(OP, query=query, key=key)
    check_cpu_dtype(query, "query", OP)
    k = check_int(kernel_size, "kernel_size", OP, odd=True)
    s = check_int(scale_factor, "scale_factor", OP)
    n, d, h, w = key.shape
    want = (n, d, s * h, s * w)
    if tuple(query.shape) != want:
        raise ValueError(
            f"{OP}: `query` must have shape (N, d, s·h, s·w) = {want} for key {tuple(key.shape)} "
            f"and scale_factor={s}; got {tuple(query.shape)}"
        )
    return k, s


@autocast_frontend(OP)
def sapa_similarity(
    query: torch.Tensor,
    key: torch.Tensor,
    kernel_size: int = 5,
    scale_factor: int = 2,
    *,
    impl: str = "auto",
) -> torch.Tensor:
    """Similarities of every high-res query with the K×K low-res keys around it.

    Args:
        query: high-resolution embeddings (N, d, s·h, s·w).
        key: low-resolution embeddings (N, d, h, w).
        kernel_size: K, odd.
        scale_factor: integer s ≥ 1.
        impl: ``"auto"`` (native, else the reference with a warning), ``"native"``, ``"reference"``.

    Returns:
        Similarities (N, K², s·h, s·w); tap i·K + j is row offset i − r, column offset j − r;
        out-of-range taps are 0.
    """
    k, s = _validate(query, key, kernel_size, scale_factor)
    return run_op(OP, impl, key.device, query, key, k, s)


def sapa_similarity_reference(query, key, kernel_size=5, scale_factor=2) -> torch.Tensor:
    """Pure-PyTorch similarity: unfold the K×K key windows at low resolution, contract by einsum.

    The same construction as the official check (``sim_`` in poppinace/sapa's forward_check), in
    NCHW layout: zero padding makes out-of-range taps 0.
    """
    n, d, h, w = key.shape
    k, s = kernel_size, scale_factor
    if key.numel() == 0 or query.numel() == 0:  # unfold rejects empty maps: zeros (or empty)
        return key.new_zeros((n, k * k, h * s, w * s)) + (key.sum() + query.sum()) * 0
    win = F.unfold(key, k, padding=k // 2).view(n, d, k * k, h, w)
    q = query.view(n, d, h, s, w, s)
    out = torch.einsum("ndhawb,ndkhw->nkhawb", q, win)
    # taps outside the map are 0 exactly (as the native kernels), not query × 0 (NaN for a
    # non-finite query)
    inside = F.unfold(key.new_ones(1, 1, h, w), k, padding=k // 2).view(1, k * k, h, 1, w, 1)
    out = torch.where(inside > 0, out, out.new_zeros(()))
    return out.reshape(n, k * k, h * s, w * s)


def sapa_similarity_macs(query, key, kernel_size=5, scale_factor=2) -> int:
    """Multiply-accumulates: N·(s·h)·(s·w)·K²·d (SAPA Table 1's "inner product" 4K²d per
    low-res location for s = 2)."""
    return query.numel() * kernel_size**2


def sapa_similarity_backward_macs(grad_out, query, key, kernel_size=5, scale_factor=2) -> int:
    """``_sapa_similarity_backward``: twice the forward, N·(s·h)·(s·w)·K²·d for the query's
    gradient and as many for the key's."""
    return 2 * sapa_similarity_macs(query, key, kernel_size, scale_factor)


def _bytes(query, key, kernel_size=5, scale_factor=2) -> int:
    out = query.numel() // query.shape[1] * kernel_size**2
    return (query.numel() + key.numel() + out) * query.element_size()


def _case(n, d, h, w, k, s, dtype, device, gen) -> OpCase:
    q = torch.randn(n, d, s * h, s * w, generator=gen, dtype=dtype).to(device)
    key = torch.randn(n, d, h, w, generator=gen, dtype=dtype).to(device)
    return OpCase(f"key({n},{d},{h},{w}) K{k} s{s}", (q, key, k, s))


def _check_cases(dtype, device, gen) -> list[OpCase]:
    # small: the output has K² channels, so a full float64 gradcheck is K²·H·W backward calls
    return [
        _case(1, 3, 3, 4, 5, 2, dtype, device, gen),  # the window larger than the map
        _case(1, 2, 4, 3, 3, 3, dtype, device, gen),
        _case(2, 5, 3, 4, 5, 1, dtype, device, gen),
        _case(1, 4, 1, 3, 3, 2, dtype, device, gen),
    ]


def _bench_case(shape=(2, 256, 64, 64), kernel_size=5, scale=2, dtype=torch.float32, device="cpu",
                gen=None, embed_dim=32, **_) -> OpCase:
    """The issue's benchmark: N=2, d=32, 64×64 → 128×128, K=5, s=2 (``shape``'s C is unused:
    the similarity runs on the d-channel embeddings)."""
    n, _c, h, w = shape
    return _case(n, embed_dim, h, w, kernel_size, scale, dtype, torch.device(device), gen)


def _register() -> None:
    @torch.library.register_fake("upbench::sapa_similarity")
    def _fake(query, key, kernel_size, scale_factor):
        n, _d, h, w = key.shape
        return key.new_empty((n, kernel_size * kernel_size, h * scale_factor, w * scale_factor))

    @torch.library.register_fake("upbench::_sapa_similarity_backward")
    def _fake_bwd(grad_out, query, key, kernel_size, scale_factor):
        return torch.empty_like(query), torch.empty_like(key)

    register_backward_op(OP, 2)


SPEC = register_op(
    OpSpec(
        name=OP,
        schema="sapa_similarity(Tensor query, Tensor key, int kernel_size, int scale_factor) -> Tensor",
        autocast="fp32",
        native=lambda *a: torch.ops.upbench.sapa_similarity(*a),
        reference=sapa_similarity_reference,
        macs=sapa_similarity_macs,
        check_cases=_check_cases,
        bench_case=_bench_case,
        register=_register,
        grad_inputs=(0, 1),
        bytes_moved=_bytes,
        backward_macs=sapa_similarity_backward_macs,
    )
)
