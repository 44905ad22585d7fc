"""The detection task's suite sections: ``dataset``, ``model`` and ``metrics``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from upbench.tasks.paths import check_dataset_section, resolve_file, resolve_root
from upbench.utils.schema import ConfigError


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
    num_classes: int = 6
    train_size: int = 512
    val_size: int = 128
    seed: int = 0
    max_objects: int = 6
    format: Literal["coco"] = "coco"
    root: str | None = None
    train_ann: str | None = None
    val_ann: str | None = None
    train_images: str | None = None
    val_images: str | None = None
    max_train: int | None = None
    max_val: int | None = None

    def validate(self, file: str, prefix: str) -> None:
        if self.num_classes < 1:
            raise ConfigError(file, f"{prefix}.num_classes", "must be >= 1")
        if self.max_objects < 1:
            raise ConfigError(file, f"{prefix}.max_objects", "must be >= 1")
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
    ``flops_proposals``: the proposals the FLOP count runs the box head on.
    """

    widths: list[int] = field(default_factory=lambda: [16, 32, 64, 128])
    blocks: list[int] = field(default_factory=lambda: [1, 1, 1, 1])
    fpn_channels: int = 32
    anchor_sizes: list[int] = field(default_factory=lambda: [8, 16, 32, 64, 128])
    representation_size: int = 128
    rpn_batch: int = 128
    roi_batch: int = 128
    proposals_train: int = 300
    proposals_test: int = 100
    score_threshold: float = 0.05
    flops_proposals: int = 100

    def validate(self, file: str, prefix: str) -> None:
        if len(self.widths) != 4 or len(self.blocks) != 4:
            raise ConfigError(file, f"{prefix}.widths", "widths and blocks need 4 entries")
        if len(self.anchor_sizes) != 5:
            raise ConfigError(file, f"{prefix}.anchor_sizes", "one size per FPN level P2..P6 "
                              f"(5), got {self.anchor_sizes}")
        for k in ("fpn_channels", "representation_size", "rpn_batch", "roi_batch",
                  "proposals_train", "proposals_test", "flops_proposals"):
            if getattr(self, k) < 1:
                raise ConfigError(file, f"{prefix}.{k}", "must be >= 1")
        if min(self.widths + self.blocks + self.anchor_sizes) < 1:
            raise ConfigError(file, prefix, "widths, blocks and anchor_sizes must be >= 1")
        if not 0 <= self.score_threshold < 1:
            raise ConfigError(file, f"{prefix}.score_threshold", "must be in [0, 1)")


@dataclass
class MetricsConfig:
    """COCO's evaluation: ``max_detections`` per image (100, COCOeval's maxDets)."""

    max_detections: int = 100

    def validate(self, file: str, prefix: str) -> None:
        if self.max_detections < 1:
            raise ConfigError(file, f"{prefix}.max_detections", "must be >= 1")
