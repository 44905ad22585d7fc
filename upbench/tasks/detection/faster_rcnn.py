"""The paper baseline ``faster-rcnn-r50-fpn``: mmdetection's ``faster-rcnn_r50_fpn_1x_coco``
(SAPA Table 3) on torchvision's detection machinery, with the FPN's three top-down ×2 as slots.

* **Backbone**: torchvision's ResNet-50 without ``fc`` (C2–C5 = layer1–4), mmdetection's
  ``frozen_stages=1`` (stem and layer1 get ``requires_grad=False``) and ``norm_eval=True`` (every
  BatchNorm stays in eval mode while training). The BatchNorms stay ``nn.BatchNorm2d`` with
  parameters, as in mmdetection, so the parameter count is mmdetection's; torchvision's own
  ``fasterrcnn_resnet50_fpn`` turns them into ``FrozenBatchNorm2d`` buffers instead.
* **Neck**: :class:`~upbench.tasks.detection.model.SlottedFPN`: lateral 1×1 convs to 256, the
  top-down path with the three ×2 slots (``detector.backbone.up.0``–``2``; guides: the lateral
  1×1 outputs at the target resolution), 3×3 output convs, P6 by max-pooling P5.
* **RPN**: torchvision's ``RPNHead`` (one 3×3 conv 256→256 + ReLU, 3 objectness logits and
  12 deltas per position: mmdetection's RPN head with sigmoid classification), anchors 32–512
  (mmdetection's scale 8 × strides 4–64), aspect ratios 0.5, 1, 2.
* **RoI head**: ``MultiScaleRoIAlign`` 7×7 on P2–P5 (sampling ratio 0, adaptive, as mmdetection),
  two shared FC 1024 (torchvision's ``TwoMLPHead``), and mmdetection's class-specific predictor:
  ``cls_score`` K+1 logits (background included) and ``bbox_pred`` 4·K deltas (no box for the
  background; :class:`ClassSpecificPredictor` hands torchvision a zero background box).

Training and testing follow the 1× schedule's settings: RPN 256 anchors per image, 2000
proposals per level before NMS and 1000 after in training (1000 / 1000 in testing), 512 RoIs per
image; detections above ``model.score_threshold``. Initialisation as mmdetection: FPN convs Xavier
uniform, RPN convs N(0, 0.01), shared FCs Xavier normal, ``cls_score`` N(0, 0.01), ``bbox_pred``
N(0, 0.001), all biases zero. ``model.weights`` loads the ResNet-50 (torchvision layout, ``fc``
dropped; ``imagenet`` = torchvision's ``ResNet50_Weights.IMAGENET1K_V1``, mmdetection's
``torchvision://resnet50``).

What torchvision cannot follow (no effect on parameters or FLOPs): RoIAlign is not ``aligned``
(no half-pixel shift), the losses are torchvision's (smooth L1 with β = 1/9 where mmdetection's
1× config uses L1), and anchors are centred on the stride grid as torchvision places them.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from upbench.models.resnet import ResNetStages, load_resnet_weights
from upbench.tasks.detection.model import (
    SLOT_SEED_OFFSET,
    DetectorSettings,
    FasterRCNNHost,
    SlottedFPN,
)

NAME = "faster-rcnn-r50-fpn"
WIDTHS = [256, 512, 1024, 2048]
FPN_CHANNELS = 256
FC_CHANNELS = 1024
# mmdetection's faster-rcnn_r50_fpn_1x_coco train/test settings in torchvision's terms
MMDET: dict[str, Any] = {
    "anchor_sizes": (32, 64, 128, 256, 512), "rpn_batch": 256, "roi_batch": 512,
    "rpn_pre_train": 2000, "rpn_post_train": 1000, "rpn_pre_test": 1000, "rpn_post_test": 1000,
    "sampling_ratio": 0, "flops_proposals": 1000}


class ClassSpecificPredictor(nn.Module):
    """mmdetection's ``Shared2FCBBoxHead`` outputs: ``cls_score`` (K+1 logits, background
    included) and ``bbox_pred`` (4·K class-specific deltas, none for the background). torchvision's
    RoI heads index the deltas by label with the background at 0, so :meth:`forward` returns the
    deltas behind four zeros (the background's box, which torchvision never uses)."""

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.cls_score = nn.Linear(in_channels, num_classes + 1)
        self.bbox_pred = nn.Linear(in_channels, 4 * num_classes)
        nn.init.normal_(self.cls_score.weight, std=0.01)
        nn.init.normal_(self.bbox_pred.weight, std=0.001)
        nn.init.zeros_(self.cls_score.bias)
        nn.init.zeros_(self.bbox_pred.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.flatten(1)
        deltas = self.bbox_pred(x)
        return self.cls_score(x), torch.cat((torch.zeros_like(deltas[:, :4]), deltas), 1)


class FasterRCNNR50FPN(FasterRCNNHost):
    """mmdetection's Faster R-CNN R50-FPN 1× with the FPN's top-down ×2 as slots (see the module
    docstring).

    Args:
        num_classes: object classes K (80 for COCO); the classifier has K+1 outputs.
        upsampler, hparams: the upsampler under test (every slot gets its own instance).
        model_cfg: the suite's detection ``model`` section (``score_threshold``, ``weights``,
            ``weights_strict`` apply here; the tiny baseline's sizes do not).
        image_size: the training (H, W), for the transform's nominal sizes.
        impl: ``auto`` | ``native`` | ``reference``.
        seed: initialisation seed; placement: only the FPN's top-down slots host an upsampler.

    Raises:
        Unhostable: a label-space decoder, a final placement, or an upsampler that cannot be built.
        upbench.models.weights.WeightsError: ``model.weights`` cannot be loaded.
    """

    def __init__(self, num_classes: int, upsampler: str, hparams: dict[str, Any] | None,
                 model_cfg: Any, image_size: tuple[int, int], impl: str = "auto",
                 seed: int | None = None, placement: str | None = None) -> None:
        from torchvision.models.detection.faster_rcnn import TwoMLPHead

        super().__init__(upsampler, placement, seed)
        body = ResNetStages(50, ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2",
                                 "layer3", "layer4"),
                            outputs=("layer1", "layer2", "layer3", "layer4"), frozen_stages=1,
                            norm_eval=True)
        backbone = SlottedFPN(body, WIDTHS, FPN_CHANNELS)
        for m in [*backbone.lateral, *backbone.output]:
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
        if seed is not None:
            torch.manual_seed(seed + SLOT_SEED_OFFSET)
        backbone.add_slots(upsampler, dict(hparams or {}), impl)
        if seed is not None:
            torch.manual_seed(seed + 2 * SLOT_SEED_OFFSET)
        box_head = TwoMLPHead(FPN_CHANNELS * 7 * 7, FC_CHANNELS)
        for fc in (box_head.fc6, box_head.fc7):
            nn.init.xavier_normal_(fc.weight)
            nn.init.zeros_(fc.bias)
        settings = DetectorSettings(score_threshold=model_cfg.score_threshold, **MMDET)
        self.build_detector(backbone, num_classes, image_size, settings, box_head,
                            ClassSpecificPredictor(FC_CHANNELS, num_classes),
                            note="; the image padded to a multiple of 32 (800×1333 → 800×1344) "
                            "as torchvision's batching and mmdetection's Pad do")
        if model_cfg.weights:
            self.weights_report = load_resnet_weights(body, model_cfg.weights, 50,
                                                      strict=model_cfg.weights_strict,
                                                      drop=("fc.",))


__all__ = ["NAME", "ClassSpecificPredictor", "FasterRCNNR50FPN"]
