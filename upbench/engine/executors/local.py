"""The default executor: the cells on this machine, one after another or in worker processes.

With ``jobs == 1`` every cell runs in the driver process. With ``jobs > 1`` a pool of spawned
worker processes (:mod:`upbench.engine.executors._worker`) runs that many cells at once; each cell
still sets its own thread count and seed, so its metrics are those of a serial run. Latency and
memory are measured with the machine to the cell alone: the workers share a
:class:`~upbench.engine.exclusive.MachineShare`, and every other cell pauses at its next training
iteration (or phase change) until the measurement is done.

A worker that dies (killed, out of memory) makes its cell ``failed`` with that reason and is
replaced; Ctrl-C — or SIGTERM to the driver, e.g. from ``timeout`` — stops every worker and keeps
the finished cells.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import signal
import threading
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from upbench.engine.executors.base import CellFn, Executor, OnResult, run_in_order

if TYPE_CHECKING:
    from upbench.engine.runner import Reporter
    from upbench.engine.suite import Cell

#: seconds without an event after which the driver looks for dead workers
POLL_S = 1.0


def default_jobs(threads: list[int | None]) -> int:
    """Cells at once by default: the usable cores divided by the most threads any cell uses
    (a cell without a thread count uses all cores: 1 job)."""
    from upbench.measure.machine import usable_cores

    cores = usable_cores()
    per_cell = max((t or cores) for t in threads) if threads else cores
    return max(1, cores // max(1, per_cell))


@dataclass
class _Worker:
    process: Any
    tasks: Any
    index: int | None = None  # the cell it runs, by position in the run's list


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def _sigterm_interrupts() -> Any:
    """SIGTERM raises KeyboardInterrupt in the driver while workers run (main thread only), so
    the workers are stopped and the finished cells kept, as on Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


class LocalExecutor(Executor):
    """Runs the cells on this machine: in the driver (``jobs=1``) or ``jobs`` worker processes.

    Args:
        cell_fn: runs one cell (default :func:`upbench.engine.runner.run_cell`); with
            ``jobs > 1`` it must be picklable (module level) and accept ``share=``.
        jobs: cells at once.
    """

    name = "local"

    def __init__(self, cell_fn: CellFn | None = None, jobs: int = 1) -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        self.cell_fn = cell_fn
        self.jobs = jobs

    def describe(self) -> str:
        return "local, one cell at a time" if self.jobs == 1 else (
            f"local, {self.jobs} cells at once (latency and memory measured alone)")

    def run(self, cells: list[Cell], on_result: OnResult,
            reporter: Reporter | None = None) -> None:
        from upbench.engine.runner import Reporter, run_cell

        rep = reporter or Reporter()
        jobs = min(self.jobs, len(cells))
        if jobs > 1:
            self._run_pool(cells, on_result, rep, jobs)
            return
        run_in_order(cells, on_result, rep, self.cell_fn or run_cell)

    # -- the pool -------------------------------------------------------------------------------
    def _run_pool(self, cells: list[Cell], on_result: OnResult, rep: Reporter,
                  jobs: int) -> None:
        from upbench.engine.exclusive import MachineShare
        from upbench.engine.executors._worker import worker_main
        from upbench.engine.runner import failed_record

        ctx = multiprocessing.get_context("spawn")
        share = MachineShare(ctx, jobs)
        events = ctx.Queue()

        def start(slot: int) -> _Worker:
            tasks = ctx.SimpleQueue()
            p = ctx.Process(target=worker_main, args=(slot, tasks, events, share, self.cell_fn),
                            name=f"upbench-cell-worker-{slot}", daemon=True)
            p.start()
            return _Worker(p, tasks)

        workers = [start(slot) for slot in range(jobs)]
        pending = deque(range(len(cells)))
        done: set[int] = set()

        def assign() -> None:
            for w in workers:
                if w.index is None and pending:
                    w.index = pending.popleft()
                    rep.cell_start(cells[w.index], w.index, len(cells))
                    w.tasks.put((w.index, cells[w.index]))

        def finish(slot: int, index: int, record: dict[str, Any]) -> None:
            if workers[slot].index == index:
                workers[slot].index = None
            if index in done:  # a late record of a worker already declared lost
                return
            done.add(index)
            on_result(cells[index], record)

        clean = False
        try:
            with _sigterm_interrupts():
                assign()
                while len(done) < len(cells):
                    try:
                        ev = events.get(timeout=POLL_S)
                    except queue.Empty:
                        for slot, w in enumerate(workers):
                            if w.index is not None and not w.process.is_alive():
                                index, code = w.index, w.process.exitcode
                                share.forget(slot)
                                workers[slot] = start(slot)
                                finish(slot, index, failed_record(
                                    cells[index], f"worker lost: its process ended with exit "
                                                  f"code {code} (killed, or out of memory?)"))
                        assign()
                        continue
                    kind, slot, index = ev[:3]
                    if kind == "phase":
                        rep.phase(cells[index], ev[3])
                    elif kind == "iter":
                        rep.iteration(cells[index], ev[3], ev[4], ev[5])
                    elif kind == "progress":
                        rep.progress(cells[index], ev[3])
                    elif kind == "done":
                        finish(slot, index, ev[3])
                        assign()
            clean = True
        finally:
            for w in workers:
                if clean and w.process.is_alive():
                    w.tasks.put(None)
                else:
                    w.process.terminate()
            for w in workers:
                w.process.join(timeout=10)
                if w.process.is_alive():
                    w.process.kill()
                    w.process.join()
            events.close()
            events.join_thread()
