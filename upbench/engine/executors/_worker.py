"""The worker process of the parallel local executor (spawned: a fresh interpreter, so no
OpenMP state is inherited through ``fork``).

A worker takes ``(index, cell)`` messages from its own task queue, runs each cell with
:func:`upbench.engine.runner.run_cell` under the shared :class:`~upbench.engine.exclusive.
MachineShare`, and reports on the common event queue:

* ``("phase", slot, index, name)`` — the cell entered a phase;
* ``("iter", slot, index, it, total, loss)`` — training progress, at most every 0.25 s;
* ``("progress", slot, index, entry)`` — a training-log record (lr, it/s, ...);
* ``("done", slot, index, record)`` — the cell's record (a failed one if it raised).

``None`` on the task queue ends the worker. SIGINT is ignored: the driver decides on Ctrl-C.
On Linux the worker is killed when the driver dies (``PR_SET_PDEATHSIG``), so a driver killed
by a signal leaves no worker behind.
"""

from __future__ import annotations

import signal
import time
import traceback
from typing import Any

from upbench.engine.runner import Reporter

#: seconds between two training-progress events of one cell
ITER_EVERY_S = 0.25


class QueueReporter(Reporter):
    """Progress of the worker's current cell, sent to the driver."""

    def __init__(self, events: Any, slot: int, index: int) -> None:
        self.events, self.slot, self.index = events, slot, index
        self._last = 0.0

    def phase(self, cell, name) -> None:
        self.events.put(("phase", self.slot, self.index, name))

    def progress(self, cell, entry) -> None:
        self.events.put(("progress", self.slot, self.index, dict(entry)))

    def iteration(self, cell, it, total, loss) -> None:
        now = time.monotonic()
        if it == total or now - self._last >= ITER_EVERY_S:
            self._last = now
            self.events.put(("iter", self.slot, self.index, it, total, float(loss)))


def die_with_parent() -> bool:
    """Ask Linux to SIGKILL this process when its parent dies; False where unsupported."""
    import ctypes
    import ctypes.util
    import os
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        ok = libc.prctl(1, signal.SIGKILL, 0, 0, 0) == 0  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return False
    if ok and os.getppid() == 1:  # the parent died before the request took effect
        os._exit(1)
    return ok


def worker_main(slot: int, tasks: Any, events: Any, share: Any, cell_fn: Any = None) -> None:
    """Run cells until told to stop (the target of each worker process)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()
    from upbench.engine.runner import failed_record, run_cell

    share.bind(slot)
    fn = cell_fn or run_cell
    while True:
        msg = tasks.get()
        if msg is None:
            return
        index, cell = msg
        share.acquire_shared()
        try:
            record = fn(cell, QueueReporter(events, slot, index), share=share)
        except BaseException as e:  # noqa: BLE001 - the driver gets a record whatever happens
            record = failed_record(cell, f"worker error: {type(e).__name__}: {e}",
                                   traceback.format_exc(limit=20))
        finally:
            share.release_shared()
        events.put(("done", slot, index, record))
