"""Output locations checked before any work, and the run lock of a results directory.

* :func:`prepare_dir` / :func:`prepare_file`: create the directory (or the file's parent) and
  probe-write it, so an unwritable ``--out``, ``--plot``, ``--report`` or baseline is found before
  the first cell trains, with the path and the reason named (:class:`OutputError`).
* :class:`RunLock`: an ``fcntl`` lock on ``<results dir>/.upbench.lock`` holding the pid of the
  run that owns the directory; a second ``upbench run`` on it fails naming that pid, or waits.
  The lock is released by the kernel when its process dies, so a killed run never leaves a stale
  lock. On acquiring it, temp files a killed run left behind are removed: only those named
  ``.upbench-tmp.<name>.<random>.upbench-tmp`` (:func:`upbench.engine.results.write_atomic`'s
  and the write probe's), never another file such as a user's own ``*.tmp``.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

from upbench.engine.results import TMP_PREFIX, TMP_SUFFIX

LOCK_NAME = ".upbench.lock"
STALE_TMP = re.compile("^" + re.escape(TMP_PREFIX) + r".+\.[A-Za-z0-9_]+"
                       + re.escape(TMP_SUFFIX) + "$")


class OutputError(OSError):
    """An output location that cannot be written (exit code 2), with the path and the fix."""


class LockedError(OutputError):
    """The results directory is in use by another run."""


def _reason(e: OSError) -> str:
    return {errno.EACCES: "permission denied", errno.EPERM: "permission denied",
            errno.EROFS: "read-only file system", errno.ENOTDIR: "a parent is a file",
            errno.EEXIST: "it exists and is a file", errno.ENOSPC: "no space left on the device",
            errno.EDQUOT: "disk quota exceeded", errno.EISDIR: "a directory is in the way",
            errno.ELOOP: "a symlink loop is in the way"}.get(e.errno or 0, e.strerror or str(e))


def describe_os_error(e: OSError) -> str:
    """A filesystem error in words (``no space left on the device``, ``a directory is in the
    way``, ...)."""
    return _reason(e)


def _first_file_parent(path: Path) -> Path | None:
    for p in [path, *path.parents]:
        if p.exists() and not p.is_dir():
            return p
    return None


def prepare_dir(path: str | Path, what: str = "output directory") -> Path:
    """Create directory ``path`` (and its parents) and probe that files can be written in it.

    Raises:
        OutputError: it cannot be created or written, with the path, the reason and the fix.
    """
    path = Path(path)
    blocker = _first_file_parent(path)
    if blocker is not None:
        where = "is a file" if blocker == path else f"is under {blocker}, which is a file"
        raise OutputError(f"{what} {path} {where}; choose a directory path")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create the {what} {path}: {_reason(e)}; choose a writable "
                          "location") from None
    probe = path / f"{TMP_PREFIX}probe.{os.getpid()}{TMP_SUFFIX}"
    try:
        with open(probe, "w") as f:
            f.write("probe\n")
    except OSError as e:
        raise OutputError(f"cannot write in the {what} {path}: {_reason(e)}; choose a writable "
                          "location") from None
    finally:
        try:
            probe.unlink()
        except OSError:
            pass
    return path


def prepare_file(path: str | Path, what: str = "output file") -> Path:
    """Check that file ``path`` can be (re)written: its parent created and probed, the path not
    a directory, an existing file writable.

    Raises:
        OutputError: with the path, the reason and the fix.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{what} {path} is a directory; give a file path")
    try:
        prepare_dir(path.parent, "directory")
    except OutputError as e:
        raise OutputError(f"cannot write the {what} {path}: {e}") from None
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputError(f"cannot write the {what} {path}: permission denied; make it "
                          "writable or choose another path")
    return path


def remove_stale_temp_files(path: str | Path) -> list[Path]:
    """Delete the temp files of interrupted atomic writes in directory ``path`` (call only while
    holding its :class:`RunLock`); returns them."""
    removed = []
    for f in Path(path).iterdir():
        if STALE_TMP.match(f.name) and f.is_file() and not f.is_symlink():
            try:
                f.unlink()
                removed.append(f)
            except OSError:
                pass
    return removed


class RunLock:
    """Exclusive use of a results directory by one ``upbench run`` (a context manager).

    Args:
        path: the results directory (created and probed by :func:`prepare_dir`).
        wait: block until the other run ends instead of raising :class:`LockedError`.
        on_wait: called with the owner's description before blocking.
    """

    def __init__(self, path: str | Path, wait: bool = False,
                 on_wait: Callable[[str], None] | None = None) -> None:
        self.dir = prepare_dir(path, "output directory")
        self.file = self.dir / LOCK_NAME
        self.removed: list[Path] = []
        self._fd: int | None = None
        self._acquire(wait, on_wait)

    def _owner(self) -> str:
        try:
            text = self.file.read_text().strip()
        except OSError:
            text = ""
        return text or "pid unknown"

    def _acquire(self, wait: bool, on_wait: Callable[[str], None] | None) -> None:
        try:
            fd = os.open(self.file, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as e:
            raise OutputError(f"cannot create the run lock {self.file}: {_reason(e)}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = self._owner()
            if not wait:
                os.close(fd)
                raise LockedError(
                    f"results directory {self.dir} is in use by another upbench run ({owner}); "
                    "wait for it to finish, rerun with --wait to queue behind it, or choose "
                    "another --out") from None
            if on_wait is not None:
                on_wait(owner)
            fcntl.flock(fd, fcntl.LOCK_EX)
        self._fd = fd
        started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, started {started}, "
                      f"{' '.join(sys.argv[:1] + sys.argv[1:])[:300]}\n".encode(), 0)
        self.removed = remove_stale_temp_files(self.dir)

    def release(self) -> None:
        """Give the directory up (idempotent)."""
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)
            except OSError:
                pass
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:  # noqa: PYI034 - no typing_extensions dependency
        return self

    def __exit__(self, *exc) -> None:
        self.release()
