"""Executors: where a suite's cells run. The driver (:func:`upbench.engine.runner.run_suite`)
decides what runs and writes every result; an executor only runs cells and hands back records.

* ``local`` (default): this machine, one cell after another in this process or ``jobs`` cells at
  once in worker processes, see :mod:`upbench.engine.executors.local`.
* ``ray``: one Ray task per cell on a Ray cluster (or a local Ray instance), see
  :mod:`upbench.engine.executors.ray`.
"""

from __future__ import annotations

from upbench.engine.executors.base import Executor, ExecutorConfig
from upbench.engine.executors.local import LocalExecutor, default_jobs

EXECUTORS = ("local", "ray")


def make_executor(config: ExecutorConfig | None = None) -> Executor:
    """The executor a suite's ``executor:`` section (or the CLI flags) asks for (``jobs``
    unset: one cell at a time; the CLI resolves the default with :func:`default_jobs`)."""
    config = config or ExecutorConfig()
    if config.kind == "local":
        return LocalExecutor(jobs=config.jobs or 1)
    if config.kind == "ray":
        from upbench.engine.executors.ray import RayExecutor

        return RayExecutor(config)
    raise ValueError(f"unknown executor {config.kind!r} (known: {', '.join(EXECUTORS)})")


__all__ = ["EXECUTORS", "Executor", "ExecutorConfig", "LocalExecutor", "default_jobs",
           "make_executor"]
