"""``upbench noise``: measure a suite's seed-to-seed spread once and store it with the package.

    upbench noise suites/ci.yaml --seeds 0-4 --only bilinear --only carafe --only dysample

runs the suite's cells over the seeds (as ``upbench run`` does: resumable, finished cells are
kept), pools the spread of every delta metric over the upsamplers and writes
``upbench/noise_floors/<suite>.json``, which ``compare`` and the reports use for the suite's
single-seed tables.
"""

from __future__ import annotations

import shlex
import sys

import click

from upbench.cli._output import console, err_console, fail, print_json, print_table


@click.command("noise")
@click.argument("suite_file", metavar="SUITE", type=click.Path(dir_okay=False))
@click.option("--seeds", default="0-4", show_default=True,
              help="Seeds to measure over (≥ 5): comma-separated and/or ranges, e.g. 0-4.")
@click.option("--only", multiple=True, metavar="NAME",
              help="Measure over this upsampler (repeatable; default: the suite's).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Dotted override of a suite key (the floor then belongs to that setting).")
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Results directory of the runs (default: results/<suite name>-noise).")
@click.option("--write", "write_path", default=None, type=click.Path(dir_okay=False),
              help="Where to store the floor (default: upbench/noise_floors/<suite>.json).")
@click.option("--no-run", is_flag=True,
              help="Do not train: measure from the results already in --out.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def noise_cmd(ctx: click.Context, suite_file: str, seeds: str, only: tuple[str, ...],
              sets: tuple[str, ...], out_dir: str | None, write_path: str | None, no_run: bool,
              as_json: bool) -> None:
    """Measure SUITE's noise floor over several seeds and store it with the package.

    Exit code: 0 stored, 1 some cell failed (nothing stored), 2 invalid input or too few
    seeds.
    """
    from upbench.cli.run import run_cmd
    from upbench.cli.suite import parse_seeds
    from upbench.engine import ConfigError, load_suite
    from upbench.engine.compare import task_metrics
    from upbench.engine.noise import MIN_STORED_SEEDS, measure, stored_path, write_stored
    from upbench.engine.results import load_results

    seed_list = parse_seeds(seeds) or []
    if len(set(seed_list)) < MIN_STORED_SEEDS:
        fail(f"--seeds: a noise floor needs ≥ {MIN_STORED_SEEDS} seeds, got {seed_list}",
              as_json)
    try:
        suite = load_suite(suite_file, sets, seed_list)
    except ConfigError as e:
        fail(f"invalid suite: {e}", as_json)
    out = out_dir or f"results/{suite.name}-noise"
    if not no_run:
        try:
            ctx.invoke(run_cmd, suite_files=(suite_file,), out_dir=out, jobs=None,
                       seeds=",".join(map(str, seed_list)), sets=sets, only=only, force=False,
                       rerun_failed=False, wait=False, as_json=False, executor_kind=None,
                       address=None, cpus_per_cell=None, gpus_per_cell=None)
        except SystemExit as e:
            if e.code not in (0, None):
                err_console.print(f"upbench run exited {e.code}: no noise floor stored",
                                  highlight=False)
                sys.exit(e.code if e.code in (1, 2, 130) else 2)
    try:
        records = load_results(out)
    except FileNotFoundError as e:
        fail(str(e), as_json)
    labels = set(only) if only else None
    records = [r for r in records if r.get("suite") == suite.name and r.get("seed") in seed_list
               and (labels is None or r.get("label") in labels)]
    keys = [m.key for m in task_metrics(suite.task) if m.delta]
    command = " ".join(["upbench", "noise", shlex.quote(suite_file), "--seeds",
                        ",".join(map(str, seed_list))]
                       + [f"--only {shlex.quote(n)}" for n in only]
                       + [f"--set {shlex.quote(s)}" for s in sets])
    try:
        floor = measure(suite.name, suite.task, records, keys, command)
    except ValueError as e:
        fail(f"{out}: {e}", as_json)
    path = write_stored(floor, write_path or stored_path(suite.name))
    if as_json:
        print_json({"path": str(path), **floor.as_dict()})
        return
    rows = [(k, s.sigma, s.floor, s.df, s.cells) for k, s in floor.spreads.items()]
    print_table(f"noise floor of suite {suite.name}: {len(floor.seeds)} seeds × "
                f"{len(floor.upsamplers)} upsampler(s) ({', '.join(floor.upsamplers)})",
                ["metric", "σ (one seed)", "floor (95 %, two seeds)", "df", "cells"], rows)
    console.print(f"stored in {path}", highlight=False)
