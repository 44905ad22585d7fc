"""Shared use of the machine by cells that train, exclusive use by a cell that is being timed.

The local executor runs several cells at once in worker processes, but a latency or memory
measurement must have the machine to itself. :class:`MachineShare` is a readers–writer lock
across processes with writer preference:

* a worker holds **shared** use while its cell builds, trains and evaluates;
* a cell about to be timed asks for **exclusive** use: it gives up its shared use, new shared
  use is refused, and it waits until every other worker has given up its shared use;
* a training cell gives its shared use up at each :meth:`MachineShare.checkpoint` (every
  iteration and phase change) while a measurement waits, and takes it back once no measurement
  is waiting or running — so nothing of ours runs while a cell is timed.

The state is one small integer per worker (idle / shared / waiting / measuring) under one
condition variable, so the driver can release what a worker that died held
(:meth:`MachineShare.forget`). Serial runs use :class:`NoShare`, which does nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

IDLE, SHARED, WAITING, MEASURING = 0, 1, 2, 3


class NoShare:
    """The machine share of a serial run: nothing else runs, nothing to wait for."""

    def checkpoint(self) -> None:
        """Nothing to yield to."""

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Already exclusive."""
        yield


class MachineShare:
    """A cross-process readers–writer lock over the machine (see the module docstring).

    Args:
        ctx: the ``multiprocessing`` context the workers are started with.
        workers: how many worker slots (indices ``0 .. workers-1``).
    """

    def __init__(self, ctx: Any, workers: int) -> None:
        self._cond = ctx.Condition(ctx.Lock())
        self._state = ctx.Array("i", workers, lock=False)
        self.slot: int | None = None  # set in a worker by :meth:`bind`

    # -- in a worker ----------------------------------------------------------------------------
    def bind(self, slot: int) -> MachineShare:
        """This worker's view: every later call acts for worker ``slot``."""
        self.slot = slot
        return self

    def _count(self, state: int) -> int:
        return sum(1 for s in self._state if s == state)

    def acquire_shared(self) -> None:
        """Take shared use, waiting while a measurement runs or waits."""
        with self._cond:
            while self._count(WAITING) or self._count(MEASURING):
                self._cond.wait()
            self._state[self.slot] = SHARED

    def release_shared(self) -> None:
        """Give shared use up (idempotent)."""
        with self._cond:
            if self._state[self.slot] == SHARED:
                self._state[self.slot] = IDLE
                self._cond.notify_all()

    def checkpoint(self) -> None:
        """Yield to a waiting measurement: give shared use up and take it back afterwards.

        The fast path (nobody waits) reads the state without the lock: a measurement that starts
        waiting just after is seen at the next checkpoint. A no-op for a worker that does not
        hold shared use (e.g. inside its own :meth:`exclusive`).
        """
        states = self._state[:]
        if states[self.slot] != SHARED:  # measuring itself (or idle): nothing to yield
            return
        if WAITING not in states and MEASURING not in states:
            return
        self.release_shared()
        self.acquire_shared()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Exclusive use for the body (the caller holds shared use; it holds it again after)."""
        with self._cond:
            self._state[self.slot] = WAITING
            self._cond.notify_all()
            while (self._count(SHARED) or self._count(MEASURING)):
                self._cond.wait()
            self._state[self.slot] = MEASURING
        try:
            yield
        finally:
            with self._cond:
                self._state[self.slot] = IDLE
                self._cond.notify_all()
            self.acquire_shared()

    # -- in the driver ----------------------------------------------------------------------------
    def forget(self, slot: int) -> None:
        """Release whatever worker ``slot`` held (it died) and wake the others."""
        with self._cond:
            self._state[slot] = IDLE
            self._cond.notify_all()

    def states(self) -> list[int]:
        """Every worker's state (for tests and diagnostics)."""
        with self._cond:
            return list(self._state)
