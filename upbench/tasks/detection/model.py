"""The detection baseline: torchvision's Faster R-CNN on upbench's encoder and an FPN whose
top-down ×2 stages are upsampler slots — the SAPA / CARAFE / FADE papers' detection setting
(Faster R-CNN R50-FPN, only the FPN's top-down upsampling swapped) at CPU scale.

* **Backbone** (:class:`SlottedFPN`): the from-scratch encoder (C2–C5), lateral 1×1 convs, the
  top-down path ``P_i = L_i + up_i(P_{i+1}, guide=L_i)`` (slots ``up.0``–``up.2``, C5→C4→C3→C2;
  guided upsamplers get the lateral feature at the target resolution, as mmdetection's
  FPN_CARAFE), a 3×3 output conv per level and the extra level P6 by max-pooling P5 (torchvision's
  ``LastLevelMaxPool``).
* **Detector**: torchvision's ``FasterRCNN`` — RPN (anchor generator, RPNHead, losses, box coding,
  NMS), ``MultiScaleRoIAlign`` on P2–P5, a two-layer MLP box head and predictor — with anchor
  sizes, sample counts and the representation size set for small images (the suite's
  ``model`` section) and a transform that never resizes (images arrive at the suite's size; no
  800-pixel rescale) nor renormalises (they arrive normalised).

Training drops ``iscrowd`` boxes from the targets (COCO ignores them); ``training_losses``
returns torchvision's four losses. ``forward(images)`` in eval mode returns torchvision's
detections (boxes xyxy, labels 1..K, scores); latency times this full path at batch 1, NMS and
post-processing included. The FLOP count (:meth:`FasterRCNNHost.flops_target`) covers the
backbone, FPN, RPN head on every level and the box head on a stated number of proposals.
Label-space decoders are n/a: they produce class maps, not FPN features.

:class:`FasterRCNNHost` (the detector, losses, inference and FLOP count) and
:class:`SlottedFPN` are shared with the paper baseline ``faster-rcnn-r50-fpn``
(:mod:`upbench.tasks.detection.faster_rcnn`), which puts torchvision's ResNet-50 under the FPN.

The encoder/FPN convs are initialised from ``seed``, the slots from ``seed + SLOT_SEED_OFFSET`` (:mod:`upbench.models.slots`) and the
detector's heads from ``seed + 2_000_006``, so every upsampler starts from the same weights.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from upbench.models import SLOT_SEED_OFFSET, Encoder
from upbench.models.slots import decoder_slots_only
from upbench.models.topdown import lateral_convs, slot_upsamplers, top_down
from upbench.tasks.base import TaskModel

LEVELS = ("0", "1", "2", "3")  # P2..P5 in torchvision's naming; "pool" is P6
BATCH_MULTIPLE = 32  # torchvision's batching pads images to a multiple of this


class SlottedFPN(nn.Module):
    """Encoder + FPN with upsampler slots in the top-down path (``out_channels`` for
    torchvision).

    Args:
        encoder: a module returning [C2, C3, C4, C5] (strides 4–32).
        widths: the channels of C2..C5.
        channels: the FPN's width D.
    """

    def __init__(self, encoder: nn.Module, widths: list[int], channels: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.lateral = lateral_convs(widths, channels)
        self.output = nn.ModuleList(nn.Conv2d(channels, channels, 3, padding=1)
                                    for _ in widths)
        self.out_channels = channels

    def add_slots(self, upsampler: str, hparams: dict[str, Any], impl: str) -> None:
        """Fill the three top-down ×2 slots (raises Unhostable)."""
        self.up, self.adapt = slot_upsamplers(upsampler, hparams, impl, self.out_channels)

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        p5, p4, p3, p2 = top_down(self.encoder(x), self.lateral, self.up, self.adapt)
        outs = [conv(p) for conv, p in zip(self.output, (p2, p3, p4, p5), strict=True)]
        feats = OrderedDict(zip(LEVELS, outs, strict=True))
        feats["pool"] = F.max_pool2d(outs[-1], 1, 2, 0)
        return feats


def check_hostable(upsampler: str, placement: str | None) -> None:
    """Raise :class:`Unhostable` for what the FPN's top-down slots cannot host."""
    decoder_slots_only(upsampler, placement, "the FPN's top-down slots need feature upsamplers",
                       "detection hosts upsamplers in the FPN's top-down slots only (there "
                       "is no final prediction upsampling)")


def _transform_class():
    from torchvision.models.detection.transform import GeneralizedRCNNTransform

    class KeepSizeTransform(GeneralizedRCNNTransform):
        """torchvision's transform without the resize and the normalisation: upbench's images
        arrive normalised at the suite's size; batching pads to a multiple of 32."""

        def normalize(self, image: torch.Tensor) -> torch.Tensor:
            return image

        def resize(self, image, target=None):
            return image, target

    return KeepSizeTransform


@dataclass(frozen=True)
class DetectorSettings:
    """What torchvision's ``FasterRCNN`` is told beside the backbone and the box head.

    Attributes:
        anchor_sizes: one anchor size per level P2–P6 (pixels); aspect ratios 0.5, 1, 2.
        rpn_batch, roi_batch: anchors / proposals sampled per image for the losses.
        rpn_pre_train, rpn_post_train, rpn_pre_test, rpn_post_test: proposals kept per level
            before the RPN's NMS and per image after it, in training and in testing.
        score_threshold: detections below it are dropped.
        sampling_ratio: RoIAlign's sampling points per bin side (0: adaptive).
        flops_proposals: the proposals the FLOP count runs the box head on.
    """

    anchor_sizes: tuple[int, ...]
    rpn_batch: int
    roi_batch: int
    rpn_pre_train: int
    rpn_post_train: int
    rpn_pre_test: int
    rpn_post_test: int
    score_threshold: float
    sampling_ratio: int
    flops_proposals: int


class FasterRCNNHost(TaskModel):
    """torchvision's Faster R-CNN around a slotted FPN backbone: what every detection baseline
    shares (the losses, the inference path, the FLOP count). A baseline builds its backbone and
    box head, then calls :meth:`build_detector`.

    Args:
        upsampler: the upsampler under test (:func:`check_hostable`).
        placement: the suite entry's placement; the FPN's top-down slots are ``decoder``.
        seed: seeds the initialisation that follows (None: torch's current state).

    Raises:
        Unhostable: a label-space decoder or a final placement.
    """

    def __init__(self, upsampler: str, placement: str | None, seed: int | None) -> None:
        super().__init__()
        check_hostable(upsampler, placement)
        self.placement = "decoder"
        if seed is not None:
            torch.manual_seed(seed)

    def build_detector(self, backbone: nn.Module, num_classes: int, image_size: tuple[int, int],
                       s: DetectorSettings, box_head: nn.Module, box_predictor: nn.Module,
                       rpn_head: nn.Module | None = None, note: str = "") -> None:
        """``self.detector``: torchvision's ``FasterRCNN`` on ``backbone`` (levels ``0``–``3``
        and ``pool``) with a transform that neither resizes nor renormalises; ``note`` is
        appended to :attr:`flops_note`."""
        from torchvision.models.detection import FasterRCNN
        from torchvision.models.detection.anchor_utils import AnchorGenerator
        from torchvision.ops import MultiScaleRoIAlign

        anchors = AnchorGenerator(tuple((a,) for a in s.anchor_sizes), ((0.5, 1.0, 2.0),) * 5)
        pool = MultiScaleRoIAlign(list(LEVELS), output_size=7, sampling_ratio=s.sampling_ratio)
        self.detector = FasterRCNN(
            backbone, num_classes=None, min_size=min(image_size), max_size=max(image_size),
            image_mean=[0.0, 0.0, 0.0], image_std=[1.0, 1.0, 1.0],
            rpn_anchor_generator=anchors, rpn_head=rpn_head,
            rpn_pre_nms_top_n_train=s.rpn_pre_train, rpn_post_nms_top_n_train=s.rpn_post_train,
            rpn_pre_nms_top_n_test=s.rpn_pre_test, rpn_post_nms_top_n_test=s.rpn_post_test,
            rpn_batch_size_per_image=s.rpn_batch, box_roi_pool=pool, box_head=box_head,
            box_predictor=box_predictor, box_batch_size_per_image=s.roi_batch,
            box_score_thresh=s.score_threshold)
        t = self.detector.transform
        self.detector.transform = _transform_class()(t.min_size, t.max_size, t.image_mean,
                                                     t.image_std)
        self.num_classes = num_classes
        self.flops_proposals = s.flops_proposals
        self.slots = [f"detector.backbone.up.{i}" for i in range(3)]
        self.flops_note = (f"backbone + FPN, RPN head on P2-P6, box head on {s.flops_proposals} "
                           "proposals; anchor generation, NMS and post-processing not counted"
                           + note)

    def forward(self, images: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        """Detections per image (eval mode): boxes (xyxy), labels (1..K), scores."""
        return self.detector(list(images))

    def training_losses(self, inputs: tuple[torch.Tensor, ...],
                        targets: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        """torchvision's RPN and box losses; ``iscrowd`` boxes are dropped (ignored, as COCO)."""
        (images,) = inputs
        keep = [{"boxes": t["boxes"][t["iscrowd"] == 0], "labels": t["labels"][t["iscrowd"] == 0]}
                for t in targets]
        return self.detector(list(images), keep)

    def loss(self, outputs: Any, targets: Any) -> dict[str, torch.Tensor]:
        raise NotImplementedError("Faster R-CNN computes its losses inside the network: use "
                                  "training_losses(inputs, targets)")

    def predict(self, outputs: list[dict[str, torch.Tensor]]) -> list[dict[str, torch.Tensor]]:
        """The detections as they are (the evaluator keeps the best ``max_detections``)."""
        return outputs

    def flops_target(self) -> tuple[nn.Module, list[str]]:
        """:class:`DetectionFlops` (what is counted: :attr:`flops_note`)."""
        return DetectionFlops(self.detector, self.flops_proposals), list(self.slots)


class DetectionBaseline(FasterRCNNHost):
    """Faster R-CNN with an upsampler-slotted FPN on the from-scratch encoder, sized for small
    images (see the module docstring).

    Args:
        num_classes: object classes K (labels 1..K; 0 is background).
        upsampler, hparams: the upsampler under test.
        model_cfg: the suite's detection ``model`` section.
        image_size: the training (H, W), for the transform's nominal sizes.
        impl: ``auto`` | ``native`` | ``reference``.
        seed: initialisation seed; placement: only the FPN's top-down slots host an upsampler.

    Raises:
        Unhostable: a label-space decoder, a final placement, or an upsampler that cannot be built.
    """

    def __init__(self, num_classes: int, upsampler: str, hparams: dict[str, Any] | None,
                 model_cfg: Any, image_size: tuple[int, int], impl: str = "auto",
                 seed: int | None = None, placement: str | None = None) -> None:
        from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead

        super().__init__(upsampler, placement, seed)
        m = model_cfg
        backbone = SlottedFPN(Encoder(m.widths, m.blocks), m.widths, m.fpn_channels)
        if seed is not None:
            torch.manual_seed(seed + SLOT_SEED_OFFSET)
        backbone.add_slots(upsampler, dict(hparams or {}), impl)
        if seed is not None:
            torch.manual_seed(seed + 2 * SLOT_SEED_OFFSET)
        d = m.fpn_channels
        settings = DetectorSettings(
            tuple(m.anchor_sizes), m.rpn_batch, m.roi_batch, 2 * m.proposals_train,
            m.proposals_train, 2 * m.proposals_test, m.proposals_test, m.score_threshold, 2,
            m.flops_proposals)
        self.build_detector(backbone, num_classes, image_size, settings,
                            TwoMLPHead(d * 7 * 7, m.representation_size),
                            FastRCNNPredictor(m.representation_size, num_classes + 1))

class DetectionFlops(nn.Module):
    """What the FLOP count of a detection cell runs: the backbone and FPN, the RPN head on every
    level, and the RoIAlign + box head + predictor on ``proposals`` fixed boxes per image (a
    regular grid of boxes, so the count does not depend on the weights)."""

    def __init__(self, detector: nn.Module, proposals: int) -> None:
        super().__init__()
        self.detector = detector
        self.proposals = proposals

    def _boxes(self, h: int, w: int, device: torch.device) -> torch.Tensor:
        n = self.proposals
        side = max(1, int(n**0.5))
        i = torch.arange(n, device=device, dtype=torch.float32)
        cy, cx = (i // side + 0.5) * h / side, (i % side + 0.5) * w / side
        half = torch.full_like(i, min(h, w) / (2 * side) + 2)
        return torch.stack((cx - half, cy - half, cx + half, cy + half), 1).clamp(min=0)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        det = self.detector
        h, w = images.shape[-2:]
        pad = (-h % BATCH_MULTIPLE, -w % BATCH_MULTIPLE)
        if any(pad):  # what torchvision's batching does to e.g. 800×1333 (→ 800×1344)
            images = F.pad(images, (0, pad[1], 0, pad[0]))
        feats = det.backbone(images)
        objectness, deltas = det.rpn.head(list(feats.values()))
        boxes = [self._boxes(h, w, images.device)] * images.shape[0]
        pooled = det.roi_heads.box_roi_pool(feats, boxes, [(h, w)] * images.shape[0])
        scores, regression = det.roi_heads.box_predictor(det.roi_heads.box_head(pooled))
        return (*objectness, *deltas, scores, regression)
