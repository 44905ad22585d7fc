"""``upbench compare --report DIR``: one Markdown page per result set, with each task's table,
its notes (the noise floor among them) and three plots (the primary metric against GFLOPs with
seed error bars; the training loss curves; the latency ratio against the reference), the PNGs
beside the page."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from upbench.engine.compare import aggregate, by_task, display_rows, table_notes, table_title
from upbench.engine.plots import accuracy_panel, latency_panel, loss_panel, save_panel


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "results"


def _markdown_table(cols: list[str], body: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    return lines + ["| " + " | ".join(v.replace("|", "\\|") for v in row) + " |" for row in body]


def write_report(name: str, source: str, results: list[dict[str, Any]], out_dir: str | Path,
                 reference: str | None = None) -> Path:
    """Write ``<out_dir>/<name>.md`` and its PNGs for one result set; returns the page."""
    from upbench import __version__

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    slug = _slug(name)
    rows, warnings = aggregate(results, reference)
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"# {name}", "",
             f"{len(results)} result file(s) from `{source}`; upbench {__version__}, {now}.", ""]
    lines += [f"> warning: {w}" for w in warnings] + ([""] if warnings else [])
    multi = len({r["suite"] for r in rows}) > 1
    for task, trows in by_task(rows).items():
        lines += [f"## {table_title(task, trows)}", ""]
        lines += _markdown_table(*display_rows(trows, multi)) + [""]
        lines += [f"- {n}" for n in table_notes(trows)] + [""]
        acc, lat = f"{slug}-{_slug(task)}-accuracy.png", f"{slug}-{_slug(task)}-latency.png"
        save_panel(str(out / acc), accuracy_panel, task, trows)
        lines += [f"![{task}: primary metric against GFLOPs]({acc})", ""]
        if any((r.get("train") or {}).get("loss_curve") for r in results
               if r.get("task") == task):
            loss = f"{slug}-{_slug(task)}-loss.png"
            ref = next((r.get("reference") for r in trows if r.get("reference")), None)
            save_panel(str(out / loss), loss_panel, task, results, ref)
            lines += [f"![{task}: training loss curves]({loss})", ""]
        if any(r.get("latency_ratio") is not None for r in trows):
            save_panel(str(out / lat), latency_panel, task, trows,
                       size=(7, 1.2 + 0.35 * len(trows)))
            lines += [f"![{task}: latency ratio against the reference]({lat})", ""]
    page = out / f"{slug}.md"
    page.write_text("\n".join(lines))
    return page
