"""The matting task's suite sections: ``dataset``, ``model`` and ``metrics``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from upbench.data.composition1k import DEFAULT_LAYOUT
from upbench.tasks.paths import ALL_SAMPLES, check_dataset_section
from upbench.utils.numbers import SEED_MAX
from upbench.utils.schema import ConfigError, bound


@dataclass
class DatasetConfig:
    """Where the data comes from.

    ``kind: synthetic`` renders seeded foregrounds with detailed alpha over textured backgrounds
    (:mod:`upbench.data.matting_synthetic`: ``train_size``, ``val_size``, ``seed``,
    ``val_kernel`` — the fixed trimap dilation of validation); ``kind: folder`` reads Adobe
    Composition-1k (``format: composition1k``, ``root`` and the folder keys ``train_fg``,
    ``train_alpha``, ``train_bg``, ``test_merged``, ``test_alpha``, ``test_trimap``, relative to
    ``root``, defaults the Adobe layout; ``bg_per_fg`` backgrounds per foreground;
    ``max_train``/``max_val`` subsample).
    """

    kind: Literal["synthetic", "folder"] = "synthetic"
    train_size: int = bound(512, ge=1)
    val_size: int = bound(128, ge=1)
    seed: int = bound(0, ge=0, le=SEED_MAX, why="seeds are 64-bit: 0..2**63 - 1")
    val_kernel: int = bound(7, ge=1, why="the trimap dilation in pixels")
    format: Literal["composition1k"] = "composition1k"
    root: str | None = None
    train_fg: str = DEFAULT_LAYOUT["train_fg"]
    train_alpha: str = DEFAULT_LAYOUT["train_alpha"]
    train_bg: str = DEFAULT_LAYOUT["train_bg"]
    test_merged: str = DEFAULT_LAYOUT["test_merged"]
    test_alpha: str = DEFAULT_LAYOUT["test_alpha"]
    test_trimap: str = DEFAULT_LAYOUT["test_trimap"]
    bg_per_fg: int = bound(1, ge=1, le=1000, why="backgrounds per foreground; Deep Image "
                           "Matting's Composition-1k uses 100")
    max_train: int | None = bound(None, ge=1, why=ALL_SAMPLES)
    max_val: int | None = bound(None, ge=1, why=ALL_SAMPLES)

    @property
    def layout(self) -> dict[str, str]:
        """The folder keys of the Composition-1k layout."""
        return {k: getattr(self, k) for k in DEFAULT_LAYOUT}

    def validate(self, file: str, prefix: str) -> None:
        check_dataset_section(self, file, prefix)


@dataclass
class ModelConfig:
    """The A2U-style baseline's size: encoder ``widths``/``blocks`` (C2–C5 at strides 4–32, 2×2
    max-pooling between stages), ``full_channels`` of the full-resolution shortcut, and the
    channels of the five ×2 decoder stages (s32→16, →8, →4, →2, →1). The paper baseline
    ``a2u-r34`` has A2U's fixed sizes.

    ``weights``: pretrained weights for ``a2u-r34``'s ResNet-34 encoder (a file, or
    ``imagenet``: torchvision's ImageNet ResNet-34; the stem's trimap channel starts at zero);
    ``weights_strict: false`` loads what fits and records the rest.
    """

    widths: list[int] = bound(default_factory=lambda: [16, 32, 64, 128], ge=1)
    blocks: list[int] = bound(default_factory=lambda: [1, 1, 1, 1], ge=1)
    full_channels: int = bound(8, ge=1)
    decoder_channels: list[int] = bound(default_factory=lambda: [64, 32, 16, 16, 8], ge=1)
    weights: str | None = bound(None, omit_default=True)
    weights_strict: bool = bound(True, omit_default=True)

    def validate(self, file: str, prefix: str) -> None:
        if len(self.widths) != 4 or len(self.blocks) != 4 or len(self.decoder_channels) != 5:
            raise ConfigError(file, prefix, "widths and blocks need 4 entries, decoder_channels 5")


@dataclass
class MetricsConfig:
    """The matting metrics have no parameters (Composition-1k's MATLAB definitions)."""
