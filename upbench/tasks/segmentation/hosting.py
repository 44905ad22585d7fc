"""What every segmentation baseline does the same way around its upsampler slots.

A baseline (:class:`SegHost` subclass) builds its layers and its ``final_up`` slot (the module
that returns the logits at the image size: a bilinear ×4, a feature upsampler on the class
scores, or a label-space decoder) and says what ``final_up`` gets (:meth:`SegHost.final_inputs`).
The rest is shared: where an upsampler may sit (:func:`resolve_placement`), the final-slot
checks, the loss with the final slot's own losses, the prediction and the label-space
diagnostics.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from upbench.models import Unhostable, make_upsampler
from upbench.tasks.base import TaskModel
from upbench.tasks.segmentation.data import IGNORE_INDEX
from upbench.upsamplers.base import Upsampler

SLOT_SEED_OFFSET = 1_000_003  # slots are built from seed + this, after the shared layers


def resolve_placement(upsampler: str, cls: type[Upsampler], placement: str | None) -> str:
    """``decoder`` or ``final`` for ``upsampler`` (class ``cls``): the suite entry's, else the
    class's ``default_placement``, else decoder for feature upsamplers and final for
    label-space decoders.

    Raises:
        ValueError: an unknown placement.
        Unhostable: a label-space decoder outside the final slot, or a guided feature upsampler
            in it (the class scores have no guide at the output resolution).
    """
    placement = placement or cls.default_placement or (
        "decoder" if cls.space == "feature" else "final")
    if placement not in ("decoder", "final"):
        raise ValueError(f"placement must be 'decoder' or 'final', got {placement!r}")
    if cls.space == "label" and placement != "final":
        raise Unhostable(f"{upsampler} is a label-space decoder: it can only take the final "
                         "slot (placement 'final')")
    if cls.space == "feature" and placement == "final" and cls.guided:
        raise Unhostable(f"{upsampler} is guided: the final prediction slot has no guide "
                         "feature at the output resolution")
    return placement


def logits_upsampler(upsampler: str, num_classes: int, scale: int, hparams: dict[str, Any],
                     impl: str) -> Upsampler:
    """A feature upsampler on the class scores (the final ×``scale``).

    Raises:
        Unhostable: it cannot be built there, or it changes the channel count.
    """
    up = make_upsampler(upsampler, num_classes, scale, hparams, impl)
    if up.out_channels != num_classes:
        raise Unhostable(f"{upsampler} changes the channel count ({num_classes} → "
                         f"{up.out_channels}); it cannot upsample the logits")
    return up


def check_decode_stride(upsampler: str, stride: int, allowed) -> int:
    """``stride`` if the baseline can decode from it.

    Raises:
        Unhostable: naming the strides it can.
    """
    if stride not in allowed:
        raise Unhostable(f"{upsampler}: decode_stride must be one of {sorted(allowed)}, "
                         f"got {stride}")
    return stride


class SegHost(TaskModel):
    """Base of the segmentation baselines: ``forward`` is ``final_up(*final_inputs(x))``.

    Subclasses set ``upsampler_name``, ``space`` (the upsampler's), ``num_classes``,
    ``placement``, ``slots`` and the ``final_up`` module, and implement :meth:`final_inputs`.
    """

    upsampler_name: str
    space: str
    num_classes: int

    def final_inputs(self, x: torch.Tensor) -> tuple:
        """The positional inputs of ``final_up`` for images x (N, 3, H, W)."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, K, H, W) for images (N, 3, H, W)."""
        return self.final_up(*self.final_inputs(x))

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        """Cross-entropy of the logits against labels (N, H, W), ignore 255."""
        return {"ce": F.cross_entropy(outputs, targets, ignore_index=IGNORE_INDEX)}

    def training_losses(self, inputs: tuple[torch.Tensor, ...], targets: torch.Tensor
                        ) -> dict[str, torch.Tensor]:
        """Cross-entropy, plus the own losses of the upsampler under test where it produces the
        prediction (it is in the ``final_up`` slot), prefixed by the slot name. Elsewhere there
        are none (its output is not the prediction)."""
        final_inputs = self.final_inputs(*inputs)
        if "final_up" not in self.slots:
            return self.loss(self.final_up(*final_inputs), targets)
        logits, state = self.final_up.forward_with_state(*final_inputs)
        losses = self.loss(logits, targets)
        for k, v in self.final_up.extra_losses(logits, targets, state).items():
            losses[f"final_up.{k}"] = v
        return losses

    def predict(self, outputs: torch.Tensor) -> torch.Tensor:
        """The label map (N, H, W): arg-max over the classes."""
        return outputs.argmax(1)

    @torch.no_grad()
    def diagnostics(self, val_split: Any) -> dict[str, Any]:
        """A label-space decoder's reconstruction ceiling (``label_oracle``) on the validation
        labels, under ``oracle``."""
        if self.space != "label":
            return {}
        chunks = [val_split.batch(torch.arange(i, min(i + 64, len(val_split))))[1]
                  for i in range(0, len(val_split), 64)]
        oracle = self.final_up.label_oracle(torch.cat(chunks)) if chunks else None
        if not oracle:
            return {}
        return {"oracle": oracle,
                "note": f"{self.upsampler_name} reconstruction ceiling at ratio {oracle['ratio']} "
                        f"on the validation labels (paper Table 1's oracle): "
                        f"{oracle['dupsampling_mIoU']:.1f} mIoU vs bilinear "
                        f"{oracle['bilinear_mIoU']:.1f} from the same stride"}


__all__ = ["SLOT_SEED_OFFSET", "SegHost", "check_decode_stride", "logits_upsampler",
           "resolve_placement"]
