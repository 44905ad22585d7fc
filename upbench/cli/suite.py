"""``upbench suite``: check a suite file and list its cells without running anything."""

from __future__ import annotations

import sys

import click

from upbench.cli._output import console, err_console, print_json, print_table, styled


def parse_seeds(text: str | None) -> list[int] | None:
    """``"0,1,2"`` → ``[0, 1, 2]``; ranges are inclusive: ``"0-4"`` → ``[0, 1, 2, 3, 4]``."""
    if text is None:
        return None
    out: list[int] = []
    try:
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            lo, sep, hi = part.partition("-") if not part.startswith("-") else (part, "", "")
            if sep:
                if int(hi) < int(lo):
                    raise ValueError(part)
                out += range(int(lo), int(hi) + 1)
            else:
                out.append(int(part))
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers or ranges (0-4), got "
                                 f"{text!r}") from None
    return list(dict.fromkeys(out))


@click.group("suite")
def suite_group() -> None:
    """Suites: validate a YAML suite and list its cells."""


@suite_group.command("validate")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Dotted override.")
@click.option("--seeds", default=None, help="Comma-separated seeds replacing the suite's.")
@click.option("--deep", is_flag=True, help="Decode every dataset file (default: a spread sample "
              "of 8 per split).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def validate_cmd(file: str, sets: tuple[str, ...], seeds: str | None, deep: bool,
                 as_json: bool) -> None:
    """Check FILE as `upbench run` does before any work: keys, types and bounds, upsampler names
    and hyper-parameters (every entry built and run on a probe input), the dataset (files,
    pairs, sizes, a decoded sample; every file with --deep) and a memory estimate; list its
    cells. Exit code 2 when something is unusable."""
    from upbench.engine import ConfigError, expand, load_suite
    from upbench.engine.preflight import preflight

    try:
        suite = load_suite(file, sets, parse_seeds(seeds))
        cells = expand(suite)
        report = preflight(suite, cells, deep=deep)
    except ConfigError as e:
        if as_json:
            print_json({"valid": False, "file": file, "key": e.key, "error": str(e),
                        "suggestion": e.suggestion})
        else:
            err_console.print(styled("invalid suite", "red", f" {e}"))
        sys.exit(2)
    if as_json:
        print_json({"valid": True, "file": file, "name": suite.name,
                    "cells": [{"upsampler": c.label, "seed": c.seed, "hash": c.hash}
                              for c in cells], "preflight": report.as_dict()})
        return
    print_table(f"suite {suite.name!r}: {len(cells)} cells — valid", ["upsampler", "seed", "hash"],
                [(c.label, c.seed, c.hash) for c in cells])
    mem = report.memory
    console.print(f"memory estimate {mem['estimate_bytes'] / 2**20:.0f} MiB of "
                  f"{mem['limit_bytes'] / 2**30:.1f} GiB; {len(report.probed)} upsampler(s) "
                  f"probed at {report.probe_size[0]}×{report.probe_size[1]}"
                  + ("; dataset: every file decoded" if deep else ""), highlight=False)
    for k, v in report.unhostable.items():
        console.print(f"n/a {k}: {v}", highlight=False)
