"""A cell's training log: JSON lines beside its result, TensorBoard events when available.

Every ``interval`` iterations (and at the last) one record: iteration, total loss and its terms,
learning rate, throughput (iterations and samples per second since the previous record), the
elapsed time and the ETA of the cell's training. The JSON-lines file
``<label>__seed<s>__<hash>.train.jsonl`` is appended to (a resumed cell continues it; records
are flushed line by line, so ``tail -f`` follows a run). When the ``tensorboard`` package is
installed the same scalars go to ``<label>__seed<s>__<hash>.tb/`` (optional import: without it
nothing else changes).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any


def log_interval(iterations: int) -> int:
    """Iterations between two records: about 50 records a run, at least every 50 iterations."""
    return max(1, min(50, iterations // 50))


class TrainLog:
    """Writes the training records of one cell (see the module docstring).

    Args:
        path: the JSON-lines file (None: records are only computed, for the console).
        iterations: the run's total iterations (for the ETA).
        batch_size: the global batch size (for samples per second).
        start: the iteration the run starts at (non-zero when resumed).
        tensorboard: also write TensorBoard events beside ``path`` when possible.
    """

    def __init__(self, path: str | Path | None, iterations: int, batch_size: int,
                 start: int = 0, tensorboard: bool = True) -> None:
        self.path = Path(path) if path is not None else None
        self.iterations, self.batch_size = iterations, batch_size
        self.interval = log_interval(iterations)
        self.t0 = self.t_last = time.perf_counter()
        self.start = self.it_last = start
        self._file = None
        self._tb = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
            if tensorboard:
                self._tb = _tensorboard_writer(self.path.with_suffix("").with_suffix(".tb"))

    def due(self, it: int) -> bool:
        """Whether iteration ``it`` (1-based) gets a record."""
        return it % self.interval == 0 or it == self.iterations

    def record(self, it: int, loss: float, terms: dict[str, float], lr: float) -> dict[str, Any]:
        """Write (and return) the record of iteration ``it``."""
        now = time.perf_counter()
        dt, dn = now - self.t_last, it - self.it_last
        rate = dn / dt if dt > 0 and dn > 0 else None
        overall = (it - self.start) / (now - self.t0) if now > self.t0 and it > self.start else None
        rec = {"iteration": it, "iterations": self.iterations, "loss": loss,
               "terms": terms, "lr": lr, "it_per_s": rate,
               "samples_per_s": rate * self.batch_size if rate else None,
               "elapsed_s": now - self.t0,
               "eta_s": (self.iterations - it) / overall if overall else None}
        self.t_last, self.it_last = now, it
        if self._file is not None:
            self._file.write(json.dumps({k: _finite(v) for k, v in rec.items()}) + "\n")
            self._file.flush()
        if self._tb is not None:
            self._tb.add_scalar("train/loss", loss, it)
            self._tb.add_scalar("train/lr", lr, it)
            for k, v in terms.items():
                self._tb.add_scalar(f"train/{k}", v, it)
            if rate:
                self._tb.add_scalar("train/samples_per_s", rate * self.batch_size, it)
        return rec

    def close(self) -> None:
        """Close the files."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def _finite(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    return v


def _tensorboard_writer(directory: Path) -> Any:
    """A ``SummaryWriter`` when the tensorboard package is installed, else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(log_dir=str(directory))


__all__ = ["TrainLog", "log_interval"]
