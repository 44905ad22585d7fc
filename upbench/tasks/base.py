"""The task contract: what the task-agnostic engine needs from a task (docs/tasks.md).

A task is one folder ``upbench/tasks/<task>/`` and one entry in :data:`upbench.tasks.TASKS`. It
declares its suite sections (dataset, model and metrics dataclasses), its :class:`Metric` s (the
first is the primary), its reference upsampler and baselines, and builds the train and
validation :class:`Split` s, the :class:`TaskModel` hosting one upsampler, an :class:`Evaluator`
and example inputs for FLOPs, latency and memory. The engine (suite, runner, train loop, profile,
compare, gate) and the CLI know nothing else of a task.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

import torch
from torch import nn

from upbench.models.baseline import BaselineInfo, SlotInfo
from upbench.models.slots import Unhostable
from upbench.upsamplers.base import Upsampler

Batch = tuple[tuple[torch.Tensor, ...], Any]  # (model inputs, targets)


@dataclass(frozen=True)
class Metric:
    """One reported quantity of a task.

    Attributes:
        key: the key in a result's ``metrics`` (e.g. ``"mIoU"``, ``"abs_rel"``).
        higher_is_better: the direction; a move the other way is a regression.
        unit: shown in headers and the gate's tolerance (``"%"``, ``"m"``, ``""``).
        digits: decimals in tables.
        shown: a column of compare's table (all metrics go to CSV and JSON).
        delta: compare also shows the paired Δ against the reference upsampler.
        gated: the CI gate checks it (with a tolerance in ``unit``).
        tolerance_floor: the gate's smallest tolerance, in ``unit``, when the result comes from
            another environment than the baseline (the seed-to-seed spread sets the rest).
        rerun_tolerance: the gate's tolerance, in ``unit``, when the result was produced in the
            baseline's environment (same torch, CPU, threads, compiler, native ops, device) with
            the same config and seed: training is then deterministic and a rerun reproduces the
            baseline almost exactly. Default (None): ``10**-digits``, the last shown digit.
    """

    key: str
    higher_is_better: bool
    unit: str = ""
    digits: int = 2
    shown: bool = True
    delta: bool = False
    gated: bool = True
    tolerance_floor: float = 0.5
    rerun_tolerance: float | None = None

    def __post_init__(self) -> None:
        if self.rerun_tolerance is None:
            object.__setattr__(self, "rerun_tolerance", 10.0 ** -self.digits)

    @property
    def direction(self) -> Literal["higher", "lower"]:
        """``"higher"`` or ``"lower"`` (is better)."""
        return "higher" if self.higher_is_better else "lower"

    @property
    def header(self) -> str:
        """Column header with the direction arrow, e.g. ``mIoU ↑`` or ``abs_rel ↓``."""
        return f"{self.key} {'↑' if self.higher_is_better else '↓'}"

    def regressed(self, value: float, baseline: float, tolerance: float) -> bool:
        """True when ``value`` moved from ``baseline`` in the bad direction by more than
        ``tolerance``."""
        return value < baseline - tolerance if self.higher_is_better else value > baseline + tolerance

    def improved(self, value: float, baseline: float, tolerance: float) -> bool:
        """True when ``value`` moved in the good direction by more than ``tolerance``."""
        return self.regressed(baseline, value, tolerance)

    def format(self, value: float | None) -> str:
        """``value`` with this metric's digits (``—`` for missing or NaN)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "—"
        return f"{value:.{self.digits}f}"


class Split(Protocol):
    """A dataset split: ``len()`` samples, batched by index.

    ``batch(indices, flip)`` returns ``(inputs, targets)``: ``inputs`` is the tuple of model inputs
    (tensors with a leading batch dimension), ``targets`` whatever the task's loss and evaluator
    take. ``flip`` (bool per sample, or None) asks for a horizontal flip of those samples — of
    their inputs and targets alike, as the task defines it (boxes move, labels flip).
    """

    def __len__(self) -> int: ...

    def batch(self, indices: torch.Tensor, flip: torch.Tensor | None = None) -> Batch: ...


class Evaluator(Protocol):
    """Accumulates over a split, as the field's evaluators do: ``update`` per batch, then
    ``compute() -> {metric key: value}`` divides at the end.

    An evaluator may also define ``artifacts() -> {name: JSON-able}`` (called after
    ``compute``): files the driver writes beside the cell's result as ``<stem>.<name>`` (e.g.
    ``detections.json``, the COCO results anyone can re-evaluate). Workers never write files.
    """

    def update(self, predictions: Any, targets: Any) -> None: ...

    def compute(self) -> dict[str, Any]: ...


class TaskModel(nn.Module):
    """A task's baseline network with named upsampler slots.

    * ``forward(*inputs)`` is the network alone and returns tensors (what FLOPs and latency
      measure);
    * ``loss(outputs, targets) -> dict`` is the training loss, the slots' own losses included;
    * ``predict(outputs)`` is what the evaluator takes (``infer`` = ``predict(forward(...))``, what
      latency times);
    * ``fit(passes)`` runs the slots' fitting steps before training (e.g. a PCA of the labels).

    Attributes:
        slots: module names holding the upsampler under test (its params / FLOPs share).
        placement: where the upsampler sits (``decoder`` or ``final``), for the record.
        weights_report: what ``model.weights`` loaded (None: no pretrained weights), recorded
            in the cell's result.
    """

    slots: list[str]
    placement: str = "decoder"
    flops_note: str = ""  # what the FLOP count covers, when flops_target() is not the model
    weights_report: Any = None  # upbench.models.weights.WeightsReport when weights were loaded

    def loss(self, outputs: Any, targets: Any) -> dict[str, torch.Tensor]:
        """Named loss terms; the train loop minimises their sum."""
        raise NotImplementedError

    def training_losses(self, inputs: tuple[torch.Tensor, ...], targets: Any
                        ) -> dict[str, torch.Tensor]:
        """One training forward and its losses (``loss(forward(*inputs), targets)``). A model
        whose loss needs more than the outputs (a slot's intermediate state, or targets inside
        the network as in Faster R-CNN) overrides this."""
        return self.loss(self(*inputs), targets)

    def predict(self, outputs: Any) -> Any:
        """Predictions for the evaluator from ``forward``'s outputs."""
        raise NotImplementedError

    @torch.no_grad()
    def infer(self, *inputs: torch.Tensor) -> Any:
        """The full inference path: ``predict(forward(*inputs))``."""
        return self.predict(self(*inputs))

    def slot_modules(self) -> list[tuple[str, nn.Module]]:
        """(name, module) of the slots holding the upsampler under test."""
        mods = dict(self.named_modules())
        return [(s, mods[s]) for s in self.slots]

    def slot_table(self) -> list[SlotInfo]:
        """Each slot's channels, guide channels, scale and upsampler (``upbench flops``'s slot
        table). A slot that is not an :class:`Upsampler` (e.g. a fusing conv counted with a
        label-space decoder) is listed with its module type."""
        rows = []
        for name, mod in self.slot_modules():
            if isinstance(mod, Upsampler):
                rows.append(SlotInfo(name, mod.in_channels, mod.guide_channels, mod.scale,
                                     mod.name))
            else:
                conv = next((m for m in mod.modules() if isinstance(m, nn.Conv2d)), None)
                rows.append(SlotInfo(name, conv.in_channels if conv is not None else 0, None, 1,
                                     type(mod).__name__))
        return rows

    def fit(self, passes: Any) -> None:
        """Run each slot upsampler's fitting step (e.g. DUpsampling's PCA) before training."""
        for _, mod in self.slot_modules():
            if isinstance(mod, Upsampler):
                mod.fit(passes)

    def diagnostics(self, val_split: Split) -> dict[str, Any]:
        """Facts about the trained slots worth recording beside the metrics (e.g. a label-space
        decoder's reconstruction ceiling on the validation labels); nothing by default."""
        return {}

    def flops_target(self) -> tuple[nn.Module, list[str]]:
        """The module fvcore traces on the example inputs and the names of its upsampler slots
        (default: this model). A model whose forward is not a traceable tensor function (e.g.
        detection post-processing) returns a wrapper and says in its docstring what is counted."""
        return self, list(self.slots)


class Task:
    """A task. Subclasses set the class attributes and implement the builders.

    Attributes:
        name: the suite's ``task:`` value.
        baselines: the baselines a suite's ``baseline:`` names (the first is the default).
        reference: the upsampler deltas are taken against (as the task's baseline ships).
        metrics: the reported metrics, the primary first.
        dataset_config, model_config, metrics_config: the dataclasses of the suite sections
            ``dataset``, ``model`` and ``metrics``.
        input_multiple: ``input_size`` must be a multiple of this (the output stride).
        eval_size: the evaluation size ``(H, W)`` FLOPs and latency are reported at, as the
            task's papers do (independent of the training size; None: the suite's input size).
    """

    name: ClassVar[str] = ""
    baselines: ClassVar[tuple[BaselineInfo, ...]] = ()
    reference: ClassVar[str] = "bilinear"
    metrics: ClassVar[tuple[Metric, ...]] = ()
    dataset_config: ClassVar[type]
    model_config: ClassVar[type]
    metrics_config: ClassVar[type]
    input_multiple: ClassVar[int] = 32
    eval_size: ClassVar[tuple[int, int] | None] = None

    @property
    def baseline_names(self) -> tuple[str, ...]:
        """The names of :attr:`baselines`, the default first."""
        return tuple(b.name for b in self.baselines)

    def baseline(self, name: str | None) -> BaselineInfo:
        """The baseline called ``name`` (None: the default).

        Raises:
            KeyError: no such baseline (the message names the task's baselines).
        """
        for b in self.baselines:
            if name is None or b.name == name:
                return b
        raise KeyError(f"task {self.name!r} has no baseline {name!r} (it has: "
                       f"{', '.join(self.baseline_names)})")

    def flops_size(self, baseline: str | None) -> tuple[int, int] | None:
        """The input size (H, W) FLOPs are reported at for ``baseline``: its paper's, else the
        task's :attr:`eval_size` (None: neither says)."""
        size = self.baseline(baseline).eval_size or self.eval_size
        return tuple(size) if size else None

    @property
    def primary(self) -> Metric:
        """The first metric."""
        return self.metrics[0]

    def metric(self, key: str) -> Metric:
        """The metric with ``key``."""
        for m in self.metrics:
            if m.key == key:
                return m
        raise KeyError(f"task {self.name!r} has no metric {key!r} (it has: "
                       f"{', '.join(m.key for m in self.metrics)})")

    def validate(self, suite: Any, file: str) -> None:
        """Cross-section checks of a whole suite (sections are checked by their dataclasses);
        raises :class:`upbench.utils.schema.ConfigError`. Nothing by default."""

    def check_data(self, suite: Any, file: str, deep: bool = False) -> None:
        """Open the suite's dataset before any work starts (list files, check pairs, decode a
        sample; ``deep``: every sample); raises ConfigError naming the file. Nothing by default."""

    def splits(self, suite: Any) -> tuple[Split, Split]:
        """The (train, validation) splits of a suite at its input size."""
        raise NotImplementedError

    def augmentation(self, suite: Any) -> Any:
        """The training augmentation of ``suite.train.augment``: a callable
        ``(batch, sample_seeds) -> batch`` (:mod:`upbench.data.augment`), or None when the
        section is off or the task has none (then a set section is refused)."""
        return None

    def build_model(self, suite: Any, upsampler: str, hparams: dict[str, Any],
                    placement: str | None, seed: int, decode_stride: int | None = None
                    ) -> TaskModel:
        """The suite's baseline hosting ``upsampler``, initialised from ``seed``; ``placement``
        and the keyword arguments are the suite entry's host settings (None: the upsampler's
        defaults): the keywords are those the upsampler class declares
        (``Upsampler.host_settings``; a label-space decoder's ``decode_stride``), which the engine
        passes through unread.

        Raises:
            Unhostable: the baseline cannot host it (the cell is n/a with the reason).
        """
        raise NotImplementedError

    def evaluator(self, suite: Any) -> Evaluator:
        """A fresh evaluator for the validation split."""
        raise NotImplementedError

    def example_inputs(self, suite: Any, size: Sequence[int], device: torch.device | str = "cpu",
                       batch: int = 1) -> tuple[torch.Tensor, ...]:
        """Model inputs of ``batch`` images of ``size`` (H, W), for FLOPs, latency and memory
        (default: one RGB image tensor; a task whose model takes more overrides this)."""
        return (torch.randn(batch, 3, *size, device=device),)


def check_unused_keys(section: Any, keys: Sequence[str], baseline: str, file: str,
                      prefix: str = "model") -> None:
    """Refuse keys of a suite section that the chosen baseline does not use (a paper baseline's
    architecture is fixed) when they are set to anything but their default.

    Raises:
        ConfigError: naming the first such key and the baseline.
    """
    from upbench.utils.schema import ConfigError

    fields = {f.name: f for f in dataclasses.fields(section)}
    for key in keys:
        f = fields[key]
        default = f.default_factory() if f.default is dataclasses.MISSING else f.default
        if getattr(section, key) != default:
            raise ConfigError(file, f"{prefix}.{key}", f"does not apply to the baseline "
                              f"{baseline!r} (its architecture is the paper's); remove it "
                              "or choose another baseline")


def check_baseline_keys(suite: Any, file: str, paper: str, tiny_keys: Sequence[str]) -> None:
    """The ``model`` section of a task with a from-scratch baseline and one paper baseline
    ``paper``: the paper's architecture is fixed (the from-scratch sizes ``tiny_keys`` must keep
    their defaults) and only it loads pretrained ``weights``.

    Raises:
        ConfigError: a key of ``tiny_keys`` set for ``paper``, or ``weights`` set for another
            baseline.
    """
    from upbench.utils.schema import ConfigError

    if suite.baseline == paper:
        check_unused_keys(suite.model, tiny_keys, suite.baseline, file)
    elif suite.model.weights:
        raise ConfigError(file, "model.weights", f"the baseline {suite.baseline!r} is built "
                          f"from scratch (no pretrained encoder); weights apply to {paper}")


__all__ = ["BaselineInfo", "Batch", "Evaluator", "Metric", "SlotInfo", "Split", "Task", "TaskModel",
           "Unhostable", "check_baseline_keys", "check_unused_keys"]
