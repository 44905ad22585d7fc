"""``upbench suite``: check a suite file and list its cells without running anything."""

from __future__ import annotations

import sys
from typing import Any

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
    return out  # a seed named twice is the suite's error (seeds are unique), not dropped


@click.group("suite")
def suite_group() -> None:
    """Suites: validate a YAML suite and list its cells."""


@suite_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_cmd(as_json: bool) -> None:
    """The suites that ship with upbench (run one by name: `upbench run NAME`): name, task,
    baseline, cells, expected wall time on a 2-core CPU, stored CI baseline, description.
    The paper recipes (`paper/...`) are listed too; where their dataset is not at the suite's
    `dataset.root` they are marked `(needs data)`."""
    from upbench.catalog import baseline_files, suite_files, suites_dir
    from upbench.engine import ConfigError, expand, load_suite

    baselines = baseline_files()
    rows = []
    for name, path in suite_files().items():
        row: dict[str, Any] = {"name": name, "file": str(path), "data": None}
        try:
            try:
                suite = load_suite(path)
            except ConfigError as e:
                if e.key != "dataset.root":
                    raise
                # a recipe for data that is not on this machine (the paper suites): listed
                # with its cells, which do not depend on where the data is
                row["data"] = f"not here ({e.problem.split(';')[0]})"
                suite = load_suite(path, ["dataset.kind=synthetic"])
            row |= {"task": suite.task, "baseline": suite.baseline, "cells": len(expand(suite)),
                    "seeds": len(suite.seeds), "expected_minutes": suite.expected_minutes,
                    "description": suite.description, "error": None}
        except ConfigError as e:  # a broken stored suite is listed, not hidden
            row |= {"task": None, "baseline": None, "cells": None, "seeds": None,
                    "expected_minutes": None, "description": "", "error": str(e)}
        row["ci_baseline"] = str(baselines[name]) if name in baselines else None
        rows.append(row)
    if as_json:
        print_json({"directory": str(suites_dir()), "suites": rows})
        return
    if not rows:
        err_console.print(styled("no stored suites found", "red", " (this installation lacks "
                                 "upbench's suites; reinstall upbench)"))
        sys.exit(2)
    from upbench.engine.columns import table_width

    cols = ["name", "task", "baseline", "cells", "expected", "CI baseline", "description"]
    body = [[r["name"], r["task"] or "—", r["baseline"] or "—", str(r["cells"]),
             expected_text(r["expected_minutes"]), "yes" if r["ci_baseline"] else "—",
             description_text(r)] for r in rows]
    notes = [EXPECTED_NOTE]
    if any(r["data"] for r in rows):
        notes.append(DATA_NOTE)
    if table_width(cols, body) > console.width:  # narrow: the descriptions keep their room
        keep = [i for i, c in enumerate(cols) if c not in ("baseline", "CI baseline")]
        cols, body = [cols[i] for i in keep], [[row[i] for i in keep] for row in body]
        notes.append("baseline and CI baseline columns: a wider terminal, or --json")
    print_table(f"stored suites ({suites_dir()}); run one with `upbench run NAME`", cols, body,
                caption=notes)


EXPECTED_NOTE = ("expected: the whole suite's wall time on a 2-core CPU (one thread per cell); "
                 "--only / --seeds run parts")


DATA_NOTE = ("needs data: a recipe for a dataset that is not at its dataset.root here; run it "
             "with `--set dataset.root=PATH`")


def description_text(row: dict[str, Any]) -> str:
    """The description column of ``suite list``: the description, ``invalid: <error>``, or the
    description marked ``(needs data)``."""
    if row["error"]:
        return f"invalid: {row['error']}"
    return f"{row['description']} (needs data)" if row["data"] else row["description"]


def expected_text(minutes: float | None) -> str:
    """``~2.5 min``, ``~2 h``, ``20 s`` or ``—`` (unknown)."""
    if minutes is None:
        return "—"
    if minutes < 1:
        return f"~{minutes * 60:.0f} s"
    if minutes < 90:
        return f"~{minutes:g} min"
    return f"~{minutes / 60:.1f} h".replace(".0 h", " h")


@suite_group.command("validate")
@click.argument("file", metavar="SUITE", type=click.Path())
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Dotted override.")
@click.option("--seeds", default=None, help="Comma-separated seeds replacing the suite's.")
@click.option("--deep", is_flag=True, help="Decode every dataset file (default: a spread sample "
              "of 8 per split).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def validate_cmd(file: str, sets: tuple[str, ...], seeds: str | None, deep: bool,
                 as_json: bool) -> None:
    """Check SUITE (a file, or a stored suite's name) as `upbench run` does before any work:
    keys, types and bounds, upsampler names
    and hyper-parameters (every entry built and run on a probe input), the dataset (files,
    pairs, sizes, a decoded sample; every file with --deep) and a memory estimate; list its
    cells. Exit code 2 when something is unusable."""
    from upbench.catalog import resolve_suite
    from upbench.engine import ConfigError, expand, load_suite
    from upbench.engine.preflight import preflight

    try:
        suite = load_suite(resolve_suite(file), sets, parse_seeds(seeds))
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
