"""Machine probes measured in the same run as a benchmark: memory-copy bandwidth and matmul rate.

They give the floor against which an op's achieved GB/s and GMAC/s are read.
"""

from __future__ import annotations

import torch

from upbench.measure.timing import time_interleaved


def probe_copy_and_matmul(device: torch.device, repeats: int = 7, mb: int = 64,
                          n: int = 1024) -> dict[str, float]:
    """Copy bandwidth (GB/s, read + write) of ``mb`` MiB and matmul rate (GMAC/s) of n×n float32."""
    numel = mb * 1024 * 1024 // 4
    src = torch.randn(numel, device=device)
    dst = torch.empty_like(src)
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    t = time_interleaved(
        {"copy": lambda: dst.copy_(src), "matmul": lambda: torch.mm(a, b)},
        repeats=repeats, warmup=2, device=device,
    )
    return {
        "copy_gbps": 2 * numel * 4 / t["copy"].median / 1e9,
        "matmul_gmacs": n**3 / t["matmul"].median / 1e9,
        "copy_mb": float(mb),
        "matmul_n": float(n),
    }
