"""What a baseline declares about itself: its name, where it comes from, and its upsampler slots.

A task lists its baselines as :class:`BaselineInfo` s (the first is the default of its suites);
a built baseline (a :class:`~upbench.tasks.base.TaskModel`) describes each slot that holds the
upsampler under test as a :class:`SlotInfo`, which ``upbench flops --baseline`` and
``upbench baselines`` print.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class SlotInfo:
    """One upsampler slot of a built baseline.

    Attributes:
        name: the slot module's name in the model (e.g. ``decode_head.up_c4.0``).
        in_channels: channels of the feature it upsamples.
        guide_channels: channels of the guide it is given (None: no guide is passed).
        scale: the upsampling factor.
        upsampler: the registry name of the upsampler in the slot (or the module type of a
            non-upsampler module counted with it, e.g. a fusing conv).
    """

    name: str
    in_channels: int
    guide_channels: int | None
    scale: int
    upsampler: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-able."""
        return asdict(self)


@dataclass(frozen=True)
class BaselineInfo:
    """A named baseline of a task.

    Attributes:
        name: the suite's ``baseline:`` value.
        summary: one line: the network and where its slots are.
        source: the official code or config it is built after ("" for upbench's own).
        eval_size: the input size (H, W) its paper reports FLOPs at (None: the task's).
        paper: True for a paper's network built exactly (its parameter count is asserted in
            tests), False for upbench's tiny from-scratch baselines.
    """

    name: str
    summary: str
    source: str = ""
    eval_size: tuple[int, int] | None = None
    paper: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-able."""
        d = asdict(self)
        d["eval_size"] = list(self.eval_size) if self.eval_size else None
        return d


__all__ = ["BaselineInfo", "SlotInfo"]
