"""Object detection: torchvision's Faster R-CNN on an upsampler-slotted FPN (the SAPA, CARAFE and
FADE papers' detection setting), synthetic scenes or COCO-format folders, COCO AP by pycocotools."""

from __future__ import annotations

from typing import Any

from upbench.data.coco import CocoFormatError, check_boxes, read_instances, scaled_boxes
from upbench.data.imagecheck import DataError, check_samples, image_size
from upbench.metrics.detection import CocoEvaluator
from upbench.tasks.base import BaselineInfo, Task, check_baseline_keys
from upbench.tasks.detection.config import DatasetConfig, MetricsConfig, ModelConfig
from upbench.tasks.detection.data import make_split
from upbench.tasks.detection.metrics import METRICS
from upbench.utils.schema import ConfigError

PAPER = "faster-rcnn-r50-fpn"
# the tiny baseline's sizes; the paper baseline's are mmdetection's
TINY_KEYS = ("widths", "blocks", "fpn_channels", "anchor_sizes", "representation_size",
             "rpn_batch", "roi_batch", "proposals_train", "proposals_test", "flops_proposals")


class Detection(Task):
    """The detection task (baselines ``faster_rcnn_fpn``, the tiny default, and
    ``faster-rcnn-r50-fpn``; reference ``nearest``, mmdetection's FPN default)."""

    name = "detection"
    baselines = (
        BaselineInfo("faster_rcnn_fpn", "tiny Faster R-CNN + FPN on torchvision's detection machinery (from scratch, the quick default): three ×2 FPN top-down slots"),
        BaselineInfo("faster-rcnn-r50-fpn", "mmdetection's Faster R-CNN R50-FPN 1x (SAPA Table 3) on torchvision's detection machinery: three ×2 FPN top-down slots guided by the lateral 1×1 outputs",
                     source="open-mmlab/mmdetection configs/faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py",
                     eval_size=(800, 1333), paper=True),
    )
    reference = "nearest"
    metrics = METRICS
    dataset_config = DatasetConfig
    model_config = ModelConfig
    metrics_config = MetricsConfig
    input_multiple = 32
    eval_size = (320, 320)  # a small COCO-style image the CPU times in well under a second

    def validate(self, suite: Any, file: str) -> None:
        try:
            import torchvision  # noqa: F401
        except ImportError as e:
            raise ConfigError(file, "task", f"the detection task needs torchvision ({e}); install "
                              "the release matching your torch, e.g. `pip install "
                              "torch==2.14.1 torchvision==0.29.1`") from None
        check_baseline_keys(suite, file, PAPER, TINY_KEYS)

    def check_data(self, suite: Any, file: str, deep: bool = False) -> None:
        d = suite.dataset
        if d.kind != "folder":
            return
        from pathlib import Path

        train_ids: list[int] = []
        for split in ("train", "val"):
            ann, images = getattr(d, f"{split}_ann"), getattr(d, f"{split}_images")
            key = f"dataset.{split}_ann"
            try:
                index = read_instances(ann)
            except CocoFormatError as e:
                raise ConfigError(file, key, str(e)) from None
            if not index.category_ids:
                raise ConfigError(file, key, f"{ann} lists no categories; a COCO instances file "
                                  "needs its 'categories' (id and name of each class)")
            if split == "train":
                train_ids = index.category_ids
                if len(index.category_ids) != d.num_classes:
                    raise ConfigError(file, "dataset.num_classes", f"{ann} has "
                                      f"{len(index.category_ids)} categories "
                                      f"{index.category_ids}; set num_classes: "
                                      f"{len(index.category_ids)}")
            else:
                missing = sorted(set(index.category_ids) - set(train_ids))
                if missing:
                    raise ConfigError(file, key, f"{ann}: categories {missing} are not in the "
                                      f"training split's {train_ids} (the detector has no class "
                                      "for them); add them to the training annotations or "
                                      "remove them from the validation file")
            imgs = index.images[: getattr(d, f"max_{split}")]
            if not imgs:
                raise ConfigError(file, key, f"{ann} lists no images")
            missing_files = [im["file_name"] for im in imgs
                             if not (Path(images) / im["file_name"]).is_file()]
            if missing_files:
                raise ConfigError(file, f"dataset.{split}_images", f"{len(missing_files)} image(s)"
                                  f" of {ann} are not (regular) files in {images}, e.g. "
                                  f"{missing_files[0]}")
            try:
                rows = [(Path(images) / im["file_name"],) for im in imgs]
                check_samples(rows, deep)
                for im, (path,) in zip(imgs, rows, strict=True):
                    anns = index.anns.get(im["id"], [])
                    if anns:
                        boxes = scaled_boxes(anns, image_size(path), tuple(suite.input_size))
                        check_boxes(anns, boxes, ann, path, tuple(suite.input_size))
            except DataError as e:
                raise ConfigError(file, f"dataset.{split}_images", str(e)) from None
            except CocoFormatError as e:
                raise ConfigError(file, key, str(e)) from None

    def augmentation(self, suite: Any):
        """Scale jitter + crop and photometric jitter (``train.augment``; boxes cropped, empty ones removed)."""
        if not suite.train.augment.active:
            return None
        from upbench.data.augment import DetectionAugment

        return DetectionAugment(suite.train.augment, tuple(suite.input_size))

    def splits(self, suite: Any):
        return (make_split(suite.dataset, "train", suite.input_size),
                make_split(suite.dataset, "val", suite.input_size))

    def build_model(self, suite: Any, upsampler: str, hparams: dict[str, Any],
                    placement: str | None, seed: int, decode_stride: int | None = None):
        from upbench.tasks.detection.faster_rcnn import FasterRCNNR50FPN
        from upbench.tasks.detection.model import DetectionBaseline

        cls = FasterRCNNR50FPN if suite.baseline == PAPER else DetectionBaseline
        return cls(suite.dataset.num_classes, upsampler, hparams, suite.model,
                                 tuple(suite.input_size), suite.impl, seed, placement)

    def evaluator(self, suite: Any) -> CocoEvaluator:
        d = suite.dataset
        if d.kind == "synthetic":
            ids = list(range(1, d.num_classes + 1))
        else:
            ids = read_instances(d.train_ann).category_ids
        return CocoEvaluator(ids, suite.metrics.max_detections)


TASK = Detection()

__all__ = ["TASK", "Detection"]
