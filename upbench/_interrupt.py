"""Ctrl-C while the ``upbench`` command starts: exit 130 with one line, not a traceback.

A KeyboardInterrupt that lands while the command's modules import (torch takes seconds) would
otherwise escape before the CLI's own handler (:class:`upbench.cli.main.UpbenchGroup`) exists.
:func:`quiet_interrupt` guards those imports; it acts only in the ``upbench`` command's own
process, so a program that imports upbench keeps its KeyboardInterrupt.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
from collections.abc import Iterator

EXIT_INTERRUPTED = 130


def is_cli_process() -> bool:
    """True when this process is the ``upbench`` command (the console script or
    ``python -m upbench.cli.main``)."""
    argv = list(getattr(sys, "orig_argv", sys.argv))
    if argv and os.path.basename(argv[0]) == "upbench":
        return True
    if sys.argv and os.path.basename(sys.argv[0]) == "upbench":
        return True
    return any(a == "-m" and b.startswith("upbench.cli") for a, b in itertools.pairwise(argv))


@contextlib.contextmanager
def quiet_interrupt() -> Iterator[None]:
    """Turn a KeyboardInterrupt inside the block into ``upbench: interrupted`` and exit 130 (in
    the command's process only)."""
    try:
        yield
    except KeyboardInterrupt:
        if not is_cli_process():
            raise
        sys.stderr.write("upbench: interrupted\n")
        sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)  # nothing has run yet: no cleanup to wait for
