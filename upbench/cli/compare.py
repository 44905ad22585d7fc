"""``upbench compare``: aggregate result directories into one table per task."""

from __future__ import annotations

import sys

import click

from upbench.cli._output import console, err_console, print_json, print_table, styled


def _fail(msg: str, as_json: bool) -> None:
    if as_json:
        print_json({"error": msg, "exit_code": 2})
    else:
        err_console.print(styled("error", "red", f" {msg}"), highlight=False)
    sys.exit(2)


@click.command("compare")
@click.argument("dirs", nargs=-1, required=True, type=click.Path())
@click.option("--reference", default=None,
              help="Upsampler the deltas are taken against (default: each task's reference, "
                   "e.g. bilinear for segmentation; '' for none).")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "csv", "latex", "json"]),
              default="table", show_default=True)
@click.option("--plot", "plot_file", default=None, type=click.Path(dir_okay=False),
              help="Save the primary metric against GFLOPs (a panel per task) to this PNG.")
@click.option("--report", "report_dir", default=None, type=click.Path(file_okay=False),
              help="Write one Markdown page per result set (each DIR) with each task's table "
                   "and plots into this directory.")
@click.option("--published", "published", default=None, metavar="ID",
              help="Set the results beside a published table (`upbench papers` lists them, e.g. "
                   "sapa-t2-segformer-b1): the paper's value, upbench's and the difference per "
                   "column.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
def compare_cmd(dirs: tuple[str, ...], reference: str | None, fmt: str, plot_file: str | None,
                report_dir: str | None, published: str | None, as_json: bool) -> None:
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
            _fail(str(e.args[0]), as_json)
    try:  # output locations first: an unwritable --plot or --report fails before any work
        if plot_file:
            prepare_file(plot_file, "--plot file")
        if report_dir:
            prepare_dir(report_dir, "--report directory")
    except OutputError as e:
        _fail(str(e), as_json)
    try:
        scan = scan_results(*dirs)
    except FileNotFoundError as e:
        _fail(str(e), as_json)
    results = scan.records
    if not results:
        _fail(f"no upbench result files in {', '.join(dirs)}"
              + "".join(f"; {w}" for w in scan.warnings()), as_json)
    if published is not None:
        _published(results, published, scan.warnings(), fmt, as_json)
        return
    rows, warnings = aggregate(results, reference)
    for w in scan.warnings() + warnings:
        err_console.print(styled("warning", "yellow", f" {w}"), highlight=False)
    if as_json:
        console.file.write(render(rows, "json"))
    elif fmt == "table":
        multi = len({r["suite"] for r in rows}) > 1
        for task, trows in by_task(rows).items():
            cols, body = display_rows(trows, multi)
            print_table(table_title(task, trows), cols, body, caption=table_notes(trows))
    else:
        console.file.write(render(rows, fmt))
    if plot_file:
        from upbench.engine.plots import plot

        plot(rows, plot_file)
        err_console.print(f"plot written to {plot_file}")
    if report_dir:
        from pathlib import Path

        from upbench.engine.report import write_report

        for d in dict.fromkeys(dirs):
            page = write_report(Path(d).name or d, d, load_results(d), report_dir, reference)
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
        _fail(str(e.args[0] if e.args else e), as_json)
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
        _fail(f"--published supports --format table, markdown, csv or json, not {fmt}", as_json)
