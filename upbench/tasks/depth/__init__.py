"""Monocular depth estimation: the BTS-style baseline (as the SAPA paper's depth experiment),
synthetic rooms or NYU-Depth-v2 in BTS's layout, BTS's nine metrics."""

from __future__ import annotations

from typing import Any

from upbench.data.imagecheck import DataError, check_samples, open_image
from upbench.data.nyu import ListError, check_depth, load_depth_png, read_list
from upbench.tasks.base import BaselineInfo, Task, check_baseline_keys
from upbench.tasks.depth.bts import BTSR50
from upbench.tasks.depth.bts import NAME as PAPER
from upbench.tasks.depth.config import DatasetConfig, MetricsConfig, ModelConfig
from upbench.tasks.depth.data import make_split
from upbench.tasks.depth.metrics import METRICS, DepthEvaluator
from upbench.tasks.depth.model import DepthBaseline
from upbench.utils.schema import ConfigError


class Depth(Task):
    """The depth task (baselines ``bts``: :class:`DepthBaseline`, the tiny default, and
    ``bts-r50``: :class:`~upbench.tasks.depth.bts.BTSR50`; reference ``nearest``)."""

    name = "depth"
    baselines = (
        BaselineInfo("bts", "tiny BTS-style encoder-decoder (from scratch, the quick default): four ×2 decoder slots guided by the encoder skips"),
        BaselineInfo(PAPER, "BTS with a ResNet-50 encoder (SAPA Table 4): the nearest ×2 of upconv5-2 as slots guided by the encoder skips; upconv1 stays nearest",
                     source="cleinc/bts pytorch/bts.py (resnet50_bts, bts_size 512, max depth 10)",
                     eval_size=(480, 640), paper=True),
    )
    reference = "nearest"
    metrics = METRICS
    dataset_config = DatasetConfig
    model_config = ModelConfig
    metrics_config = MetricsConfig
    input_multiple = 32
    eval_size = (512, 512)

    def validate(self, suite: Any, file: str) -> None:
        check_baseline_keys(suite, file, PAPER, ("widths", "blocks", "decoder_channels"))
        if suite.metrics.eigen_crop and list(suite.input_size) != [480, 640]:
            raise ConfigError(file, "metrics.eigen_crop", "the Eigen crop is defined on 480×640 "
                              f"maps; input_size is {suite.input_size} (set input_size: [480, 640] "
                              "or eigen_crop: false)")

    def check_data(self, suite: Any, file: str, deep: bool = False) -> None:
        d = suite.dataset
        if d.kind != "folder":
            return
        for split, lst, limit in (("train", d.train_list, d.max_train),
                                  ("val", d.val_list, d.max_val)):
            key = f"dataset.{split}_list"
            try:
                pairs = read_list(d.root, lst)[:limit]
            except (ListError, FileNotFoundError, UnicodeDecodeError, DataError) as e:
                raise ConfigError(file, key, str(e)) from None
            if not pairs:
                raise ConfigError(file, key, f"{lst} lists no samples")
            # validation depth must hold pixels inside the metrics' range to be measured
            rng = ((suite.metrics.min_depth, suite.metrics.max_depth) if split == "val"
                   else (None, None))

            def decode(i: int, pairs=pairs, rng=rng) -> None:
                open_image(pairs[i].image, "RGB")
                check_depth(load_depth_png(pairs[i].depth), pairs[i].depth, *rng)

            try:
                check_samples([(p.image, p.depth) for p in pairs], deep, decode=decode)
            except (DataError, ValueError) as e:
                raise ConfigError(file, key, str(e)) from None

    def augmentation(self, suite: Any):
        """Scale jitter + crop and photometric jitter (``train.augment``; padding: depth 0 (invalid))."""
        if not suite.train.augment.active:
            return None
        from upbench.data.augment import DenseAugment

        return DenseAugment(suite.train.augment, tuple(suite.input_size), "depth", 0.0)

    def splits(self, suite: Any):
        return (make_split(suite.dataset, "train", suite.input_size),
                make_split(suite.dataset, "val", suite.input_size))

    def build_model(self, suite: Any, upsampler: str, hparams: dict[str, Any],
                    placement: str | None, seed: int, decode_stride: int | None = None
                    ) -> DepthBaseline | BTSR50:
        m = suite.model
        if suite.baseline == PAPER:
            return BTSR50(upsampler, hparams, max_depth=suite.dataset.max_depth,
                          min_depth=suite.metrics.min_depth, weights=m.weights,
                          weights_strict=m.weights_strict, impl=suite.impl, seed=seed,
                          placement=placement)
        return DepthBaseline(upsampler, hparams, widths=m.widths, blocks=m.blocks,
                             decoder_channels=m.decoder_channels,
                             max_depth=suite.dataset.max_depth,
                             min_depth=suite.metrics.min_depth, impl=suite.impl, seed=seed,
                             placement=placement)

    def evaluator(self, suite: Any) -> DepthEvaluator:
        mc = suite.metrics
        return DepthEvaluator(mc.min_depth, mc.max_depth, mc.eigen_crop)


TASK = Depth()

__all__ = ["TASK", "Depth", "DepthBaseline"]
