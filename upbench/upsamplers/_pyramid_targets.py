"""Ground truth and relabelling of "Specialize and Fuse" (§3.1–3.2 and supplementary).

For level ℓ (0 = coarsest) each cell covers ``cell_sizes[ℓ]²`` pixels of the label map:

* unity-cell: all its pixels share one label → unity target 1, semantic target = that label;
* mix-cell: ≥ 2 labels → unity target 0, semantic target ignored;
* one label plus ignore pixels, or only ignore pixels → both targets ignored (the cell is never a
  true positive, so its children are never relabelled).

Relabelling ("done by coarser"): the descendants, at every finer level, of a **correctly
predicted** unity-cell (ground truth unity and predicted probability ≥ τ) get ignored semantic
and unity targets.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE_UNITY = -1.0


def pyramid_ground_truth(
    labels: torch.Tensor, num_classes: int, cell_sizes: list[int], ignore_index: int = 255
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Semantic and unity targets of every level.

    Args:
        labels: (N, H, W) integer labels, H and W multiples of every cell size.
        num_classes: K; labels outside [0, K) count as ignore.
        cell_sizes: pixels per cell side of each level, coarsest first, each twice the next.
        ignore_index: the ignore value used in the returned semantic targets.

    Returns:
        (semantic targets (N, h_ℓ, w_ℓ) int64 with ``ignore_index``,
         unity targets (N, 1, h_ℓ, w_ℓ) float: 1 unity, 0 mix, -1 ignored).
    """
    lab = labels.long()
    valid = (lab >= 0) & (lab < num_classes)
    onehot = F.one_hot(torch.where(valid, lab, num_classes), num_classes + 1)
    counts = onehot.permute(0, 3, 1, 2).float()  # (N, K + 1, H, W); channel K counts ignore
    sem_t: list[torch.Tensor] = []
    uni_t: list[torch.Tensor] = []
    cur: torch.Tensor | None = None
    cur_size = 1
    for size in reversed(cell_sizes):  # finest first: pool the counts hierarchically
        if cur is None:
            cur = F.avg_pool2d(counts, size) * (size * size)
        else:
            f = size // cur_size
            cur = F.avg_pool2d(cur, f) * (f * f)
        cur_size = size
        present = (cur[:, :num_classes] > 0).sum(1)
        has_ignore = cur[:, num_classes] > 0
        unity = (present == 1) & ~has_ignore
        mix = present >= 2
        u = torch.full(unity.shape, IGNORE_UNITY, dtype=torch.float32, device=labels.device)
        u[unity] = 1.0
        u[mix] = 0.0
        y = torch.where(unity, cur[:, :num_classes].argmax(1), torch.full_like(present, ignore_index))
        sem_t.append(y)
        uni_t.append(u.unsqueeze(1))
    return sem_t[::-1], uni_t[::-1]


def relabel_done_by_coarser(
    sem_targets: list[torch.Tensor],
    unity_targets: list[torch.Tensor],
    unity_pred: list[torch.Tensor],
    tau: float,
    ignore_index: int = 255,
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Ignore the descendants of true-positive unity-cells at every finer level.

    Args:
        sem_targets / unity_targets: from :func:`pyramid_ground_truth` (L levels).
        unity_pred: predicted unity probabilities of levels 0 … len(unity_pred) − 1
            (N, 1, h_ℓ, w_ℓ); usually L − 1 of them.
        tau: unity threshold.

    Returns:
        New (semantic, unity) target lists.
    """
    sem = [t.clone() for t in sem_targets]
    uni = [t.clone() for t in unity_targets]
    done = None  # (N, 1, h_ℓ, w_ℓ) bool: cell covered by a true positive at a coarser level
    for lvl in range(len(sem)):
        if done is not None:
            done = F.interpolate(done.float(), size=sem[lvl].shape[1:], mode="nearest") > 0.5
            sem[lvl][done[:, 0]] = ignore_index
            uni[lvl][done] = IGNORE_UNITY
        if lvl < len(unity_pred):
            tp = (unity_pred[lvl].detach() >= tau) & (unity_targets[lvl] == 1.0)
            done = tp if done is None else (done | tp)
    return sem, uni
