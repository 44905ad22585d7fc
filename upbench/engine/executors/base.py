"""The executor interface and the suite's ``executor:`` section."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from upbench.utils.schema import ConfigError, bound

if TYPE_CHECKING:
    from upbench.engine.runner import Reporter
    from upbench.engine.suite import Cell

#: runs one cell and returns its record (``upbench.engine.runner.run_cell`` by default)
CellFn = Callable[..., dict[str, Any]]
#: called by the executor in the driver as each cell finishes, in finishing order
OnResult = Callable[["Cell", dict[str, Any]], None]


@dataclass
class ExecutorConfig:
    """Where the cells run (suite section ``executor:``; CLI ``--executor`` etc. override it).

    Not part of any cell's config or hash: the same cell gives the same result wherever it runs.

    ``kind``: ``local`` (this machine: ``jobs`` cells at once in worker processes, latency and
    memory measured alone; default jobs: the cores divided by the suite's ``threads``) or
    ``ray`` (a Ray task per cell). ``address``: the Ray cluster to join (default ``RAY_ADDRESS``, else a local Ray
    instance is started). ``cpus_per_cell``: CPUs each Ray task asks for (default the suite's
    ``threads``, else 1); the worker sets torch's thread count to it. ``gpus_per_cell``: GPUs
    each task asks for (default 1 for a ``device: cuda`` suite, else 0). ``connect_timeout_s``:
    how long joining the cluster may take before the run stops with exit 2 (every connection
    attempt is bounded by it).
    """

    kind: Literal["local", "ray"] = "local"
    address: str | None = None
    cpus_per_cell: int | None = bound(None, ge=1, why="or null: the suite's threads, else 1")
    gpus_per_cell: float | None = bound(None, ge=0, why="or null: 1 for a cuda suite, else 0")
    jobs: int | None = bound(None, ge=1, why="or null: the cores divided by the suite's threads")
    connect_timeout_s: float = bound(60.0, gt=0, le=3600, why="seconds to join the Ray cluster")

    def validate(self, file: str, prefix: str) -> None:
        if self.kind == "local" and (self.address or self.cpus_per_cell or self.gpus_per_cell):
            raise ConfigError(file, f"{prefix}.kind", "address / cpus_per_cell / gpus_per_cell "
                              "only apply to kind: ray; set kind: ray or remove them")
        if self.kind == "ray" and self.jobs is not None:
            raise ConfigError(file, f"{prefix}.jobs", "jobs only applies to kind: local (Ray "
                              "schedules by cpus_per_cell); remove it or set kind: local")


class Executor(ABC):
    """Runs cells and hands each record back to the driver; never writes results itself."""

    #: short name recorded in results (``local`` / ``ray``)
    name: str = "executor"

    @abstractmethod
    def run(self, cells: list[Cell], on_result: OnResult,
            reporter: Reporter | None = None) -> None:
        """Run ``cells``; call ``on_result(cell, record)`` in this process as each finishes.

        A cell that raises, diverges or loses its worker still produces a (failed) record.
        KeyboardInterrupt propagates after outstanding work is cancelled; every record already
        handed to ``on_result`` is kept by the driver.
        """

    def connect(self) -> None:
        """Acquire the resources (join a cluster); called by the driver before any cell runs,
        so an unreachable cluster fails before work starts."""

    def describe(self) -> str:
        """One line for the console: where the cells run."""
        return self.name


def run_in_order(cells: list[Cell], on_result: OnResult, reporter: Reporter, cell_fn: CellFn) -> None:
    """Run ``cells`` one after another in this process: the local executor, and the driver's
    default when no executor is given."""
    for i, cell in enumerate(cells):
        reporter.cell_start(cell, i, len(cells))
        on_result(cell, cell_fn(cell, reporter))
