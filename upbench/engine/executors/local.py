"""The default executor: every cell in this process, one after another."""

from __future__ import annotations

from typing import TYPE_CHECKING

from upbench.engine.executors.base import CellFn, Executor, OnResult

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

        rep = reporter or Reporter()
        fn = self.cell_fn or run_cell
        for i, cell in enumerate(cells):
            rep.cell_start(cell, i, len(cells))
            on_result(cell, fn(cell, rep))
