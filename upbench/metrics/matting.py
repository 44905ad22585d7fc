"""Image matting metrics as the official Composition-1k MATLAB evaluation (docs/metrics.md "Matting").

Mattes are scored as the official test scores its 8-bit PNGs: ``pred`` and ``gt`` alpha in
[0, 1] are quantised to 0..255 (``round(255·α)``), the trimap is uint8 with 128 = unknown, and
every sum runs over the unknown region only:

* **SAD** = Σ |p − g| / 255, reported / 1000 (``compute_sad_loss.m``).
* **MSE** = Σ ((p − g) / 255)² / #unknown (``compute_mse_loss.m``).
* **Grad** = Σ (|∇p| − |∇g|)², / 1000 (``compute_gradient_loss.m``): both mattes scaled to [0, 1]
  and min–max normalised (MATLAB's ``mat2gray``), gradients by ``gaussgradient(·, 1.4)`` — the
  kernel ``hx(i, j) = G(i)·G'(j)`` of half size ⌈σ·√(−2·ln(√(2π)·σ·0.01))⌉ (= 4 for σ = 1.4),
  normalised to unit L2 norm, applied as a convolution with replicate borders, ``hy = hxᵀ``.
  Some Python ports divide this by 10 more; we follow the MATLAB code.
* **Conn** = Σ |φ_p − φ_g|, / 1000 (``compute_connectivity_error.m``): for thresholds
  t = 0.1, 0.2, …, 1 the largest 4-connected component of (p ≥ t ∧ g ≥ t); a pixel outside it
  at threshold t gets l = t − 0.1 (the first such t), pixels never outside get l = 1;
  d = α − l, φ = 1 − d·[d ≥ 0.15]. Where a threshold has no component at all, no pixel is
  connected there (what the MATLAB code computes); ports that ``continue`` instead leave those
  pixels to a later threshold. We follow the MATLAB code.

:func:`paste_known` applies the official test's convention before scoring: the prediction is 0
where the trimap is 0 and 1 where it is 255.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import ndimage

UNKNOWN, FOREGROUND, BACKGROUND = 128, 255, 0
GRAD_SIGMA = 1.4


def _to_uint8_scale(alpha: torch.Tensor | np.ndarray) -> np.ndarray:
    a = alpha.detach().cpu().double().numpy() if isinstance(alpha, torch.Tensor) else np.asarray(
        alpha, np.float64)
    return np.rint(np.clip(np.squeeze(a), 0.0, 1.0) * 255.0)


def paste_known(pred: torch.Tensor, trimap: torch.Tensor) -> torch.Tensor:
    """``pred`` with the trimap's known regions pasted in (0 on background, 1 on foreground)."""
    out = pred.clone()
    out[trimap == BACKGROUND] = 0.0
    out[trimap == FOREGROUND] = 1.0
    return out


def _gauss(x: np.ndarray, sigma: float) -> np.ndarray:
    return np.exp(-(x**2) / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi))


def gaussgradient_kernel(sigma: float = GRAD_SIGMA) -> np.ndarray:
    """MATLAB's ``gaussgradient`` x-kernel ``hx`` (rows: Gaussian, columns: its derivative)."""
    eps = 1e-2
    half = math.ceil(sigma * math.sqrt(-2 * math.log(math.sqrt(2 * math.pi) * sigma * eps)))
    r = np.arange(-half, half + 1, dtype=np.float64)
    g = _gauss(r, sigma)
    dg = -r * g / sigma**2
    hx = g[:, None] * dg[None, :]
    return hx / math.sqrt(float((hx * hx).sum()))


def _gradient_magnitude(img: np.ndarray, sigma: float) -> np.ndarray:
    hx = gaussgradient_kernel(sigma)
    gx = ndimage.convolve(img, hx, mode="nearest")
    gy = ndimage.convolve(img, hx.T, mode="nearest")
    return np.sqrt(gx**2 + gy**2)


def _mat2gray(img: np.ndarray) -> np.ndarray:
    lo, hi = float(img.min()), float(img.max())
    return np.zeros_like(img) if hi == lo else (img - lo) / (hi - lo)


def _connectivity_phi(p: np.ndarray, g: np.ndarray, step: float = 0.1) -> tuple[np.ndarray, ...]:
    thresholds = np.arange(0.0, 1.0 + step / 2, step)
    level = np.full(p.shape, -1.0)
    four = ndimage.generate_binary_structure(2, 1)
    for i in range(1, len(thresholds)):
        both = (p >= thresholds[i]) & (g >= thresholds[i])
        labels, n = ndimage.label(both, structure=four)
        omega = np.zeros(p.shape, bool)
        if n:
            sizes = np.bincount(labels.ravel())[1:]
            omega = labels == (int(np.argmax(sizes)) + 1)
        level[(level == -1) & ~omega] = thresholds[i - 1]
    level[level == -1] = 1.0
    dp, dg = p - level, g - level
    return 1 - dp * (dp >= 0.15), 1 - dg * (dg >= 0.15)


def matting_metrics(pred: torch.Tensor | np.ndarray, gt: torch.Tensor | np.ndarray,
                    trimap: torch.Tensor | np.ndarray) -> dict[str, float]:
    """SAD, MSE, Grad and Conn of one matte (see the module docstring).

    Args:
        pred, gt: alpha mattes in [0, 1], (H, W) (or with singleton dimensions).
        trimap: uint8-valued trimap of the same size; 128 = unknown.

    Returns:
        ``{"SAD", "MSE", "Grad", "Conn"}``; NaN for each when there is no unknown pixel.
    """
    p, g = _to_uint8_scale(pred), _to_uint8_scale(gt)
    t = np.squeeze(trimap.detach().cpu().numpy() if isinstance(trimap, torch.Tensor)
                   else np.asarray(trimap))
    if p.shape != g.shape or p.shape != t.shape:
        raise ValueError(f"matting_metrics: pred {p.shape}, gt {g.shape} and trimap {t.shape} "
                         "must be the same (H, W)")
    unknown = t == UNKNOWN
    n = int(unknown.sum())
    if n == 0:
        return dict.fromkeys(("SAD", "MSE", "Grad", "Conn"), math.nan)
    err = (p - g) / 255.0
    sad = float(np.abs(err)[unknown].sum()) / 1000.0
    mse = float((err[unknown] ** 2).sum()) / n
    gp = _gradient_magnitude(_mat2gray(p / 255.0), GRAD_SIGMA)
    gg = _gradient_magnitude(_mat2gray(g / 255.0), GRAD_SIGMA)
    grad = float(((gp - gg) ** 2)[unknown].sum()) / 1000.0
    phi_p, phi_g = _connectivity_phi(p / 255.0, g / 255.0)
    conn = float(np.abs(phi_p - phi_g)[unknown].sum()) / 1000.0
    return {"SAD": sad, "MSE": mse, "Grad": grad, "Conn": conn}


class MattingMetrics:
    """The mean of :func:`matting_metrics` over images (the official test averages per image),
    after pasting each trimap's known regions into the prediction."""

    KEYS = ("SAD", "MSE", "Grad", "Conn")

    def __init__(self) -> None:
        self.sums = dict.fromkeys(self.KEYS, 0.0)
        self.images = 0
        self.skipped = 0

    @torch.no_grad()
    def update(self, pred: torch.Tensor, gt: torch.Tensor, trimap: torch.Tensor) -> None:
        """Add a batch of predicted and true alphas (N, 1, H, W) and trimaps (0..255)."""
        for p, g, t in zip(pred, gt, trimap, strict=True):
            m = matting_metrics(paste_known(p, t), g, t)
            if math.isnan(m["SAD"]):
                self.skipped += 1
                continue
            for k in self.KEYS:
                self.sums[k] += m[k]
            self.images += 1

    def compute(self) -> dict[str, float | int]:
        """Mean SAD, MSE, Grad, Conn over the images with unknown pixels, and the counts."""
        n = self.images
        return ({k: (v / n if n else math.nan) for k, v in self.sums.items()}
                | {"images": n, "images_without_unknown": self.skipped})
