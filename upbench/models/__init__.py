"""Fixed baselines with named upsampler slots (one per task)."""

from __future__ import annotations

from typing import Any

from upbench.models.seg import SegBaseline, Unhostable

BASELINES = {"seg": SegBaseline}
TASK_ALIASES = {"seg": "seg", "segmentation": "seg"}


def build_model(baseline: str, num_classes: int, upsampler: str, hparams: dict[str, Any] | None,
                model_cfg: Any = None, impl: str = "auto", seed: int | None = None,
                placement: str | None = None) -> SegBaseline:
    """Build ``baseline`` ('seg') hosting ``upsampler``; ``model_cfg`` is a suite ModelConfig;
    ``placement`` is ``decoder`` | ``final`` | None (the upsampler's default)."""
    if TASK_ALIASES.get(baseline) != "seg":
        from upbench.utils.suggest import unknown_name_message

        raise KeyError(unknown_name_message("baseline", baseline, list(TASK_ALIASES)))
    kw = {}
    if model_cfg is not None:
        kw = {"widths": model_cfg.widths, "blocks": model_cfg.blocks,
              "decoder_channels": model_cfg.decoder_channels}
    return SegBaseline(num_classes, upsampler, hparams, impl=impl, seed=seed, placement=placement,
                       **kw)


__all__ = ["BASELINES", "SegBaseline", "Unhostable", "build_model"]
