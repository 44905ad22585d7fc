"""``upbench compare``: aggregate result directories into one table."""

from __future__ import annotations

import sys

import click

from upbench.cli._output import console, err_console, print_table


@click.command("compare")
@click.argument("dirs", nargs=-1, required=True, type=click.Path())
@click.option("--reference", default="bilinear", show_default=True,
              help="Upsampler the deltas are taken against ('' for none).")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "csv", "latex", "json"]),
              default="table", show_default=True)
@click.option("--plot", "plot_file", default=None, type=click.Path(dir_okay=False),
              help="Save accuracy against GFLOPs to this PNG.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
def compare_cmd(dirs: tuple[str, ...], reference: str, fmt: str, plot_file: str | None,
                as_json: bool) -> None:
    """Compare result DIRS: mean ± std over seeds, deltas against --reference, FLOPs, FPS."""
    from upbench.engine.compare import aggregate, display_rows, plot, render
    from upbench.engine.results import load_results

    try:
        results = load_results(*dirs)
    except FileNotFoundError as e:
        err_console.print(f"[red]error[/red] {e}", highlight=False)
        sys.exit(2)
    if not results:
        err_console.print(f"[red]error[/red] no upbench result files in {', '.join(dirs)}")
        sys.exit(2)
    rows, warnings = aggregate(results, reference or None)
    for w in warnings:
        err_console.print(f"[yellow]warning[/yellow] {w}", highlight=False)
    fmt = "json" if as_json else fmt
    if fmt == "table":
        cols, body = display_rows(rows, len({r["suite"] for r in rows}) > 1)
        print_table(f"{len(results)} result(s); deltas vs {reference or '—'}", cols, body)
    else:
        console.file.write(render(rows, fmt))
    if plot_file:
        plot(rows, plot_file)
        err_console.print(f"plot written to {plot_file}")
