"""Whole-or-nothing file writes: the content goes to a temp file beside the target, is synced to
disk and renamed onto the target, so a reader sees the old file or the new one, never a part."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def replace_atomically(path: Path, write: Callable[[BinaryIO], object], prefix: str,
                       suffix: str, mode: int | None = None) -> Path:
    """Write ``path`` through ``write`` (given the open binary temp file) and a rename.

    Args:
        path: the target; its directory must exist.
        write: fills the file (e.g. ``torch.save(state, f)``).
        prefix, suffix: the temp file's name is ``prefix<random>suffix`` in ``path``'s directory
            (a name its owner's stale-file cleanup can recognise).
        mode: the file's permission bits (None: ``mkstemp``'s 0600).

    Returns:
        ``path``.

    Raises:
        Whatever ``write`` or the file system raises; the temp file is removed first and
        ``path`` is left as it was.
    """
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=path.parent)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


__all__ = ["replace_atomically"]
