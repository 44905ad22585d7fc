"""The matting baseline: an A2U-style encoder-decoder (as the SAPA and FADE papers' matting
experiment, A2U matting on Composition-1k) at CPU scale.

Architecture (encoder widths ``w``, decoder channels ``D = [D1..D5]``)::

    x = cat(normalised RGB, trimap / 255)                                  (4 channels)
    S1 = conv-BN-ReLU(x)                          full resolution (the shortcut of the last stage)
    encoder: stem (S2 at s2) → stage2 (C2, s4) → 2×2 max-pool → stage3 (C3, s8) → … → C5 (s32)
    d = C5
    stage k = 1..5 (target skip E_k = C4, C3, C2, S2, S1):
        d = ReLU(conv3-BN(up[k](d, guide=E_k)) + conv1(E_k))          ← slot up.{k-1}
    alpha = sigmoid(conv3(d))

Every ×2 decoder stage is an upsampler slot, the last one (to full resolution) included; guided
upsamplers get the encoder feature at the target resolution (the shortcut E_k). A2U's own
full-resolution shortcut is a convolution of the 4-channel input; S1 plays that role here.
Label-space decoders are n/a.

Loss (A2U): 0.5 · alpha loss + 0.5 · composition loss, each the Charbonnier √(d² + ε²)
(ε = 1e-6) averaged over the unknown region (trimap = 128); the composition loss recomposites the
image from the predicted alpha with the true foreground and background and compares it with the
composite of the true alpha.

Initialisation: the shared layers from ``seed``, the slots from ``seed + SLOT_SEED_OFFSET`` (:mod:`upbench.models.slots`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from upbench.models import SLOT_SEED_OFFSET, Encoder, conv_bn
from upbench.models.slots import decoder_slots_only
from upbench.models.topdown import slot_upsamplers
from upbench.tasks.base import TaskModel

EPS = 1e-6
UNKNOWN = 128.0


def charbonnier(d: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """mean of √(d² + ε²) over ``region`` (broadcast over channels); 0 where it is empty."""
    region = region.expand_as(d)
    n = region.sum()
    if not bool(n):
        return d.sum() * 0.0
    return (torch.sqrt(d**2 + EPS**2) * region).sum() / n


class MattingBaseline(TaskModel):
    """The A2U-style matting baseline with five ×2 upsampler slots (see the module docstring).

    Args:
        upsampler, hparams: the upsampler under test.
        widths, blocks: the encoder; full_channels: the full-resolution shortcut S1.
        decoder_channels: D1..D5.
        impl: ``auto`` | ``native`` | ``reference``; seed: initialisation seed.
        placement: only the decoder stages host an upsampler.

    Raises:
        Unhostable: a label-space decoder, a final placement, or an upsampler that cannot be
            built for a stage.
    """

    def __init__(self, upsampler: str = "bilinear", hparams: dict[str, Any] | None = None,
                 widths: list[int] | None = None, blocks: list[int] | None = None,
                 full_channels: int = 8, decoder_channels: list[int] | None = None,
                 impl: str = "auto", seed: int | None = None, placement: str | None = None
                 ) -> None:
        super().__init__()
        widths = list(widths or [16, 32, 64, 128])
        blocks = list(blocks or [1, 1, 1, 1])
        dec = list(decoder_channels or [64, 32, 16, 16, 8])
        decoder_slots_only(upsampler, placement, "matting regresses an alpha matte",
                           "the matting baseline hosts upsamplers in its decoder stages "
                           "only (the last of them already upsamples to full resolution)")
        self.placement = "decoder"
        if seed is not None:
            torch.manual_seed(seed)
        self.encoder = Encoder(widths, blocks, in_channels=4, downsample="maxpool")
        self.full = conv_bn(4, full_channels, 3)
        skips = [widths[2], widths[1], widths[0], self.encoder.stem_channels, full_channels]
        ins = [widths[3], *dec[:4]]
        self.conv = nn.ModuleList(conv_bn(c, d, 3, relu=False) for c, d in zip(ins, dec,
                                                                                strict=True))
        self.shortcut = nn.ModuleList(nn.Conv2d(s, d, 1) for s, d in zip(skips, dec, strict=True))
        self.head = nn.Conv2d(dec[4], 1, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        if seed is not None:
            torch.manual_seed(seed + SLOT_SEED_OFFSET)
        self.up, self.adapt = slot_upsamplers(upsampler, dict(hparams or {}), impl, ins, len(ins),
                                              skips)
        self.slots = [f"up.{i}" for i in range(5)]

    def forward(self, image: torch.Tensor, trimap: torch.Tensor) -> torch.Tensor:
        """Alpha (N, 1, H, W) in (0, 1) for normalised images (N, 3, H, W) and trimaps / 255
        (N, 1, H, W); H, W multiples of 32."""
        if image.dim() != 4 or image.shape[2] % 32 or image.shape[3] % 32:
            raise ValueError(f"MattingBaseline: input must be (N, 3, H, W) with H, W multiples "
                             f"of 32, got {tuple(image.shape)}")
        x = torch.cat((image, trimap), 1)
        s2, c2, c3, c4, c5 = self.encoder.features(x)
        d = c5
        for i, skip in enumerate((c4, c3, c2, s2, self.full(x))):
            guide = skip if self.up[i].guided else None
            d = self.relu(self.conv[i](self.adapt[i](self.up[i](d, guide)))
                          + self.shortcut[i](skip))
        return torch.sigmoid(self.head(d))

    def loss(self, outputs: torch.Tensor, targets: dict[str, torch.Tensor]
             ) -> dict[str, torch.Tensor]:
        """A2U's 0.5·alpha + 0.5·composition Charbonnier losses over the unknown region."""
        unknown = targets["trimap"] == UNKNOWN
        alpha, fg, bg = targets["alpha"], targets["fg"], targets["bg"]
        comp = outputs * fg + (1 - outputs) * bg
        true = alpha * fg + (1 - alpha) * bg
        return {"alpha": 0.5 * charbonnier(outputs - alpha, unknown),
                "composition": 0.5 * charbonnier(comp - true, unknown)}

    def predict(self, outputs: torch.Tensor) -> torch.Tensor:
        """The alpha matte (the evaluator pastes the trimap's known regions)."""
        return outputs

    @torch.no_grad()
    def diagnostics(self, val_split: Any) -> dict[str, Any]:
        """What "alpha = trimap" scores (unknown → 0.5): the floor a model that reads the image
        must clear."""
        from upbench.tasks.matting.metrics import MattingEvaluator

        ev = MattingEvaluator()
        for i in range(0, len(val_split), 64):
            _, t = val_split.batch(torch.arange(i, min(i + 64, len(val_split))))
            ev.update(torch.where(t["trimap"] == UNKNOWN, 0.5, t["trimap"] / 255.0), t)
        r = ev.compute()
        if not r["images"]:
            return {}
        return {"trimap_baseline": {k: r[k] for k in ("SAD", "MSE", "Grad", "Conn")},
                "note": f"alpha = trimap (unknown = 0.5) scores SAD {r['SAD']:.3f}, MSE "
                        f"{r['MSE']:.5f}, Grad {r['Grad']:.3f}, Conn {r['Conn']:.3f}"}
