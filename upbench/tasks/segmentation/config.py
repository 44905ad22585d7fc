"""The segmentation task's suite sections: ``dataset``, ``model`` and ``metrics``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from upbench.tasks.paths import check_dataset_section
from upbench.utils.schema import ConfigError

FORMATS = ("generic", "voc", "ade20k", "cityscapes")


@dataclass
class DatasetConfig:
    """Where the data comes from.

    ``kind: synthetic`` uses :mod:`upbench.data.synthetic` (``num_classes``, ``train_size``,
    ``val_size``, ``seed``, ``max_things``, ``small_objects``); ``kind: folder`` reads an on-disk
    dataset (``format``, ``root``, ``num_classes``, optional ``train_split``/``val_split`` and
    ``reduce_zero_label``, ``max_train``/``max_val`` to subsample). Images are resized to the
    suite's ``input_size``.
    """

    kind: Literal["synthetic", "folder"] = "synthetic"
    num_classes: int = 8
    train_size: int = 256
    val_size: int = 64
    seed: int = 0
    max_things: int = 4
    small_objects: int = 4
    format: Literal["generic", "voc", "ade20k", "cityscapes"] = "generic"
    root: str | None = None
    train_split: str | None = None
    val_split: str | None = None
    reduce_zero_label: bool | None = None
    max_train: int | None = None
    max_val: int | None = None

    def validate(self, file: str, prefix: str) -> None:
        if self.num_classes < 2 or self.num_classes > 254:
            raise ConfigError(file, f"{prefix}.num_classes", "must be in 2..254")
        check_dataset_section(self, file, prefix)


@dataclass
class ModelConfig:
    """The segmentation baseline's size (see :class:`~upbench.tasks.segmentation.model
    .SegBaseline`)."""

    widths: list[int] = field(default_factory=lambda: [16, 32, 64, 128])
    blocks: list[int] = field(default_factory=lambda: [1, 1, 1, 1])
    decoder_channels: int = 32

    def validate(self, file: str, prefix: str) -> None:
        if len(self.widths) != 4 or len(self.blocks) != 4:
            raise ConfigError(file, f"{prefix}.widths", "widths and blocks need 4 entries (stages "
                              "at stride 4, 8, 16, 32)")
        if min(self.widths + [self.decoder_channels]) < 1 or min(self.blocks) < 1:
            raise ConfigError(file, prefix, "widths, blocks and decoder_channels must be >= 1")


@dataclass
class MetricsConfig:
    """Metric parameters (METRICS.md): boundary IoU dilation ratio, trimap band widths."""

    boundary_dilation_ratio: float = 0.02
    trimap_widths: list[int] = field(default_factory=lambda: [2, 4])
