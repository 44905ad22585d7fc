"""Streamed PCA of one-hot label patches (DUpsampling's reconstruction matrix, paper §3.1).

A label map (N, H, W) is cut into r×r patches; each becomes a vector v of length D = C·r² in the
channel ordering of :func:`upbench.ops.dupsample`: ``v[(c·r + i)·r + j] = 1`` when pixel (i, j)
of the patch has class c. Ignore pixels (and the padding that makes H, W multiples of r) give an
all-zero column. The PCA is computed from streamed sufficient statistics, never holding all
patches:

* D ≤ ``dense_limit``: the exact covariance Σ vvᵀ/n − μμᵀ is accumulated in float64 (D² values)
  and diagonalised.
* larger D (e.g. C = 19, r = 32: D = 19 456): a two-pass randomised range finder — pass 1
  accumulates Σ v (vᵀΩ) for a Gaussian Ω (D × (C̃ + oversample)), giving the dominant range Q of
  the centred covariance; pass 2 accumulates the small matrix Qᵀ(v − μ)(v − μ)ᵀQ, whose
  eigenvectors rotate Q into the components. Memory is O(D·(C̃ + oversample)).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import torch
import torch.nn.functional as F


def label_patches(
    labels: torch.Tensor, num_classes: int, ratio: int, ignore_index: int = 255
) -> torch.Tensor:
    """One-hot r×r label patches as rows (N·⌈H/r⌉·⌈W/r⌉, C·r²), float32.

    Rows follow (n, y, x) order; columns ``(c·r + i)·r + j``. Ignore pixels and padding are zero.
    """
    if labels.dim() != 3:
        raise ValueError(f"label_patches: labels must be (N, H, W), got {tuple(labels.shape)}")
    _n, h, w = labels.shape
    ph, pw = (-h) % ratio, (-w) % ratio
    lab = labels.long()
    if ph or pw:
        lab = F.pad(lab, (0, pw, 0, ph), value=ignore_index)
    valid = (lab >= 0) & (lab < num_classes)
    onehot = F.one_hot(torch.where(valid, lab, num_classes), num_classes + 1)[..., :num_classes]
    onehot = onehot.permute(0, 3, 1, 2).float()  # (N, C, H, W)
    rows = F.pixel_unshuffle(onehot, ratio)  # (N, C·r², h, w), channel (c·r + i)·r + j
    return rows.permute(0, 2, 3, 1).reshape(-1, num_classes * ratio * ratio)


def _chunks(rows: torch.Tensor, size: int) -> Iterator[torch.Tensor]:
    for s in range(0, rows.shape[0], size):
        yield rows[s : s + size].double()


def fit_label_pca(
    batches: Callable[[], Iterable[torch.Tensor]],
    num_classes: int,
    ratio: int,
    components: int,
    ignore_index: int = 255,
    dense_limit: int = 4096,
    oversample: int = 16,
    chunk: int = 256,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """PCA of the label patches of every batch.

    Args:
        batches: returns a fresh iterable of label maps (N, H, W) each time it is called (called
            once for the dense covariance, twice for the randomised path).
        num_classes: C.
        ratio: patch size r.
        components: C̃ ≤ C·r².
        ignore_index: label value of ignored pixels (zero vector).
        dense_limit: largest D accumulated as a dense covariance.
        oversample: extra sketch columns of the randomised path.
        chunk: patches per float64 block.
        seed: seed of the random sketch.

    Returns:
        (W, mean): W (D, C̃) with orthonormal columns sorted by decreasing variance (sign fixed so
        that each column's largest-magnitude entry is positive), mean (D,), both float32.
    """
    d = num_classes * ratio * ratio
    if not 1 <= components <= d:
        raise ValueError(f"fit_label_pca: components must be in [1, C·r² = {d}], got {components}")
    count, total = 0, torch.zeros(d, dtype=torch.float64)
    if d <= dense_limit:
        second = torch.zeros(d, d, dtype=torch.float64)
        for lab in batches():
            for v in _chunks(label_patches(lab, num_classes, ratio, ignore_index), chunk):
                count += v.shape[0]
                total += v.sum(0)
                second.addmm_(v.t(), v)
        if count == 0:
            raise ValueError("fit_label_pca: the data loader yielded no label patches")
        mean = total / count
        cov = second / count - torch.outer(mean, mean)
        _evals, evecs = torch.linalg.eigh(cov)
        w = evecs.flip(1)[:, :components]
    else:
        k = min(d, components + oversample)
        gen = torch.Generator().manual_seed(seed)
        omega = torch.randn(d, k, generator=gen, dtype=torch.float64)
        sketch = torch.zeros(d, k, dtype=torch.float64)
        for lab in batches():
            for v in _chunks(label_patches(lab, num_classes, ratio, ignore_index), chunk):
                count += v.shape[0]
                total += v.sum(0)
                sketch.addmm_(v.t(), v @ omega)
        if count == 0:
            raise ValueError("fit_label_pca: the data loader yielded no label patches")
        mean = total / count
        sketch = sketch / count - torch.outer(mean, mean @ omega)
        q, _ = torch.linalg.qr(sketch)
        small = torch.zeros(k, k, dtype=torch.float64)
        for lab in batches():
            for v in _chunks(label_patches(lab, num_classes, ratio, ignore_index), chunk):
                z = (v - mean) @ q
                small.addmm_(z.t(), z)
        _evals, evecs = torch.linalg.eigh(small / count)
        w = q @ evecs.flip(1)[:, :components]
    idx = w.abs().argmax(0)
    sign = torch.sign(w[idx, torch.arange(w.shape[1])])
    w = w * torch.where(sign == 0, torch.ones_like(sign), sign)
    return w.float(), mean.float()
