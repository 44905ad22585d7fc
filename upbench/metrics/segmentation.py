"""Segmentation metrics as docs/metrics.md defines them (values in percent, as mmseg reports).

* mIoU / aAcc / mAcc — mmseg ``IoUMetric``: pixels labelled ``ignore_index`` are dropped;
  per-class intersection, prediction and label areas are summed over the whole dataset before
  dividing; IoU_c = ΣI_c / (ΣP_c + ΣL_c − ΣI_c); mIoU = nanmean (a class absent from both
  prediction and label is NaN and drops out); aAcc = ΣI / ΣL; mAcc = nanmean of I_c / L_c.
* Boundary IoU — Cheng et al. 2021 (boundary-iou-api): per class mask, the boundary is the mask
  minus its erosion by a 3×3 kernel applied d times, d = max(1, round(ratio·√(h²+w²))), with the
  image outside treated as zero (a 1-pixel zero pad), so cuts at the image edge count as
  boundary. bIoU_c = Σ|B_G ∩ B_P| / Σ|B_G ∪ B_P| over the dataset (ignored pixels dropped),
  averaged over classes like mIoU.
* Trimap mIoU — DeepLab / NRD: mIoU restricted to the band of pixels within Chebyshev distance
  ``w`` of a ground-truth label boundary (a pixel whose 3×3 neighbourhood holds another label;
  the ignore label counts as a label, the image edge does not).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def area_stats(pred: torch.Tensor, target: torch.Tensor, num_classes: int,
               valid: torch.Tensor | None = None) -> torch.Tensor:
    """Per-class (intersection, prediction, label) pixel counts, shape (3, K), float64.

    Pixels where ``valid`` is False are dropped (``valid`` defaults to all).
    """
    if valid is not None:
        pred, target = pred[valid], target[valid]
    pred, target = pred.reshape(-1), target.reshape(-1)
    k = num_classes
    inter = torch.bincount(target[pred == target], minlength=k)[:k]
    area_p = torch.bincount(pred[(pred >= 0) & (pred < k)], minlength=k)[:k]
    area_l = torch.bincount(target, minlength=k)[:k]
    return torch.stack([inter, area_p, area_l]).double()


def iou_from_stats(stats: torch.Tensor) -> torch.Tensor:
    """Per-class IoU (NaN where the union is empty) from :func:`area_stats` sums."""
    inter, area_p, area_l = stats
    union = area_p + area_l - inter
    return torch.where(union > 0, inter / union.clamp_min(1), torch.full_like(inter, math.nan))


def nanmean(v: torch.Tensor) -> float:
    """Mean over non-NaN entries (NaN when all are NaN)."""
    ok = ~torch.isnan(v)
    return float(v[ok].mean()) if ok.any() else math.nan


def erode(mask: torch.Tensor, iterations: int) -> torch.Tensor:
    """Binary erosion of (N, K, H, W) masks by a 3×3 square, ``iterations`` times, zero outside."""
    m = mask.float()
    for _ in range(iterations):
        m = -F.max_pool2d(-F.pad(m, (1, 1, 1, 1), value=0.0), 3, stride=1)
    return m > 0.5


def boundary_dilation(h: int, w: int, ratio: float = 0.02) -> int:
    """d = max(1, round(ratio · image diagonal)) (boundary-iou-api)."""
    return max(1, round(ratio * math.sqrt(h * h + w * w)))


def mask_boundaries(labels: torch.Tensor, num_classes: int, dilation: int) -> torch.Tensor:
    """Per-class boundary masks (N, K, H, W) of a label map (N, H, W)."""
    onehot = torch.stack([labels == c for c in range(num_classes)], dim=1)
    return onehot & ~erode(onehot, dilation)


def label_boundary(target: torch.Tensor) -> torch.Tensor:
    """Pixels of (N, H, W) whose 3×3 neighbourhood holds a different label (edges replicate)."""
    t = F.pad(target.unsqueeze(1).double(), (1, 1, 1, 1), mode="replicate")
    hi = F.max_pool2d(t, 3, stride=1)
    lo = -F.max_pool2d(-t, 3, stride=1)
    return (hi != lo).squeeze(1)


def trimap_band(target: torch.Tensor, width: int) -> torch.Tensor:
    """Pixels within Chebyshev distance ``width`` of a ground-truth label boundary."""
    b = label_boundary(target).unsqueeze(1).float()
    if width > 0:
        b = F.max_pool2d(b, 2 * width + 1, stride=1, padding=width)
    return b.squeeze(1) > 0


class SegMetrics:
    """Accumulates every segmentation metric over a dataset; :meth:`compute` returns them.

    Args:
        num_classes: K.
        ignore_index: the label that is dropped (255).
        boundary_dilation_ratio: boundary IoU's ratio (0.02).
        trimap_widths: band widths w of the trimap mIoU.
    """

    def __init__(self, num_classes: int, ignore_index: int = 255,
                 boundary_dilation_ratio: float = 0.02,
                 trimap_widths: tuple[int, ...] | list[int] = (2, 4)) -> None:
        self.k, self.ignore = num_classes, ignore_index
        self.ratio, self.widths = boundary_dilation_ratio, list(trimap_widths)
        self.stats = torch.zeros(3, num_classes, dtype=torch.float64)
        self.bstats = torch.zeros(2, num_classes, dtype=torch.float64)
        self.tstats = {w: torch.zeros(3, num_classes, dtype=torch.float64) for w in self.widths}

    @torch.no_grad()
    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """Add a batch of predicted (N, H, W) and ground-truth (N, H, W) label maps."""
        if pred.shape != target.shape:
            raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
        pred, target = pred.long().cpu(), target.long().cpu()
        valid = target != self.ignore
        self.stats += area_stats(pred, target, self.k, valid)
        h, w = target.shape[-2:]
        d = boundary_dilation(h, w, self.ratio)
        bg = mask_boundaries(target, self.k, d)
        bp = mask_boundaries(pred, self.k, d)
        v = valid.unsqueeze(1)
        self.bstats[0] += ((bg & bp) & v).sum(dim=(0, 2, 3)).double()
        self.bstats[1] += ((bg | bp) & v).sum(dim=(0, 2, 3)).double()
        for width in self.widths:
            band = trimap_band(target, width) & valid
            self.tstats[width] += area_stats(pred, target, self.k, band)

    def compute(self) -> dict[str, object]:
        """mIoU, aAcc, mAcc, bIoU, trimap_mIoU@w (percent) and per-class IoU / bIoU lists."""
        inter, _, area_l = self.stats
        iou = iou_from_stats(self.stats)
        acc = torch.where(area_l > 0, inter / area_l.clamp_min(1), torch.full_like(inter, math.nan))
        bi, bu = self.bstats
        biou = torch.where(bu > 0, bi / bu.clamp_min(1), torch.full_like(bi, math.nan))
        total = float(area_l.sum())
        out: dict[str, object] = {
            "mIoU": 100 * nanmean(iou),
            "aAcc": 100 * float(inter.sum()) / total if total else math.nan,
            "mAcc": 100 * nanmean(acc),
            "bIoU": 100 * nanmean(biou),
        }
        for width, st in self.tstats.items():
            out[f"trimap_mIoU@{width}"] = 100 * nanmean(iou_from_stats(st))
        out["per_class_IoU"] = [100 * float(v) for v in iou]
        out["per_class_bIoU"] = [100 * float(v) for v in biou]
        return out
