"""LaU: location-aware upsampling (He et al., 2019; HolmesShuan/Location-aware-Upsampling).

An offset branch predicts, for every high-resolution pixel, a shift (Δy, Δx) in low-resolution
pixel units; the output samples x bilinearly at (i/s + Δy, j/s + Δx) (``upbench.ops
.offset_bilinear``, corner-aligned, clamped to the map).
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from upbench import ops
from upbench.ops.offset_bilinear import sample_positions
from upbench.upsamplers._registry import register_upsampler
from upbench.upsamplers.base import Upsampler

IGNORE_INDEX = 255


@register_upsampler("lau")
class LaU(Upsampler):
    """Location-aware upsampling with the official offset branch and the §3.2 losses.

    Offset branch, one per direction (rows Δy, columns Δx): Conv1×1(C → ``bottleneck``, no bias) →
    LeakyReLU → Conv3×3(``bottleneck`` → s², no bias) → PixelShuffle(s), shared across channels
    (M = 1). The last convolutions start at zero, so at initialisation Δ = 0 and LaU is the
    corner-aligned bilinear upsampler (sampling at i/s, the border repeated past (h−1)·s).
    Usable as a feature upsampler at any stage.

    Location-aware losses (:meth:`extra_losses`) apply when this module's output is the
    prediction (class scores upsampled to the label size, as in the paper): ``forward_with_state``
    returns the input x and the offsets with the output, from which the bilinear counterpart
    (zero offsets) and the four integer-neighbour samplings are recomputed without gradient.
    Nothing is kept on the module.

    Args:
        bottleneck: channels of the 1×1 reduction (64 in the official code).
        loss: ``"offset"`` (offset-guided loss, Eq. 3), ``"regression"`` (offset regression,
            Eq. 4) or ``"none"``.
        lam: λ, the extra weight of pixels whose LaU loss is not below the reference (0.3).
        gamma: γ, the weight of the SmoothL1 offset regression (0.1).
        negative_slope: LeakyReLU slope.
    """

    ops: ClassVar[tuple[str, ...]] = ("offset_bilinear", "pixel_shuffle")

    def __init__(
        self,
        in_channels: int,
        scale: int,
        bottleneck: int = 64,
        loss: Literal["offset", "regression", "none"] = "offset",
        lam: float = 0.3,
        gamma: float = 0.1,
        negative_slope: float = 0.01,
        impl: str = "auto",
    ) -> None:
        super().__init__(in_channels, scale, impl)
        if loss not in ("offset", "regression", "none"):
            raise ValueError(f"lau: loss must be 'offset', 'regression' or 'none', got {loss!r}")
        self.loss, self.lam, self.gamma = loss, float(lam), float(gamma)
        self.branch_y = self._branch(in_channels, bottleneck, scale, negative_slope)
        self.branch_x = self._branch(in_channels, bottleneck, scale, negative_slope)

    @staticmethod
    def _branch(c: int, mid: int, s: int, slope: float) -> nn.Sequential:
        b = nn.Sequential(
            nn.Conv2d(c, mid, 1, bias=False),
            nn.LeakyReLU(slope),
            nn.Conv2d(mid, s * s, 3, padding=1, bias=False),
        )
        nn.init.kaiming_normal_(b[0].weight, a=slope)
        nn.init.zeros_(b[2].weight)  # Δ = 0 at init: corner-aligned bilinear
        return b

    def offsets(self, x: torch.Tensor) -> torch.Tensor:
        """The predicted offsets (N, 2, s·h, s·w): channel 0 = Δy, channel 1 = Δx."""
        dy = ops.pixel_shuffle(self.branch_y(x), self.scale, impl=self.impl)
        dx = ops.pixel_shuffle(self.branch_x(x), self.scale, impl=self.impl)
        return torch.cat((dy, dx), dim=1)

    def forward(self, x: torch.Tensor, guide: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward_with_state(x, guide)[0]

    def forward_with_state(self, x: torch.Tensor, guide: torch.Tensor | None = None
                           ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """The output and the state of the losses: (x, offsets (N, 2, s·h, s·w))."""
        self.check_input(x, guide)
        off = self.offsets(x)
        return ops.offset_bilinear(x, off, self.scale, impl=self.impl), (x, off)

    # ------------------------------------------------------------------------------------------
    # Location-aware losses (paper §3.2)

    def extra_losses(self, outputs: torch.Tensor, target: torch.Tensor,
                     state: tuple[torch.Tensor, torch.Tensor] | None = None
                     ) -> dict[str, torch.Tensor]:
        """The location-aware losses of one forward.

        With L_i the per-pixel cross-entropy of ``outputs`` (this module's output) and
        target (ignore 255), the paper's offset-guided loss is Σ L_i·Λ_i with Λ_i = 1 where
        L_i < L'_i (the bilinear counterpart, zero offsets) and 1 + λ otherwise. The standard
        cross-entropy (Λ = 1) is the task loss, so this returns only the extra part
        ``lau_offset_guided`` = mean_i λ·L_i·[L_i ≥ L'_i] (mean over valid pixels, like the CE).
        With ``loss="regression"`` (Eq. 4) the condition is L_i ≤ min over the four integer
        neighbours' losses, and ``lau_regression`` = γ·mean_i SmoothL1(Θ_opt − position) pulls
        the sampling position (i/s + Δ) towards the best of {itself, the four integer
        neighbours ⌊·⌋/⌈·⌉ of i/s}. Λ and Θ_opt carry no gradient.

        Args:
            outputs: the prediction (N, K, H, W) returned by :meth:`forward_with_state`.
            target: integer labels (N, H, W), 255 = ignore.
            state: the state :meth:`forward_with_state` returned with ``outputs``.
        """
        if self.loss == "none":
            return {}
        if state is None:
            raise ValueError("lau.extra_losses: pass the state that forward_with_state returned "
                             "with outputs (the losses use its input and offsets)")
        x, off = state
        want = (x.shape[0], x.shape[1], x.shape[2] * self.scale, x.shape[3] * self.scale)
        if tuple(outputs.shape) != want:
            raise ValueError(
                f"lau.extra_losses: outputs {tuple(outputs.shape)} are not this upsampler's "
                f"output {want}; the location-aware losses need LaU to produce the "
                "prediction (class scores at the label size)"
            )
        if target.shape != (outputs.shape[0], *outputs.shape[2:]):
            raise ValueError(
                f"lau.extra_losses: target must be (N, H, W) = "
                f"{(outputs.shape[0], *outputs.shape[2:])}; got {tuple(target.shape)}"
            )
        valid = target != IGNORE_INDEX
        n_valid = valid.sum().clamp(min=1)
        loss = F.cross_entropy(outputs, target.long(), ignore_index=IGNORE_INDEX, reduction="none")
        with torch.no_grad():
            if self.loss == "offset":
                ref = F.cross_entropy(self._bilinear(x), target.long(),
                                      ignore_index=IGNORE_INDEX, reduction="none")
                worse = loss >= ref
            else:
                cand_losses, cand_pos = self._neighbour_losses(x, target)
                worse = loss > cand_losses.min(0).values
        extra = {"lau_offset_guided": (self.lam * loss * (worse & valid)).sum() / n_valid}
        if self.loss == "regression":
            py, px = sample_positions(off, self.scale, self.scale)  # (N, 1, H, W) each
            pos = torch.cat((py, px), 1)
            with torch.no_grad():
                # Θ_opt: the position with the smallest loss among {moved, 4 neighbours}
                all_losses = torch.cat((loss.detach()[None], cand_losses), 0)  # (5, N, H, W)
                best = all_losses.argmin(0)  # first minimum, the moved point first
                all_pos = torch.cat((pos.detach()[None], cand_pos), 0)  # (5, N, 2, H, W)
                idx = best[None, :, None].expand(1, *pos.shape)
                target_pos = all_pos.gather(0, idx)[0]
            sl1 = F.smooth_l1_loss(pos, target_pos, reduction="none").sum(1)
            extra["lau_regression"] = self.gamma * (sl1 * valid).sum() / n_valid
        return extra

    def _bilinear(self, x: torch.Tensor) -> torch.Tensor:
        n, _c, h, w = x.shape
        s = self.scale
        zero = x.new_zeros(n, 2, s * h, s * w)
        return ops.offset_bilinear(x, zero, s, impl=self.impl)

    def _neighbour_losses(self, x: torch.Tensor, target: torch.Tensor):
        """Losses and positions of the four nearest samplings at (⌊i/s⌋|⌈i/s⌉, ⌊j/s⌋|⌈j/s⌉)."""
        n, _c, h, w = x.shape
        s = self.scale
        iy = torch.arange(h * s, device=x.device, dtype=x.dtype) / s
        ix = torch.arange(w * s, device=x.device, dtype=x.dtype) / s
        rows = (iy.floor().long(), iy.ceil().long().clamp(max=h - 1))
        cols = (ix.floor().long(), ix.ceil().long().clamp(max=w - 1))
        losses, positions = [], []
        for r in rows:  # order: (⌊⌋,⌊⌋), (⌊⌋,⌈⌉), (⌈⌉,⌊⌋), (⌈⌉,⌈⌉)
            for c in cols:
                pred = x[:, :, r][:, :, :, c]
                losses.append(F.cross_entropy(pred, target.long(), ignore_index=IGNORE_INDEX,
                                              reduction="none"))
                pos = torch.stack(torch.broadcast_tensors(r[:, None].to(x.dtype),
                                                          c[None, :].to(x.dtype)))
                positions.append(pos.expand(n, 2, h * s, w * s))
        return torch.stack(losses), torch.stack(positions)

    def macs(self, x_shape: tuple[int, ...], guide_shape: tuple[int, ...] | None = None) -> int:
        """MACs of one forward: two offset branches (C·B + 9·B·s² per low-res pixel each) and the
        sampling (4 per output element)."""
        n, c, h, w = x_shape
        b = self.branch_y[0].out_channels
        s2 = self.scale**2
        return n * h * w * (2 * (c * b + 9 * b * s2) + 4 * c * s2)
