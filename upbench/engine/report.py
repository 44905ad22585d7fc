"""``upbench compare --report DIR``: one Markdown page per result set, opening with the
environment the results come from, then each task's table, its notes and its plots (the primary
metric against GFLOPs and against latency; the latency ratio against the reference; the
training loss curves), the noise floor among the notes, the images
beside the page as PNG (embedded) and SVG (linked)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from upbench.engine.compare import aggregate, by_task, display_rows, table_notes, table_title
from upbench.engine.plots import save_loss_plot, save_task_plots


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "results"


def _markdown_table(cols: list[str], body: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    return lines + ["| " + " | ".join(v.replace("|", "\\|") for v in row) + " |" for row in body]


def suite_hash(record: dict[str, Any]) -> str | None:
    """The hash of a result's suite settings: its cell config without the upsampler and the seed
    (the same for every cell of one suite run; it changes with any setting of the suite)."""
    from upbench.engine.suite import config_hash

    config = record.get("config")
    if not isinstance(config, dict):
        return None
    return config_hash({k: v for k, v in config.items() if k not in ("upsampler", "seed")})


def _values(records: list[dict[str, Any]], get) -> str:
    """The distinct values of ``get(record)`` over the records, joined (``—`` for none)."""
    vals = []
    for r in records:
        v = get(r)
        if v not in (None, "") and str(v) not in vals:
            vals.append(str(v))
    return ", ".join(vals) or "—"


def environment_rows(records: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """What the results ran on, from the environment each result recorded: upbench and torch
    versions, device, CPU / GPU model, threads, commit, date range and suite hash (several
    values, comma-separated, when the results differ)."""
    def env(key: str):
        return lambda r: (r.get("env") or {}).get(key)

    def commit(r: dict[str, Any]) -> str | None:
        e = r.get("env") or {}
        c = e.get("git_commit")
        return None if not c else c[:12] + (" (uncommitted changes)" if e.get("git_dirty") else "")

    dates = sorted(str(r.get("finished_at"))[:16].replace("T", " ") for r in records
                   if r.get("finished_at"))
    return [
        ("upbench", _values(records, env("upbench"))),
        ("torch", _values(records, lambda r: (r.get("env") or {}).get("torch") and (
            str((r.get("env") or {}).get("torch"))
            + (f" (CUDA {(r.get('env') or {}).get('cuda')} build)"
               if (r.get("env") or {}).get("cuda") else "")))),
        ("device", _values(records, lambda r: (r.get("config") or {}).get("device", "cpu"))),
        ("CPU", _values(records, lambda r: f"{(r.get('env') or {}).get('cpu')} "
                        f"({(r.get('env') or {}).get('cpu_count')} cores)"
                        if (r.get("env") or {}).get("cpu") else None)),
        ("GPU", _values(records, env("gpu"))),
        ("threads", _values(records, env("threads"))),
        ("host", _values(records, lambda r: r.get("host"))),
        ("commit", _values(records, commit)),
        ("date", f"{dates[0]} – {dates[-1]} UTC" if dates and dates[0] != dates[-1]
         else (f"{dates[0]} UTC" if dates else "—")),
        ("suite hash", _values(records, suite_hash)),
    ]


def write_report(name: str, source: str, results: list[dict[str, Any]], out_dir: str | Path,
                 reference: str | None = None, metric: str | None = None) -> Path:
    """Write ``<out_dir>/<name>.md`` and its images for one result set (plots of ``metric``,
    default each task's primary); returns the page."""
    from upbench import __version__

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    slug = _slug(name)
    rows, warnings = aggregate(results, reference)
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"# {name}", "",
             (f"{len(results)} result file(s) from `{source}`; page written by upbench "
             f"{__version__}, {now}."), "", "## Environment", "",
             "| | |", "|---|---|"]
    lines += [f"| {k} | {v.replace('|', '/')} |" for k, v in environment_rows(results)] + [""]
    lines += [f"> warning: {w}" for w in warnings] + ([""] if warnings else [])
    multi = len({r["suite"] for r in rows}) > 1
    for task, trows in by_task(rows).items():
        lines += [f"## {table_title(task, trows)}", ""]
        lines += _markdown_table(*display_rows(trows, multi)) + [""]
        lines += [f"- {n}" for n in table_notes(trows)] + [""]
        images = save_task_plots(task, trows, out / f"{slug}-{_slug(task)}", metric)
        captions = {"accuracy": f"{task}: {metric or 'primary metric'} against GFLOPs and "
                    "against latency",
                    "latency": f"{task}: latency ratio against the reference (1.00×)"}
        for kind, paths in images.items():
            png, svg = (p.name for p in paths)
            lines += [f"![{captions[kind]}]({png})", "", f"[SVG]({svg})", ""]
        if any((r.get("train") or {}).get("loss_curve") for r in results
               if r.get("task") == task):
            ref = next((r.get("reference") for r in trows if r.get("reference")), None)
            loss = save_loss_plot(task, results, ref, out / f"{slug}-{_slug(task)}-loss.png")
            lines += [f"![{task}: training loss curves]({loss.name})", ""]
    page = out / f"{slug}.md"
    page.write_text("\n".join(lines))
    return page
