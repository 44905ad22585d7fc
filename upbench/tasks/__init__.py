"""The tasks upbench benchmarks upsamplers on: one folder each, one entry in :data:`TASKS`.

Adding a task is a folder ``upbench/tasks/<task>/`` (config, data, model, metrics and the
:class:`~upbench.tasks.base.Task` in its ``__init__``) and one line here; the engine, the CLI and
the gate take everything else from the Task.
"""

from __future__ import annotations

from upbench.tasks.base import BaselineInfo, Metric, SlotInfo, Task, TaskModel, Unhostable
from upbench.tasks.depth import TASK as DEPTH
from upbench.tasks.detection import TASK as DETECTION
from upbench.tasks.matting import TASK as MATTING
from upbench.tasks.segmentation import TASK as SEGMENTATION

TASKS: dict[str, Task] = {t.name: t for t in (SEGMENTATION, DEPTH, DETECTION, MATTING)}


def get_task(name: str) -> Task:
    """The task called ``name``; an unknown name suggests the closest one."""
    try:
        return TASKS[name]
    except KeyError:
        from upbench.utils.suggest import unknown_name_message

        raise KeyError(unknown_name_message("task", name, TASKS)) from None


__all__ = ["TASKS", "BaselineInfo", "Metric", "SlotInfo", "Task", "TaskModel", "Unhostable",
           "get_task"]
