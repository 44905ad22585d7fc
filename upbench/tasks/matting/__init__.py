"""Image matting: an A2U-style encoder-decoder (as the SAPA and FADE papers' matting experiment),
synthetic composites or Adobe Composition-1k, the Composition-1k MATLAB metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from upbench.data.composition1k import Composition1kTest, Composition1kTrain
from upbench.data.imagecheck import DataError, check_samples
from upbench.tasks.base import BaselineInfo, Task, check_baseline_keys
from upbench.tasks.matting.a2u import A2UR34
from upbench.tasks.matting.a2u import NAME as PAPER
from upbench.tasks.matting.config import DatasetConfig, MetricsConfig, ModelConfig
from upbench.tasks.matting.data import make_split
from upbench.tasks.matting.metrics import METRICS, MattingEvaluator
from upbench.tasks.matting.model import MattingBaseline
from upbench.utils.schema import ConfigError


class Matting(Task):
    """The matting task (baselines ``a2u``: :class:`MattingBaseline`, the tiny default, and
    ``a2u-r34``: :class:`~upbench.tasks.matting.a2u.A2UR34`; reference ``bilinear``)."""

    name = "matting"
    baselines = (
        BaselineInfo("a2u", "tiny A2U-style matting encoder-decoder (from scratch, the quick default): ×2 decoder slots guided by the shortcuts"),
        BaselineInfo(PAPER, "A2U matting's ResNet-34 network at output stride 16 (SAPA Table 5), bilinear form: four ×2 decoder slots guided by the shortcuts",
                     source="dongdong93/a2u_matting scripts/resnet.py (ResNet34DecoderLearning, config/adobe.yaml)",
                     eval_size=(512, 512), paper=True),
    )
    reference = "bilinear"
    metrics = METRICS
    dataset_config = DatasetConfig
    model_config = ModelConfig
    metrics_config = MetricsConfig
    input_multiple = 32
    eval_size = (512, 512)

    def validate(self, suite: Any, file: str) -> None:
        check_baseline_keys(suite, file, PAPER,
                            ("widths", "blocks", "full_channels", "decoder_channels"))
        if suite.baseline == PAPER and suite.train.batch_size < 2:
            raise ConfigError(file, "train.batch_size", f"{PAPER}'s ASPP normalises its "
                              "image-pooling branch (a 1×1 map) with BatchNorm, which needs "
                              "at least 2 images per training batch (A2U trains with 16)")

    def check_data(self, suite: Any, file: str, deep: bool = False) -> None:
        d = suite.dataset
        if d.kind != "folder":
            return
        size = tuple(suite.input_size)
        for split, make in (("train", lambda: Composition1kTrain(d.root, d.layout, size,
                                                                 d.bg_per_fg, d.seed, d.max_train)),
                            ("test", lambda: Composition1kTest(d.root, d.layout, size, d.max_val))):
            key = f"dataset.{split}_{'fg' if split == 'train' else 'merged'}"
            try:
                source = make()
                if not len(source):
                    raise FileNotFoundError(f"the {split} split has no images")
                if split == "train":  # foreground and alpha of one size; backgrounds any size
                    rows = list(zip(source.fg, source.alpha, strict=True))
                    check_samples([(b,) for b in source.bg], deep)
                    decode: Callable[[int], object] = source.item
                else:  # every decoded test sample must have unknown pixels to be measured
                    rows = list(zip(source.merged, source.alpha, source.trimap, strict=True))
                    decode = source.check_measurable
                check_samples(rows, deep, decode=decode)
            except (FileNotFoundError, DataError, OSError, ValueError) as e:
                raise ConfigError(file, key, f"{split} split under {d.root}: {e}") from None

    def splits(self, suite: Any):
        return (make_split(suite.dataset, "train", suite.input_size),
                make_split(suite.dataset, "val", suite.input_size))

    def build_model(self, suite: Any, upsampler: str, hparams: dict[str, Any],
                    placement: str | None, seed: int, decode_stride: int | None = None
                    ) -> MattingBaseline | A2UR34:
        m = suite.model
        if suite.baseline == PAPER:
            return A2UR34(upsampler, hparams, weights=m.weights, weights_strict=m.weights_strict,
                          impl=suite.impl, seed=seed, placement=placement)
        return MattingBaseline(upsampler, hparams, widths=m.widths, blocks=m.blocks,
                               full_channels=m.full_channels, decoder_channels=m.decoder_channels,
                               impl=suite.impl, seed=seed, placement=placement)

    def evaluator(self, suite: Any) -> MattingEvaluator:
        return MattingEvaluator()

    def example_inputs(self, suite: Any, size, device="cpu", batch: int = 1):
        trimap = torch.full((batch, 1, *size), 0.5, device=device)
        return torch.randn(batch, 3, *size, device=device), trimap


TASK = Matting()

__all__ = ["TASK", "Matting", "MattingBaseline"]
