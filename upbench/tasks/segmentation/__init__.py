"""Semantic segmentation: the FPN baseline, synthetic scenes or VOC/ADE20K/Cityscapes folders,
mIoU / bIoU / trimap mIoU as mmseg and boundary-iou-api define them."""

from __future__ import annotations

from typing import Any

from upbench.data.folder import check_label
from upbench.data.imagecheck import DataError, check_samples
from upbench.metrics import SegMetrics
from upbench.tasks.base import BaselineInfo, Task, TaskModel
from upbench.tasks.segmentation.config import DatasetConfig, MetricsConfig, ModelConfig
from upbench.tasks.segmentation.data import make_split
from upbench.tasks.segmentation.deeplabv3plus import DeepLabV3Plus
from upbench.tasks.segmentation.metrics import METRICS
from upbench.tasks.segmentation.model import SegBaseline
from upbench.tasks.segmentation.segformer import build_segformer
from upbench.utils.schema import ConfigError


class Segmentation(Task):
    """The segmentation task (baselines ``seg``: :class:`SegBaseline`; ``segformer-b1``:
    :mod:`~upbench.tasks.segmentation.segformer`; ``deeplabv3plus-r50``: :class:`DeepLabV3Plus`)."""

    name = "segmentation"
    baselines = (
        BaselineInfo("seg", "tiny ResNet-style encoder + FPN decoder (from scratch, the quick default): three ×2 top-down slots, or the final ×4 / a label-space decoder"),
        BaselineInfo("segformer-b1", "MiT-B1 + SegFormer's all-MLP head: six cascaded ×2 slots on the 256-channel projected maps (SAPA's placement; bilinear = the original single resizes)",
                     source="NVlabs/SegFormer local_configs/segformer/B1/segformer.b1.512x512.ade.160k.py",
                     eval_size=(512, 512), paper=True),
        BaselineInfo("deeplabv3plus-r50", "ResNetV1c-50 + depthwise-separable ASPP + DeepLabv3+ decoder (output stride 8/16/32): ×2 cascade 1/s→1/4 slots or the final ×4 of the class scores; label-space decoders as their papers host them (DUpsampling OS 16, NRD OS 32 with C2 guidance, pyramid fuse on the decoder pyramid)",
                     source="open-mmlab/mmsegmentation configs/_base_/models/deeplabv3plus_r50-d8.py (NRD: aim-uofa/NRD_decoder configs/_base_/models/deeppad_r50.py)",
                     eval_size=(512, 512), paper=True),
    )
    reference = "bilinear"
    metrics = METRICS
    dataset_config = DatasetConfig
    model_config = ModelConfig
    metrics_config = MetricsConfig
    input_multiple = 32
    eval_size = (512, 512)  # mmseg's ADE20K / VOC crop, the papers' FLOPs size

    def validate(self, suite: Any, file: str) -> None:
        """Model keys that do not apply to the chosen baseline are an error when set."""
        m = suite.model
        if suite.baseline == "seg" and m.weights is not None:
            raise ConfigError(file, "model.weights", "the seg baseline is trained from scratch; "
                              "pretrained weights apply to the paper baselines (baseline: "
                              f"{', '.join(b.name for b in self.baselines if b.paper)})")
        if suite.baseline != "deeplabv3plus-r50" and m.output_stride != 8:
            raise ConfigError(file, "model.output_stride", "applies to the deeplabv3plus-r50 "
                              f"baseline only (this suite's is {suite.baseline})")

    def check_data(self, suite: Any, file: str, deep: bool = False) -> None:
        """A folder dataset: both splits listed (labels present, not empty after
        ``max_train``/``max_val``), every image/label pair of one size, and a spread sample of
        pairs decoded (every pair with ``deep``): labels hold class indices below
        ``num_classes`` (or 255)."""
        d = suite.dataset
        if d.kind != "folder":
            return
        for split in ("train", "val"):
            key = f"dataset.{split}_split" if getattr(d, f"{split}_split") else "dataset.root"
            try:
                data = make_split(d, split, suite.input_size)
            except (FileNotFoundError, ValueError) as e:
                raise ConfigError(file, key, f"{split} split: {e} (check dataset.root and "
                                  f"dataset.format: {d.format}, or set dataset.{split}_split)"
                                  ) from None
            if not len(data):
                raise ConfigError(file, key, f"the {split} split of {d.root} has no samples")

            def decode(i: int, data=data) -> None:
                check_label(data.pairs[i].label, d.num_classes, data.reduce_zero_label)
                data.item(i)

            try:
                check_samples([(p.image, p.label) for p in data.pairs], deep, decode=decode)
            except DataError as e:
                raise ConfigError(file, "dataset.root", f"{split} split: {e}") from None

    def augmentation(self, suite: Any):
        """Scale jitter + crop and photometric jitter (``train.augment``; padding: the ignore label)."""
        if not suite.train.augment.active:
            return None
        from upbench.data.augment import DenseAugment

        return DenseAugment(suite.train.augment, tuple(suite.input_size), None, 255)

    def splits(self, suite: Any):
        return (make_split(suite.dataset, "train", suite.input_size),
                make_split(suite.dataset, "val", suite.input_size))

    def build_model(self, suite: Any, upsampler: str, hparams: dict[str, Any],
                    placement: str | None, seed: int, decode_stride: int | None = None
                    ) -> TaskModel:
        m = suite.model
        if suite.baseline == "segformer-b1":
            return build_segformer(suite, upsampler, hparams, placement, seed)
        if suite.baseline == "deeplabv3plus-r50":
            return DeepLabV3Plus(suite.dataset.num_classes, upsampler, hparams,
                                 output_stride=m.output_stride, impl=suite.impl, seed=seed,
                                 placement=placement, decode_stride=decode_stride,
                                 weights=m.weights, weights_strict=m.weights_strict)
        return SegBaseline(suite.dataset.num_classes, upsampler, hparams, widths=m.widths,
                           blocks=m.blocks, decoder_channels=m.decoder_channels, impl=suite.impl,
                           seed=seed, placement=placement, decode_stride=decode_stride)

    def evaluator(self, suite: Any) -> SegMetrics:
        return SegMetrics(suite.dataset.num_classes,
                          boundary_dilation_ratio=suite.metrics.boundary_dilation_ratio,
                          trimap_widths=suite.metrics.trimap_widths)


TASK = Segmentation()

__all__ = ["TASK", "DeepLabV3Plus", "SegBaseline", "Segmentation"]
