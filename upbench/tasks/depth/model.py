"""The depth baseline: BTS-style encoder-decoder, as the SAPA paper's depth experiment.

Architecture (encoder widths ``w``, decoder channels ``D = [D1, D2, D3, D4]``)::

    image ─ stem conv (s2: S2) ─ stem conv (s4) ─ stage2 (C2) ─ stage3 (C3) ─ stage4 (C4) ─ stage5 (C5, s32)
    d5 = C5
    stage 1: u = ELU(conv3(up[0](d5, guide=C4)))  → D1 at s16;  d4 = ELU(conv3(cat(u, C4)))   ← slot up.0
    stage 2: u = ELU(conv3(up[1](d4, guide=C3)))  → D2 at s8;   d3 = ELU(conv3(cat(u, C3)))   ← slot up.1
    stage 3: u = ELU(conv3(up[2](d3, guide=C2)))  → D3 at s4;   d2 = ELU(conv3(cat(u, C2)))   ← slot up.2
    stage 4: u = ELU(conv3(up[3](d2, guide=S2)))  → D4 at s2;   d1 = ELU(conv3(cat(u, S2)))   ← slot up.3
    last:    nearest ×2 → ELU(conv3) → conv3 → 1 channel;  depth = max_depth · sigmoid(·)

A feature upsampler fills every ×2 stage but the last, which stays nearest (as the SAPA paper's
BTS experiment); guided upsamplers get the encoder skip at the target resolution (``guide``,
its own channel count — so SAPA-I, which needs equal channels, is n/a, as in the paper).
Label-space decoders predict class labels and are n/a here.

Loss: BTS's scale-invariant log loss ``10·√(mean(d²) − 0.85·mean(d)²)``, d = ln p − ln gt over the
valid pixels (min_depth < gt ≤ max_depth). Prediction: the depth map (N, 1, H, W).

The encoder, decoder convolutions and head are initialised from ``seed`` before any slot, the
slots from ``seed + SLOT_SEED_OFFSET`` (:mod:`upbench.models.slots`), so every upsampler of a suite starts from the same weights.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from upbench.models import SLOT_SEED_OFFSET, Encoder
from upbench.models.slots import decoder_slots_only
from upbench.models.topdown import slot_upsamplers
from upbench.tasks.base import TaskModel

VARIANCE_FOCUS = 0.85  # BTS's λ


def conv_elu(cin: int, cout: int) -> nn.Sequential:
    """3×3 conv + ELU (BTS's decoder block)."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ELU(inplace=True))


def silog_loss(pred: torch.Tensor, gt: torch.Tensor, min_depth: float, max_depth: float
               ) -> torch.Tensor:
    """BTS's scale-invariant log loss over valid pixels (0 for a batch without any)."""
    valid = (gt > min_depth) & (gt <= max_depth)
    if not bool(valid.any()):
        return pred.sum() * 0.0
    d = torch.log(pred[valid]) - torch.log(gt[valid])
    return 10.0 * torch.sqrt((d**2).mean() - VARIANCE_FOCUS * d.mean() ** 2)


class DepthBaseline(TaskModel):
    """The BTS-style depth baseline with four ×2 upsampler slots (see the module docstring).

    Args:
        upsampler: registry name of the upsampler under test; ``hparams`` its hyper-parameters.
        widths, blocks: the encoder.
        decoder_channels: D1..D4 of the four ×2 stages.
        max_depth: output range (metres); min_depth: the loss's validity threshold.
        impl: ``auto`` | ``native`` | ``reference`` for every upsampler.
        seed: initialisation seed (None: the current RNG state).
        placement: only the decoder stages (None / ``decoder``) host an upsampler here.

    Raises:
        Unhostable: a label-space decoder, a final placement, or an upsampler that cannot be
            built for a stage (e.g. SAPA-I: the skip's channels differ from the decoder's).
    """

    def __init__(self, upsampler: str = "nearest", hparams: dict[str, Any] | None = None,
                 widths: list[int] | None = None, blocks: list[int] | None = None,
                 decoder_channels: list[int] | None = None, max_depth: float = 10.0,
                 min_depth: float = 1e-3, impl: str = "auto", seed: int | None = None,
                 placement: str | None = None) -> None:
        super().__init__()
        widths = list(widths or [16, 32, 64, 128])
        blocks = list(blocks or [1, 1, 1, 1])
        dec = list(decoder_channels or [64, 32, 16, 16])
        decoder_slots_only(upsampler, placement, "depth regresses a continuous map",
                           "the depth baseline hosts upsamplers in its ×2 decoder stages "
                           "only; its last stage stays nearest (as BTS in the SAPA paper)")
        self.placement = "decoder"
        self.max_depth, self.min_depth = float(max_depth), float(min_depth)
        if seed is not None:
            torch.manual_seed(seed)
        self.encoder = Encoder(widths, blocks)
        skips = [widths[2], widths[1], widths[0], self.encoder.stem_channels]
        ins = [widths[3], *dec[:3]]
        self.upconv = nn.ModuleList(conv_elu(c, d) for c, d in zip(ins, dec, strict=True))
        self.iconv = nn.ModuleList(conv_elu(d + s, d) for d, s in zip(dec, skips, strict=True))
        self.head = nn.Sequential(conv_elu(dec[3], dec[3]), nn.Conv2d(dec[3], 1, 3, padding=1))
        if seed is not None:
            torch.manual_seed(seed + SLOT_SEED_OFFSET)
        self.up, self.adapt = slot_upsamplers(upsampler, dict(hparams or {}), impl, ins, len(ins),
                                              skips)
        self.slots = [f"up.{i}" for i in range(4)]

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Depth (N, 1, H, W) in metres for images (N, 3, H, W), H and W multiples of 32."""
        if image.dim() != 4 or image.shape[2] % 32 or image.shape[3] % 32:
            raise ValueError(f"DepthBaseline: input must be (N, 3, H, W) with H, W multiples of "
                             f"32, got {tuple(image.shape)}")
        s2, c2, c3, c4, c5 = self.encoder.features(image)
        d = c5
        for i, skip in enumerate((c4, c3, c2, s2)):
            guide = skip if self.up[i].guided else None
            u = self.upconv[i](self.adapt[i](self.up[i](d, guide)))
            d = self.iconv[i](torch.cat((u, skip), 1))
        d = F.interpolate(d, scale_factor=2, mode="nearest")
        return self.max_depth * torch.sigmoid(self.head(d))

    def loss(self, outputs: torch.Tensor, targets: dict[str, torch.Tensor]
             ) -> dict[str, torch.Tensor]:
        """BTS's scale-invariant log loss (variance focus 0.85, ×10) on valid pixels."""
        return {"silog": silog_loss(outputs, targets["depth"], self.min_depth, self.max_depth)}

    def predict(self, outputs: torch.Tensor) -> torch.Tensor:
        """The depth map itself."""
        return outputs

    @torch.no_grad()
    def diagnostics(self, val_split: Any) -> dict[str, Any]:
        """What a constant predictor scores on the validation split (the median valid depth
        everywhere): the floor a trained model must clear."""
        from upbench.metrics.depth import DepthMetrics

        gts = [val_split.batch(torch.arange(i, min(i + 64, len(val_split))))[1]["depth"]
               for i in range(0, len(val_split), 64)]
        if not gts:
            return {}
        gt = torch.cat(gts)
        valid = (gt > self.min_depth) & (gt < self.max_depth)
        if not bool(valid.any()):
            return {}
        const = float(gt[valid].median())
        m = DepthMetrics(self.min_depth, self.max_depth)
        m.update(torch.full_like(gt, const), gt)
        r = m.compute()
        return {"constant_predictor": {"depth": const, "abs_rel": r["abs_rel"],
                                       "rmse": r["rmse"], "d1": r["d1"]},
                "note": f"a constant predictor (the median validation depth, {const:.2f} m) "
                        f"scores abs_rel {r['abs_rel']:.4f}, rmse {r['rmse']:.4f} m, "
                        f"d1 {r['d1']:.4f}"}
