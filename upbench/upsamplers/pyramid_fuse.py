"""Pyramid fuse: "Specialize and Fuse" (Hsiao et al., ICCV 2021) as a label-space decoder."""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from upbench import ops
from upbench.upsamplers._pyramid_targets import (
    IGNORE_UNITY,
    pyramid_ground_truth,
    relabel_done_by_coarser,
)
from upbench.upsamplers._registry import register_upsampler
from upbench.upsamplers.label_decoder import LabelDecoder


class UnityHead(nn.Module):
    """§4.1: X_u = 1×1 conv(X) to D_u; centroids = shared 1×1 conv(AvgPool(X_u, f_ℓ));
    diff = 1×1 conv(X_u) − nearest-up(centroid); sigmoid(1×1 conv(diff)); min-pool over each
    f_ℓ×f_ℓ cell → Û(ℓ) (N, 1, H/f_ℓ, W/f_ℓ)."""

    def __init__(self, in_channels: int, unity_channels: int = 64) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(in_channels, unity_channels, 1)
        self.centroid = nn.Conv2d(unity_channels, unity_channels, 1)
        self.embed = nn.Conv2d(unity_channels, unity_channels, 1)
        self.score = nn.Conv2d(unity_channels, 1, 1)

    def forward(self, x: torch.Tensor, factors: list[int]) -> list[torch.Tensor]:
        """Û(ℓ) for each pooling factor f_ℓ; no factors (one level) computes nothing."""
        if not factors:
            return []
        xu = self.reduce(x)
        emb = self.embed(xu)
        out = []
        for f in factors:
            cen = self.centroid(F.avg_pool2d(xu, f))
            diff = emb - cen.repeat_interleave(f, 2).repeat_interleave(f, 3)
            prob = torch.sigmoid(self.score(diff))
            out.append(-F.max_pool2d(-prob, f))
        return out


@register_upsampler("pyramid-fuse")
class PyramidFuse(LabelDecoder):
    """Specialize-and-fuse decoder (label space; docs/operators.md "Pyramid fuse").

    Forward contract: ``forward(x, guide=None, pyramid=...)``; ``pyramid`` is the list of decoder
    features from the coarsest (== x, (N, in_channels, h, w), stride ``scale``) to the finest,
    each twice the previous spatially, all with in_channels channels (``needs_pyramid``).
    ``guide`` is ignored. Returns logits (N, num_classes, s·h, s·w).

    The number of levels used is L = min(``levels``, len(pyramid), 1 + log2 of the largest power
    of two dividing ``scale``) — 4 for the baseline (strides 32, 16, 8, 4). Heads, on the finest
    used feature X = pyramid[L − 1]:

    * semantic head (Eq. 3): X^(ℓ) = AvgPool(X, 2^(L−1−ℓ)) projected by a per-level 1×1 conv to
      the K classes. Deviation: for the coarser levels the decoder's own feature of that level is
      added before the projection, X^(ℓ) = AvgPool(X, 2^(L−1−ℓ)) + P_ℓ (P_0 = x, P_ℓ =
      pyramid[ℓ]), so every level of the decoder pyramid (and x) reaches the prediction; the
      finest level is X itself;
    * unity head (§4.1, :class:`UnityHead`, D_u = ``unity_channels``) for levels 0 … L−2.

    :func:`upbench.ops.pyramid_fuse` (τ = ``tau``) picks each finest pixel's level; the result is
    bilinearly upsampled by the finest level's remaining stride s / 2^(L−1) (4 in the baseline).

    Training (§3.2): :meth:`extra_losses` builds the ground-truth pyramids from the label map,
    relabels the descendants of correctly predicted unity-cells as ignored ("done by coarser")
    and returns ``pyramid_ce`` (mean CE over the L levels) and ``unity_bce`` (mean BCE over the
    L − 1 unity levels); it uses the pyramids of the most recent forward.

    Args:
        num_classes: K.
        levels: L (4).
        tau: τ (0.9).
        unity_channels: D_u (64).
        ignore_index: ignore label of the targets.
    """

    needs_pyramid: ClassVar[bool] = True
    ops = ("pyramid_fuse", "bilinear_upsample")

    def __init__(
        self,
        in_channels: int,
        scale: int,
        num_classes: int = 19,
        levels: int = 4,
        tau: float = 0.9,
        unity_channels: int = 64,
        ignore_index: int = 255,
        impl: str = "auto",
    ) -> None:
        super().__init__(in_channels, scale, num_classes, impl)
        if levels < 1:
            raise ValueError(f"pyramid-fuse: levels must be >= 1, got {levels}")
        twos = 0
        while scale % (2 ** (twos + 1)) == 0:
            twos += 1
        self.levels = min(levels, twos + 1)
        self.tau = tau
        self.ignore_index = ignore_index
        self.semantic = nn.ModuleList(nn.Conv2d(in_channels, num_classes, 1)
                                      for _ in range(self.levels))
        self.unity = UnityHead(in_channels, unity_channels)

    def _used_levels(self, pyramid: list[torch.Tensor] | None) -> int:
        return min(self.levels, len(pyramid)) if pyramid else 1

    def check_input(self, x: torch.Tensor, guide: torch.Tensor | None,
                    pyramid: list[torch.Tensor] | None = None) -> None:
        super().check_input(x, None)
        cls = type(self).__name__
        if not pyramid:
            raise ValueError(f"{cls} needs pyramid= (decoder features, coarsest == x first, each "
                             "2x the previous)")
        n, c, h, w = x.shape
        for i, p in enumerate(pyramid[: self.levels]):
            want = (n, c, h << i, w << i)
            if p.dim() != 4 or tuple(p.shape) != want:
                raise ValueError(f"{cls}: pyramid[{i}] must be {want}; got {tuple(p.shape)}")

    def forward(
        self,
        x: torch.Tensor,
        guide: torch.Tensor | None = None,
        pyramid: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        return self.forward_with_state(x, guide, pyramid)[0]

    def forward_with_state(
        self,
        x: torch.Tensor,
        guide: torch.Tensor | None = None,
        pyramid: list[torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, dict[str, list[torch.Tensor]]]:
        """The logits and the state of the losses: the semantic and unity pyramids."""
        self.check_input(x, guide, pyramid)
        L = self._used_levels(pyramid)
        feat = pyramid[L - 1]
        factors = [1 << (L - 1 - i) for i in range(L)]
        levels = [x] + list(pyramid[1:L])
        sem = [conv((F.avg_pool2d(feat, f) + lv) if f > 1 else feat)
               for conv, f, lv in zip(self.semantic[:L], factors, levels, strict=True)]
        uni = self.unity(feat, factors[:-1]) if L > 1 else []
        out, _level = ops.pyramid_fuse(sem, uni, self.tau, impl=self.impl)
        rest = self.scale >> (L - 1)
        out = ops.bilinear_upsample(out, rest, impl=self.impl) if rest > 1 else out
        return out, {"semantic": sem, "unity": uni}

    def extra_losses(self, outputs: torch.Tensor, target: torch.Tensor,
                     state: dict[str, list[torch.Tensor]] | None = None
                     ) -> dict[str, torch.Tensor]:
        """``pyramid_ce`` and ``unity_bce`` of Eq. 1 for one forward; target (N, H, W) at the
        output resolution, ignore ``ignore_index``; ``state`` as :meth:`forward_with_state`
        returned it."""
        if state is None:
            raise ValueError("pyramid-fuse.extra_losses: pass the state that forward_with_state "
                             "returned with outputs (the semantic and unity pyramids)")
        sem, uni = state["semantic"], state["unity"]
        H = target.shape[-2]
        cells = [H // s.shape[2] for s in sem]
        sem_t, uni_t = pyramid_ground_truth(target, self.num_classes, cells, self.ignore_index)
        sem_t, uni_t = relabel_done_by_coarser(sem_t, uni_t, uni, self.tau, self.ignore_index)
        ces = []
        for logits, t in zip(sem, sem_t, strict=True):
            ce = F.cross_entropy(logits, t, ignore_index=self.ignore_index, reduction="sum")
            ces.append(ce / (t != self.ignore_index).sum().clamp_min(1))
        losses = {"pyramid_ce": torch.stack(ces).mean()}
        if uni:
            bces = []
            for p, t in zip(uni, uni_t[: len(uni)], strict=True):
                m = t != IGNORE_UNITY
                pc = p.clamp(1e-6, 1 - 1e-6)
                bce = -(t * pc.log() + (1 - t) * (1 - pc).log())
                bces.append((bce * m).sum() / m.sum().clamp_min(1))
            losses["unity_bce"] = torch.stack(bces).mean()
        return losses
