"""The matting task's suite sections: ``dataset``, ``model`` and ``metrics``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from upbench.data.composition1k import DEFAULT_LAYOUT
from upbench.tasks.paths import check_dataset_section
from upbench.utils.schema import ConfigError


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
    train_size: int = 512
    val_size: int = 128
    seed: int = 0
    val_kernel: int = 7
    format: Literal["composition1k"] = "composition1k"
    root: str | None = None
    train_fg: str = DEFAULT_LAYOUT["train_fg"]
    train_alpha: str = DEFAULT_LAYOUT["train_alpha"]
    train_bg: str = DEFAULT_LAYOUT["train_bg"]
    test_merged: str = DEFAULT_LAYOUT["test_merged"]
    test_alpha: str = DEFAULT_LAYOUT["test_alpha"]
    test_trimap: str = DEFAULT_LAYOUT["test_trimap"]
    bg_per_fg: int = 1
    max_train: int | None = None
    max_val: int | None = None

    @property
    def layout(self) -> dict[str, str]:
        """The folder keys of the Composition-1k layout."""
        return {k: getattr(self, k) for k in DEFAULT_LAYOUT}

    def validate(self, file: str, prefix: str) -> None:
        for k in ("val_kernel", "bg_per_fg"):
            if getattr(self, k) < 1:
                raise ConfigError(file, f"{prefix}.{k}", "must be >= 1")
        check_dataset_section(self, file, prefix)


@dataclass
class ModelConfig:
    """The A2U-style baseline's size: encoder ``widths``/``blocks`` (C2–C5 at strides 4–32, 2×2
    max-pooling between stages), ``full_channels`` of the full-resolution shortcut, and the
    channels of the five ×2 decoder stages (s32→16, →8, →4, →2, →1)."""

    widths: list[int] = field(default_factory=lambda: [16, 32, 64, 128])
    blocks: list[int] = field(default_factory=lambda: [1, 1, 1, 1])
    full_channels: int = 8
    decoder_channels: list[int] = field(default_factory=lambda: [64, 32, 16, 16, 8])

    def validate(self, file: str, prefix: str) -> None:
        if len(self.widths) != 4 or len(self.blocks) != 4 or len(self.decoder_channels) != 5:
            raise ConfigError(file, prefix, "widths and blocks need 4 entries, decoder_channels 5")
        if min(self.widths + self.blocks + self.decoder_channels + [self.full_channels]) < 1:
            raise ConfigError(file, prefix, "all sizes must be >= 1")


@dataclass
class MetricsConfig:
    """The matting metrics have no parameters (Composition-1k's MATLAB definitions)."""
