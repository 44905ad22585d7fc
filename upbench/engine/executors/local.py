"""The default executor: every cell in this process, one after another."""

from __future__ import annotations

from typing import TYPE_CHECKING

from upbench.engine.executors.base import CellFn, Executor, OnResult, run_in_order

if TYPE_CHECKING:
    from upbench.engine.runner import Reporter
    from upbench.engine.suite import Cell


class LocalExecutor(Executor):
    """Runs the cells in order in the driver process, with live per-iteration progress."""

    name = "local"

    def __init__(self, cell_fn: CellFn | None = None) -> None:
        self.cell_fn = cell_fn

    def run(self, cells: list[Cell], on_result: OnResult,
            reporter: Reporter | None = None) -> None:
        from upbench.engine.runner import Reporter, run_cell

        run_in_order(cells, on_result, reporter or Reporter(), self.cell_fn or run_cell)
