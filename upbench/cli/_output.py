"""Shared output helpers: rich tables on a terminal, JSON with ``--json``.

Both consoles have markup off: user text (keys, paths, labels, ``--only`` values) may hold square
brackets such as ``[/x]`` and is printed literally. Styled messages are built with
:func:`styled` (a :class:`rich.text.Text`, never parsed as markup).
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from rich.console import Console
from rich.table import Table
from rich.text import Text

from upbench.utils.jsonsafe import json_safe

# a terminal's width, or $COLUMNS when set; 160 when the output is a pipe or file
PIPE_WIDTH = 160


def _width(stream) -> int | None:
    return None if stream.isatty() or os.environ.get("COLUMNS", "").isdigit() else PIPE_WIDTH


console = Console(width=_width(sys.stdout), markup=False)
err_console = Console(stderr=True, width=_width(sys.stderr), markup=False, soft_wrap=True)


def styled(label: str, style: str, rest: str = "") -> Text:
    """``label`` in ``style`` followed by ``rest``, both literal (no markup parsing)."""
    return Text.assemble((label, style), rest)


def print_json(data: Any) -> None:
    """Write ``data`` as JSON to stdout (NaN/inf become null)."""
    sys.stdout.write(json.dumps(json_safe(data), indent=2, sort_keys=False, allow_nan=False) + "\n")


def fail(msg: str, as_json: bool) -> NoReturn:
    """Report a usage error and exit 2: ``{"error", "exit_code"}`` on stdout with ``--json``,
    else ``error <msg>`` on stderr."""
    if as_json:
        print_json({"error": msg, "exit_code": 2})
    else:
        err_console.print(styled("error", "red", f" {msg}"), highlight=False)
    sys.exit(2)


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
                caption: Sequence[str] = (), widths: Sequence[int] | None = None) -> None:
    """Print a rich table; floats are shown with 4 significant digits (a :class:`Text` cell, e.g.
    from :func:`styled`, as it is); ``caption`` lines are printed under it. A cell too wide for
    the terminal wraps (folds), never ends in an ellipsis: no digit is cut. ``widths`` fixes
    each column's content width (headers then wrap within it)."""
    table = Table(title=title, show_lines=False,
                  caption="\n".join(caption) if caption else None, caption_justify="left")
    for i, col in enumerate(columns):
        table.add_column(col, overflow="fold", width=widths[i] if widths else None)
    for row in rows:
        table.add_row(*[v if isinstance(v, Text) else fmt(v) for v in row])
    console.print(table)


def fmt(v: Any) -> str:
    """Human formatting of one table cell."""
    if v is None:
        return "—"
    if isinstance(v, float):
        if math.isnan(v):
            return "—"
        return f"{v:.4g}"
    return str(v)
