"""Monocular depth metrics exactly as BTS's evaluation (``bts_eval.py``; docs/metrics.md "Depth").

Per image: the prediction is clamped to ``[min_depth, max_depth]``, ``inf`` → max, ``NaN`` →
min (in that order, as BTS); the valid pixels are ``min_depth < gt < max_depth`` (and, with
``eigen_crop``, inside rows 45:471 and columns 41:601 of a 480×640 map); then

* ``abs_rel`` = mean(|gt − p| / gt), ``sq_rel`` = mean((gt − p)² / gt),
* ``rmse`` = √mean((gt − p)²), ``rmse_log`` = √mean((ln gt − ln p)²),
* ``log10`` = mean(|log10 p − log10 gt|),
* ``d1``, ``d2``, ``d3`` = mean(max(gt/p, p/gt) < 1.25^k), k = 1, 2, 3 (fractions, as BTS prints),
* ``silog`` = 100·√(mean(e²) − mean(e)²), e = ln p − ln gt.

A dataset's numbers are the mean of the per-image values (BTS averages over images), see
:class:`DepthMetrics`.
"""

from __future__ import annotations

import math

import torch

KEYS = ("silog", "abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "d1", "d2", "d3")
EIGEN_CROP = (45, 471, 41, 601)  # rows, columns of the 480×640 NYU map (BTS, Eigen et al.)


def depth_metrics(pred: torch.Tensor, gt: torch.Tensor, *, min_depth: float = 1e-3,
                  max_depth: float = 10.0, eigen_crop: bool = False) -> dict[str, float]:
    """BTS's nine depth metrics of one image (see the module docstring).

    Args:
        pred: predicted depth (H, W) (or (1, H, W)) in metres.
        gt: ground-truth depth of the same size; 0 (or anything outside (min, max)) is invalid.
        min_depth, max_depth: the evaluation range (NYU: 1e-3, 10).
        eigen_crop: evaluate only inside the Eigen crop (480×640 maps only).

    Returns:
        ``{silog, abs_rel, sq_rel, rmse, rmse_log, log10, d1, d2, d3}``; NaN for each when the
        image has no valid pixel.

    Raises:
        ValueError: shapes differ, or the Eigen crop is asked of a map that is not 480×640.
    """
    pred, gt = pred.detach().double(), gt.detach().double()
    if pred.dim() == 3 and pred.shape[0] == 1:
        pred = pred[0]
    if gt.dim() == 3 and gt.shape[0] == 1:
        gt = gt[0]
    if pred.shape != gt.shape or pred.dim() != 2:
        raise ValueError(f"depth_metrics: pred {tuple(pred.shape)} and gt {tuple(gt.shape)} must "
                         "be the same (H, W)")
    pred = pred.clone()
    pred[pred < min_depth] = min_depth
    pred[pred > max_depth] = max_depth
    pred[torch.isinf(pred)] = max_depth
    pred[torch.isnan(pred)] = min_depth
    valid = (gt > min_depth) & (gt < max_depth)
    if eigen_crop:
        if tuple(gt.shape) != (480, 640):
            raise ValueError(f"depth_metrics: the Eigen crop is defined on 480×640 maps, got "
                             f"{tuple(gt.shape)}; pass eigen_crop=False")
        crop = torch.zeros_like(valid)
        r0, r1, c0, c1 = EIGEN_CROP
        crop[r0:r1, c0:c1] = True
        valid &= crop
    if not bool(valid.any()):
        return dict.fromkeys(KEYS, math.nan)
    p, g = pred[valid], gt[valid]
    thresh = torch.maximum(g / p, p / g)
    err = torch.log(p) - torch.log(g)
    return {
        "silog": float(torch.sqrt((err**2).mean() - err.mean() ** 2) * 100),
        "abs_rel": float(((g - p).abs() / g).mean()),
        "sq_rel": float((((g - p) ** 2) / g).mean()),
        "rmse": float(torch.sqrt(((g - p) ** 2).mean())),
        "rmse_log": float(torch.sqrt(((torch.log(g) - torch.log(p)) ** 2).mean())),
        "log10": float((torch.log10(p) - torch.log10(g)).abs().mean()),
        "d1": float((thresh < 1.25).double().mean()),
        "d2": float((thresh < 1.25**2).double().mean()),
        "d3": float((thresh < 1.25**3).double().mean()),
    }


class DepthMetrics:
    """Averages :func:`depth_metrics` over images, as BTS's evaluation does (images without a
    valid pixel are skipped and counted).

    Args:
        min_depth, max_depth, eigen_crop: as :func:`depth_metrics`.
    """

    def __init__(self, min_depth: float = 1e-3, max_depth: float = 10.0,
                 eigen_crop: bool = False) -> None:
        self.min_depth, self.max_depth, self.eigen_crop = min_depth, max_depth, eigen_crop
        self.sums = dict.fromkeys(KEYS, 0.0)
        self.images = 0
        self.skipped = 0

    @torch.no_grad()
    def update(self, pred: torch.Tensor, gt: torch.Tensor) -> None:
        """Add a batch of predicted and ground-truth depth maps (N, 1, H, W) or (N, H, W)."""
        if pred.shape != gt.shape:
            raise ValueError(f"pred {tuple(pred.shape)} and gt {tuple(gt.shape)} differ")
        for p, g in zip(pred, gt, strict=True):
            m = depth_metrics(p, g, min_depth=self.min_depth, max_depth=self.max_depth,
                              eigen_crop=self.eigen_crop)
            if math.isnan(m["abs_rel"]):
                self.skipped += 1
                continue
            for k in KEYS:
                self.sums[k] += m[k]
            self.images += 1

    def compute(self) -> dict[str, float | int]:
        """The mean of every metric over the images with valid pixels, and the image counts."""
        n = self.images
        out: dict[str, float | int] = {k: (v / n if n else math.nan) for k, v in self.sums.items()}
        out["images"] = n
        out["images_without_valid_depth"] = self.skipped
        return out
