"""Checkpoints of a training run inside a cell (``train.checkpoint_every``, ``keep_checkpoints``).

A cell's checkpoints live beside its result, in ``<out>/<label>__seed<s>.ckpt/`` as
``iter_<iteration>.pt`` (written to a temp file in that directory and renamed into place, so a
kill never leaves a truncated checkpoint). Each holds the model, optimiser, scheduler and grad
scaler states, the RNG states (torch, CUDA, numpy, python), the iteration (the data order is
replayed from the seed up to it) and the training record so far, plus the cell's config hash and
config: a checkpoint written under another config is refused with a :class:`CheckpointMismatch`
naming the keys that differ, before training starts. Only plain tensors and Python values are
stored, so checkpoints load with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from upbench.engine.outdir import remove_stale_temp_files
from upbench.engine.results import TMP_PREFIX, TMP_SUFFIX
from upbench.utils.atomic import replace_atomically

FORMAT = "upbench.checkpoint/1"
_NAME = re.compile(r"iter_(\d{8,})\.pt$")


class CheckpointMismatch(ValueError):
    """A cell's checkpoint directory holds a checkpoint written under another config."""


def checkpoint_dir(out_dir: str | Path, cell: Any) -> Path:
    """The checkpoint directory of ``cell`` (a :class:`~upbench.engine.suite.Cell`) in
    ``out_dir``: ``<label>__seed<s>.ckpt`` (no hash: a changed config finds, and refuses, the
    old checkpoints instead of silently starting over)."""
    return Path(out_dir) / f"{cell.filename.rsplit('__', 1)[0]}.ckpt"


def rng_state() -> dict[str, Any]:
    """The global RNG states (torch, CUDA when initialised, numpy, python) as tensors and ints."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state(legacy=True)
    py = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
                  "pos": int(pos),
                  "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "python": {"version": py[0], "state": list(py[1]), "gauss": py[2]},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            out += _diff(a.get(k), b.get(k), f"{prefix}.{k}" if prefix else str(k))
        return out
    return [] if a == b else [prefix or "<config>"]


class CheckpointStore:
    """The checkpoints of one cell.

    Args:
        directory: the cell's checkpoint directory (:func:`checkpoint_dir`).
        cell_hash: the cell's config hash, stored in and checked against every checkpoint.
        config: the cell's config (to name the keys that differ on a mismatch).
        keep: how many of the newest checkpoints to keep (older ones are deleted after a save).
    """

    def __init__(self, directory: str | Path, cell_hash: str, config: dict[str, Any],
                 keep: int = 1) -> None:
        self.directory = Path(directory)
        self.hash, self.config, self.keep = cell_hash, config, max(1, keep)

    def paths(self) -> list[Path]:
        """The checkpoint files, oldest first."""
        if not self.directory.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.directory.iterdir()
                 if (m := _NAME.match(p.name)) and p.is_file()]
        return [p for _, p in sorted(found)]

    def latest(self) -> Path | None:
        """The newest checkpoint file, or None."""
        paths = self.paths()
        return paths[-1] if paths else None

    def load(self, path: str | Path | None = None) -> dict[str, Any] | None:
        """The newest (or the given) checkpoint, checked against this cell; None when there is
        none.

        Raises:
            CheckpointMismatch: it was written under another config (or is not a checkpoint).
        """
        path = Path(path) if path is not None else self.latest()
        if path is None:
            return None
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            raise CheckpointMismatch(f"{path}: not a readable checkpoint ({type(e).__name__}: "
                                     f"{e}); delete it to start the cell over") from e
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise CheckpointMismatch(f"{path}: not an upbench checkpoint ({FORMAT}); delete it "
                                     "to start the cell over")
        if state.get("hash") != self.hash:
            keys = _diff(state.get("config") or {}, self.config)
            raise CheckpointMismatch(
                f"{path} was written by another config of this cell (hash {state.get('hash')}, "
                f"this cell: {self.hash}; differing keys: {', '.join(keys) or 'unknown'}); "
                f"delete {self.directory} to start over, or run into another --out directory")
        return state

    def check(self) -> int | None:
        """Validate the newest checkpoint without keeping it; its iteration, or None."""
        state = self.load()
        return None if state is None else int(state["iteration"])

    def save(self, iteration: int, state: dict[str, Any]) -> Path:
        """Write ``state`` as the checkpoint of ``iteration`` (atomically) and delete all but the
        newest ``keep`` checkpoints."""
        self.directory.mkdir(parents=True, exist_ok=True)
        # a save killed midway left its temp file (as large as a checkpoint): only this cell's
        # trainer writes here, so any such file is stale
        remove_stale_temp_files(self.directory)
        path = self.directory / f"iter_{iteration:08d}.pt"
        full = {"format": FORMAT, "hash": self.hash, "config": self.config,
                "iteration": iteration} | state
        replace_atomically(path, lambda f: torch.save(full, f), f"{TMP_PREFIX}{path.name}.",
                           TMP_SUFFIX)
        for old in self.paths()[:-self.keep]:
            old.unlink(missing_ok=True)
        return path


__all__ = ["FORMAT", "CheckpointMismatch", "CheckpointStore", "checkpoint_dir", "rng_state",
           "set_rng_state"]
