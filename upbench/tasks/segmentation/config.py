"""The segmentation task's suite sections: ``dataset``, ``model`` and ``metrics``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from upbench.tasks.paths import ALL_SAMPLES, check_dataset_section
from upbench.utils.numbers import SEED_MAX
from upbench.utils.schema import ConfigError, bound

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
    num_classes: int = bound(8, ge=2, le=254, why="255 is the ignore label")
    train_size: int = bound(256, ge=1)
    val_size: int = bound(64, ge=1)
    seed: int = bound(0, ge=0, le=SEED_MAX, why="seeds are 64-bit: 0..2**63 - 1")
    max_things: int = bound(4, ge=0)
    small_objects: int = bound(4, ge=0)
    format: Literal["generic", "voc", "ade20k", "cityscapes"] = "generic"
    root: str | None = None
    train_split: str | None = None
    val_split: str | None = None
    reduce_zero_label: bool | None = None
    max_train: int | None = bound(None, ge=1, why=ALL_SAMPLES)
    max_val: int | None = bound(None, ge=1, why=ALL_SAMPLES)

    def validate(self, file: str, prefix: str) -> None:
        check_dataset_section(self, file, prefix)


@dataclass
class ModelConfig:
    """The segmentation baselines' settings: ``widths``, ``blocks`` and ``decoder_channels`` size
    the tiny ``seg`` baseline (:class:`~upbench.tasks.segmentation.model.SegBaseline`);
    ``weights`` / ``weights_strict`` load a paper baseline's pretrained encoder;
    ``output_stride`` is ``deeplabv3plus-r50``'s (:mod:`~upbench.tasks.segmentation
    .deeplabv3plus`)."""

    widths: list[int] = bound(default_factory=lambda: [16, 32, 64, 128], ge=1)
    blocks: list[int] = bound(default_factory=lambda: [1, 1, 1, 1], ge=1)
    decoder_channels: int = bound(32, ge=1)
    # the paper baselines' encoder weights: a file or a named source (e.g. imagenet)
    weights: str | None = bound(None, omit_default=True)
    weights_strict: bool = bound(True, omit_default=True)
    # deeplabv3plus-r50: the encoder's output stride (feature upsamplers and bilinear)
    output_stride: Literal[8, 16, 32] = bound(8, omit_default=True)

    def validate(self, file: str, prefix: str) -> None:
        if len(self.widths) != 4 or len(self.blocks) != 4:
            raise ConfigError(file, f"{prefix}.widths", "widths and blocks need 4 entries (stages "
                              "at stride 4, 8, 16, 32)")


@dataclass
class MetricsConfig:
    """Metric parameters (METRICS.md): boundary IoU dilation ratio, trimap band widths."""

    boundary_dilation_ratio: float = bound(0.02, gt=0, le=1, why="a fraction of the image "
                                           "diagonal")
    trimap_widths: list[int] = bound(default_factory=lambda: [2, 4], ge=1, unique=True,
                                     why="band widths in pixels")
