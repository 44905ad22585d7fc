"""The depth task's suite sections: ``dataset``, ``model`` and ``metrics``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from upbench.tasks.paths import ALL_SAMPLES, check_dataset_section, resolve_file
from upbench.utils.numbers import SEED_MAX
from upbench.utils.schema import ConfigError, bound


@dataclass
class DatasetConfig:
    """Where the data comes from.

    ``kind: synthetic`` renders seeded rooms (:mod:`upbench.data.depth_synthetic`: ``train_size``,
    ``val_size``, ``seed``); ``kind: folder`` reads NYU-Depth-v2 in BTS's layout (``format: nyu``,
    ``root``, ``train_list``, ``val_list`` — lines ``<rgb> <depth> <focal>`` relative to ``root``,
    depth 16-bit PNG in millimetres; ``max_train``/``max_val`` to subsample). ``max_depth`` is the
    network's output range (metres). Images are resized to the suite's ``input_size``.
    """

    kind: Literal["synthetic", "folder"] = "synthetic"
    train_size: int = bound(512, ge=1)
    val_size: int = bound(128, ge=1)
    seed: int = bound(0, ge=0, le=SEED_MAX, why="seeds are 64-bit: 0..2**63 - 1")
    max_depth: float = bound(10.0, gt=0, why="metres")
    format: Literal["nyu"] = "nyu"
    root: str | None = None
    train_list: str | None = None
    val_list: str | None = None
    max_train: int | None = bound(None, ge=1, why=ALL_SAMPLES)
    max_val: int | None = bound(None, ge=1, why=ALL_SAMPLES)

    def validate(self, file: str, prefix: str) -> None:
        if not check_dataset_section(self, file, prefix):
            return
        for k in ("train_list", "val_list"):
            v = getattr(self, k)
            if not v:
                raise ConfigError(file, f"{prefix}.{k}", "required for kind: folder (a BTS split "
                                  "list: '<rgb path> <depth path> <focal>' per line)")
            setattr(self, k, resolve_file(v, self.root, file, f"{prefix}.{k}"))


@dataclass
class ModelConfig:
    """The BTS-style baseline's size (:class:`~upbench.tasks.depth.model.DepthBaseline`):
    encoder ``widths``/``blocks`` (strides 4–32) and the channels of the four ×2 decoder stages
    (s32→s16, s16→s8, s8→s4, s4→s2). The paper baseline ``bts-r50`` has BTS's fixed sizes.

    ``weights``: pretrained weights for ``bts-r50``'s ResNet-50 (a file, or ``imagenet``:
    torchvision's ImageNet ResNet-50); ``weights_strict: false`` loads what fits and records the
    rest.
    """

    widths: list[int] = bound(default_factory=lambda: [16, 32, 64, 128], ge=1)
    blocks: list[int] = bound(default_factory=lambda: [1, 1, 1, 1], ge=1)
    decoder_channels: list[int] = bound(default_factory=lambda: [64, 32, 16, 16], ge=1)
    weights: str | None = bound(None, omit_default=True)
    weights_strict: bool = bound(True, omit_default=True)

    def validate(self, file: str, prefix: str) -> None:
        if len(self.widths) != 4 or len(self.blocks) != 4 or len(self.decoder_channels) != 4:
            raise ConfigError(file, prefix, "widths, blocks and decoder_channels need 4 entries")


@dataclass
class MetricsConfig:
    """BTS's evaluation range (metres) and the Eigen crop (480×640 maps only)."""

    min_depth: float = bound(1e-3, ge=0, why="metres")
    max_depth: float = bound(10.0, gt=0, why="metres")
    eigen_crop: bool = False

    def validate(self, file: str, prefix: str) -> None:
        if not 0 <= self.min_depth < self.max_depth:
            raise ConfigError(file, prefix, f"need 0 <= min_depth < max_depth, got "
                              f"{self.min_depth}, {self.max_depth}")
