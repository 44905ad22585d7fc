"""``upbench suite``: check a suite file and list its cells without running anything."""

from __future__ import annotations

import sys

import click

from upbench.cli._output import err_console, print_json, print_table


def parse_seeds(text: str | None) -> list[int] | None:
    """``"0,1,2"`` → ``[0, 1, 2]``."""
    if text is None:
        return None
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {text!r}") from None


@click.group("suite")
def suite_group() -> None:
    """Suites: validate a YAML suite and list its cells."""


@suite_group.command("validate")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Dotted override.")
@click.option("--seeds", default=None, help="Comma-separated seeds replacing the suite's.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def validate_cmd(file: str, sets: tuple[str, ...], seeds: str | None, as_json: bool) -> None:
    """Check FILE (keys, types, upsampler names, dataset paths) and list its cells."""
    from upbench.engine import ConfigError, expand, load_suite

    try:
        suite = load_suite(file, sets, parse_seeds(seeds))
        cells = expand(suite)
    except ConfigError as e:
        if as_json:
            print_json({"valid": False, "file": file, "key": e.key, "error": str(e),
                        "suggestion": e.suggestion})
        else:
            err_console.print(f"[red]invalid suite[/red] {e}", markup=True, highlight=False)
        sys.exit(2)
    if as_json:
        print_json({"valid": True, "file": file, "name": suite.name,
                    "cells": [{"upsampler": c.label, "seed": c.seed, "hash": c.hash}
                              for c in cells]})
        return
    print_table(f"suite {suite.name!r}: {len(cells)} cells — valid", ["upsampler", "seed", "hash"],
                [(c.label, c.seed, c.hash) for c in cells])
