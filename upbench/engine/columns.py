"""Which columns of a comparison table a terminal shows.

:func:`upbench.engine.compare.display_rows` gives every column of a task's table; on a terminal
narrower than that table, :func:`fit_columns` keeps the essential ones — the upsampler, the
primary metric and its Δ, GFLOPs, params and the speed (the latency ratio against the
reference, else FPS) — and adds the others, in table order, while they fit. A Δ with its
confidence interval (``+1.33 [+0.10, +2.56]*``) is shortened to ``+1.33*`` only when even the
essential columns do not fit otherwise. No number is ever cut: a cell that still does not fit
wraps (the CLI's tables fold, never ellipsise).

``--columns`` chooses explicitly: ``auto`` (the default), ``all``, ``compact`` (the essential
ones), or a comma-separated list of column names (matched loosely: ``dmiou`` is ``ΔmIoU``,
``params`` is ``params (M)``, ``speed`` is ``× ref latency``). ``--format`` output (markdown,
CSV, LaTeX, JSON) always has every column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from upbench.engine.compare import task_metrics

ALWAYS = ("suite", "upsampler")
MODES = ("auto", "all", "compact")
ALIASES = {"speed": "xreflatency", "ratio": "xreflatency", "latency": "xreflatency",
           "xref": "xreflatency", "flops": "gflops", "dflops": "dgflops", "param": "params"}


class ColumnError(ValueError):
    """An unknown ``--columns`` name (the message lists the valid ones and the closest)."""


def column_key(header: str) -> str:
    """The loose name of a column header: ``ΔmIoU`` → ``dmiou``, ``params (M)`` → ``params``,
    ``× ref latency`` → ``xreflatency``, ``abs_rel ↓`` → ``abs_rel``."""
    h = header.replace("(M)", "").replace("Δ", "d").replace("×", "x")
    return re.sub(r"[^a-z0-9_]", "", h.lower())


def column_widths(cols: list[str], body: list[list[str]]) -> list[int]:
    """Each column's content width: its widest cell, or its header's longest word (headers
    wrap at spaces, cells never need to)."""
    return [max([max((len(w) for w in c.split()), default=0)] + [len(row[i]) for row in body])
            for i, c in enumerate(cols)]


def table_width(cols: list[str], body: list[list[str]]) -> int:
    """Width of a rich table of these cells at :func:`column_widths` (one space of padding each
    side, a rule between columns and at both edges)."""
    widths = column_widths(cols, body)
    return sum(widths) + 3 * len(widths) + 1


def short_delta(text: str) -> str:
    """``+1.33 [+0.10, +2.56]*`` → ``+1.33*``; ``+1.33 ± 0.58`` → ``+1.33``."""
    if text.startswith(("+", "-")) and " " in text:
        return text.split(" ", 1)[0] + ("*" if text.endswith("*") else "")
    return text


@dataclass
class Fitted:
    """The columns to show, their cells, and what was left out (for a note under the table)."""

    cols: list[str]
    body: list[list[str]]
    hidden: list[str]
    shortened: bool = False
    widths: list[int] | None = None

    def note(self) -> str | None:
        """``more columns: bIoU ↑, FPS, impl (--columns all, or --columns NAME,...)``."""
        parts = []
        if self.hidden:
            parts.append(f"not shown for this width: {', '.join(self.hidden)} (--columns all, "
                         "or --columns NAME,...)")
        if self.shortened:
            parts.append("Δ without its interval (--columns all shows it)")
        return "; ".join(parts) or None


def essential(cols: list[str], task: str, rows: list[dict[str, Any]]) -> list[str]:
    """The essential columns of a task's table, in table order."""
    metrics = [m for m in task_metrics(task) if m.shown]
    keep = set(ALWAYS) | {"gflops", "params"}
    if metrics:
        keep |= {column_key(metrics[0].header), f"d{column_key(metrics[0].key)}"}
    keep.add("xreflatency" if any(r.get("latency_ratio") is not None for r in rows) else "fps")
    if any(r["n_failed"] or r["n_na"] or not r["n_ok"] for r in rows):
        keep.add("status")  # a failed row is not shown as dashes without saying why
    return [c for c in cols if column_key(c) in keep]


def _pick(cols: list[str], body: list[list[str]], chosen: list[str]) -> tuple[list, list]:
    idx = [cols.index(c) for c in cols if c in chosen]
    return [cols[i] for i in idx], [[row[i] for i in idx] for row in body]


def resolve_names(spec: str, cols: list[str]) -> list[str]:
    """The columns a comma-separated ``--columns`` list names (and the always-shown ones).

    Raises:
        ColumnError: a name that is no column of this table.
    """
    from upbench.utils.suggest import unknown_name_message

    by_key = {column_key(c): c for c in cols}
    chosen = [c for c in cols if column_key(c) in ALWAYS]
    for name in (n.strip() for n in spec.split(",")):
        if not name:
            continue
        key = column_key(name)
        key = ALIASES.get(key, key)
        if key not in by_key:
            raise ColumnError(unknown_name_message("column", name, list(by_key) + list(MODES)))
        chosen.append(by_key[key])
    return chosen


def fit_columns(cols: list[str], body: list[list[str]], task: str, rows: list[dict[str, Any]],
                width: int, spec: str = "auto") -> Fitted:
    """The columns of one task's table to show at ``width`` characters (see the module doc).

    Raises:
        ColumnError: ``spec`` names an unknown column.
    """
    if spec == "all":
        return Fitted(cols, body, [])
    if spec not in MODES:
        return Fitted(*_pick(cols, body, resolve_names(spec, cols)), [])
    core = essential(cols, task, rows)
    if spec == "compact":
        return Fitted(*_pick(cols, body, core), [c for c in cols if c not in core])
    if table_width(cols, body) <= width:
        return Fitted(cols, body, [])
    shortened = False
    if table_width(*_pick(cols, body, core)) > width:  # even the essentials: Δ without its CI
        deltas = [i for i, c in enumerate(cols) if c.startswith("Δ")]
        short = [[short_delta(v) if i in deltas else v for i, v in enumerate(row)]
                 for row in body]
        shortened, body = short != body, short
    chosen = list(core)
    for c in cols:  # the others, in table order, while they fit
        if c not in chosen and table_width(*_pick(cols, body, chosen + [c])) <= width:
            chosen.append(c)
    shown, cells = _pick(cols, body, chosen)
    fits = table_width(shown, cells) <= width  # then fix the widths: only headers wrap
    return Fitted(shown, cells, [c for c in cols if c not in chosen], shortened,
                  column_widths(shown, cells) if fits else None)
