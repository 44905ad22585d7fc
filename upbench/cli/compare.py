"""``upbench compare``: aggregate result directories into one table per task."""

from __future__ import annotations

import click

from upbench.cli._output import console, err_console, fail, print_json, print_table, styled
from upbench.cli._params import Choice


def unknown_choice(rows: list[dict], reference: str | None, metric: str | None) -> str | None:
    """Why ``--reference`` / ``--metric`` name nothing in these results (the valid names and the
    closest), or None. A reference present in some suites only is a warning of ``aggregate``."""
    from upbench.utils.suggest import unknown_name_message

    labels = {r["upsampler"] for r in rows}
    if reference and reference not in labels:
        return unknown_name_message("reference upsampler", reference, labels) + (
            " — the upsamplers of these results; '' for no reference")
    metrics = {k for r in rows for k in r.get("metric_keys", [])}
    if metric is not None and metric not in metrics:
        return unknown_name_message("metric", metric, metrics)
    return None


@click.command("compare")
@click.argument("dirs", nargs=-1, required=True, type=click.Path())
@click.option("--reference", default=None,
              help="Upsampler the deltas are taken against (default: each task's reference, "
                   "e.g. bilinear for segmentation; '' for none).")
@click.option("--format", "fmt", type=Choice(["table", "markdown", "csv", "latex", "json"]),
              default="table", show_default=True)
@click.option("--metric", default=None,
              help="Metric of the plots (--plot, --report; default each task's primary).")
@click.option("--columns", "columns", default="auto", show_default=True,
              help="Table columns: auto (all that fit the terminal; the essential ones — "
                   "primary metric, Δ, GFLOPs, params, speed — first), all, compact, or names "
                   "(e.g. mIoU,dmIoU,bIoU,FPS,impl). --format output always has every column.")
@click.option("--plot", "plot_file", default=None, type=click.Path(dir_okay=False),
              help="Save the primary metric against GFLOPs and against latency (a row per "
                   "task) to this .png or .svg file.")
@click.option("--report", "report_dir", default=None, type=click.Path(file_okay=False),
              help="Write one Markdown page per result set (each DIR) with each task's table "
                   "and plots into this directory.")
@click.option("--published", "published", default=None, metavar="ID",
              help="Set the results beside a published table (`upbench papers` lists them, e.g. "
                   "sapa-t2-segformer-b1): the paper's value, upbench's and the difference per "
                   "column.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
def compare_cmd(dirs: tuple[str, ...], reference: str | None, fmt: str, metric: str | None,
                columns: str, plot_file: str | None, report_dir: str | None,
                published: str | None, as_json: bool) -> None:
    """Compare result DIRS: a table per task, mean ± std over seeds, paired deltas against the
    reference upsampler, FLOPs, params, FPS; or, with --published ID, beside a paper's table."""
    from upbench.engine.compare import (
        aggregate,
        by_task,
        display_rows,
        render,
        table_notes,
        table_title,
    )
    from upbench.engine.outdir import OutputError, prepare_dir, prepare_file
    from upbench.engine.results import load_results, scan_results

    as_json = as_json or fmt == "json"
    if published is not None:
        from upbench.papers import get_table

        try:
            get_table(published)
        except KeyError as e:
            fail(str(e.args[0]), as_json)
    try:  # output locations first: an unwritable --plot or --report fails before any work
        if plot_file:
            from upbench.engine.plots import check_format

            check_format(plot_file)
            prepare_file(plot_file, "--plot file")
        if report_dir:
            prepare_dir(report_dir, "--report directory")
    except (OutputError, ValueError) as e:
        fail(str(e), as_json)
    try:
        scan = scan_results(*dirs)
    except FileNotFoundError as e:
        fail(str(e), as_json)
    results = scan.records
    if not results:
        fail(f"no upbench result files in {', '.join(dirs)}"
              + "".join(f"; {w}" for w in scan.warnings()), as_json)
    if published is not None:
        _published(results, published, scan.warnings(), fmt, as_json)
        return
    rows, warnings = aggregate(results, reference)
    problem = unknown_choice(rows, reference, metric)
    if problem:
        fail(problem, as_json)
    for w in scan.warnings() + warnings:
        err_console.print(styled("warning", "yellow", f" {w}"), highlight=False)
    if as_json:
        console.file.write(render(rows, "json"))
    elif fmt == "table":
        multi = len({r["suite"] for r in rows}) > 1
        from upbench.engine.columns import ColumnError, fit_columns

        tables = []
        try:  # every table's columns first: an unknown --columns name prints no table
            for task, trows in by_task(rows).items():
                fitted = fit_columns(*display_rows(trows, multi), task, trows, console.width,
                                     columns.strip().lower() if columns.strip().lower() in
                                     ("auto", "all", "compact") else columns)
                tables.append((task, trows, fitted))
        except ColumnError as e:
            fail(f"--columns: {e}", as_json)
        for task, trows, fitted in tables:
            note = fitted.note()
            print_table(table_title(task, trows), fitted.cols, fitted.body,
                        caption=table_notes(trows) + ([note] if note else []),
                        widths=fitted.widths)
    else:
        console.file.write(render(rows, fmt))
    if plot_file:
        from upbench.engine.plots import plot

        plot(rows, plot_file, metric)
        err_console.print(f"plot written to {plot_file}")
    if report_dir:
        from pathlib import Path

        from upbench.engine.report import write_report

        for d in dict.fromkeys(dirs):
            page = write_report(Path(d).name or d, d, load_results(d), report_dir, reference,
                                metric)
            err_console.print(f"report written to {page}")


def _published(results: list, table_id: str, scan_warnings: list[str], fmt: str,
               as_json: bool) -> None:
    """``--published``: the side-by-side table (table / json / csv / markdown)."""
    from upbench.papers import get_table
    from upbench.papers.compare import (
        PublishedCompareError,
        comparison_notes,
        comparison_table,
        published_comparison,
    )

    try:
        cmp = published_comparison(results, get_table(table_id))
    except (KeyError, PublishedCompareError) as e:
        fail(str(e.args[0] if e.args else e), as_json)
    for w in scan_warnings + cmp["warnings"]:
        err_console.print(styled("warning", "yellow", f" {w}"), highlight=False)
    if as_json:
        print_json(cmp)
        return
    cols, body = comparison_table(cmp, compact=fmt != "csv")
    notes = comparison_notes(cmp)
    if fmt == "table":
        print_table(f"upbench vs {cmp['table']['id']}", cols, body, caption=notes)
    elif fmt == "csv":
        import csv

        w = csv.writer(console.file)
        w.writerow(cols)
        w.writerows(body)
    elif fmt == "markdown":
        lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
        lines += ["| " + " | ".join(v.replace("|", "\\|") for v in row) + " |" for row in body]
        console.file.write("\n".join(lines + [""] + [f"- {n}" for n in notes]) + "\n")
    else:
        fail(f"--published supports --format table, markdown, csv or json, not {fmt}", as_json)
