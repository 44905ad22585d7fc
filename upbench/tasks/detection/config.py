"""The detection task's suite sections: ``dataset``, ``model`` and ``metrics``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from upbench.tasks.paths import ALL_SAMPLES, check_dataset_section, resolve_file, resolve_root
from upbench.utils.numbers import SEED_MAX
from upbench.utils.schema import ConfigError, bound


@dataclass
class DatasetConfig:
    """Where the data comes from.

    ``kind: synthetic`` renders seeded scenes (:mod:`upbench.data.detection_synthetic`:
    ``num_classes``, ``train_size``, ``val_size``, ``seed``, ``max_objects``); ``kind: folder``
    reads COCO-format data (``format: coco``; ``root``; ``train_ann`` / ``val_ann``: instances
    JSON files and ``train_images`` / ``val_images``: image folders, all relative to ``root``;
    ``num_classes`` must equal the number of categories; ``max_train``/``max_val`` subsample).
    Images are resized to the suite's ``input_size``, boxes with them.
    """

    kind: Literal["synthetic", "folder"] = "synthetic"
    num_classes: int = bound(6, ge=1)
    train_size: int = bound(512, ge=1)
    val_size: int = bound(128, ge=1)
    seed: int = bound(0, ge=0, le=SEED_MAX, why="seeds are 64-bit: 0..2**63 - 1")
    max_objects: int = bound(6, ge=1, why="objects per synthetic image")
    format: Literal["coco"] = "coco"
    root: str | None = None
    train_ann: str | None = None
    val_ann: str | None = None
    train_images: str | None = None
    val_images: str | None = None
    max_train: int | None = bound(None, ge=1, why=ALL_SAMPLES)
    max_val: int | None = bound(None, ge=1, why=ALL_SAMPLES)

    def validate(self, file: str, prefix: str) -> None:
        if not check_dataset_section(self, file, prefix):
            return
        for k in ("train_ann", "val_ann"):
            v = getattr(self, k)
            if not v:
                raise ConfigError(file, f"{prefix}.{k}", "required for kind: folder (a COCO "
                                  "instances JSON, relative to root)")
            setattr(self, k, resolve_file(v, self.root, file, f"{prefix}.{k}"))
        for k in ("train_images", "val_images"):
            v = getattr(self, k)
            if not v:
                raise ConfigError(file, f"{prefix}.{k}", "required for kind: folder (the image "
                                  "folder, relative to root)")
            from pathlib import Path

            p = Path(v) if Path(v).is_absolute() else Path(self.root) / v
            setattr(self, k, resolve_root(str(p), file, f"{prefix}.{k}"))


@dataclass
class ModelConfig:
    """Faster R-CNN on upbench's encoder and upsampler-slotted FPN, sized for small images.

    ``widths``/``blocks``: the encoder (C2–C5); ``fpn_channels``: the FPN's width;
    ``anchor_sizes``: one size per level P2–P6 (pixels), aspect ratios 0.5/1/2;
    ``representation_size``: the box head's MLP width; ``rpn_batch``/``roi_batch``: sampled
    anchors / proposals per image; ``proposals_train``/``proposals_test``: proposals kept after
    the RPN's NMS; ``score_threshold``: detections below it are dropped (torchvision's 0.05);
    ``flops_proposals``: the proposals the FLOP count runs the box head on. These sizes are the
    tiny baseline's; the paper baseline ``faster-rcnn-r50-fpn`` has mmdetection's fixed values
    and only takes ``score_threshold``, ``weights`` and ``weights_strict``.

    ``weights``: pretrained weights for the encoder of a paper baseline (a file, or
    ``imagenet``: torchvision's ImageNet ResNet-50); ``weights_strict: false`` loads what fits
    and records the rest.
    """

    widths: list[int] = bound(default_factory=lambda: [16, 32, 64, 128], ge=1)
    blocks: list[int] = bound(default_factory=lambda: [1, 1, 1, 1], ge=1)
    fpn_channels: int = bound(32, ge=1)
    anchor_sizes: list[int] = bound(default_factory=lambda: [8, 16, 32, 64, 128], ge=1)
    representation_size: int = bound(128, ge=1)
    rpn_batch: int = bound(128, ge=1)
    roi_batch: int = bound(128, ge=1)
    proposals_train: int = bound(300, ge=1)
    proposals_test: int = bound(100, ge=1)
    score_threshold: float = bound(0.05, ge=0, lt=1)
    flops_proposals: int = bound(100, ge=1)
    weights: str | None = bound(None, omit_default=True)
    weights_strict: bool = bound(True, omit_default=True)

    def validate(self, file: str, prefix: str) -> None:
        if len(self.widths) != 4 or len(self.blocks) != 4:
            raise ConfigError(file, f"{prefix}.widths", "widths and blocks need 4 entries")
        if len(self.anchor_sizes) != 5:
            raise ConfigError(file, f"{prefix}.anchor_sizes", "one size per FPN level P2..P6 "
                              f"(5), got {self.anchor_sizes}")


@dataclass
class MetricsConfig:
    """COCO's evaluation: ``max_detections`` per image (100, COCOeval's maxDets)."""

    max_detections: int = bound(100, ge=1)
