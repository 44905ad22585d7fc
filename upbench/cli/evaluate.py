"""``upbench eval``: re-evaluate cells from their checkpoints (no training)."""

from __future__ import annotations

import sys
from typing import Any

import click

from upbench.cli._output import err_console, print_json, print_table, styled
from upbench.cli.suite import parse_seeds


def evaluate_checkpoint(cell, out: str) -> dict[str, Any]:
    """Build ``cell``'s model, load its newest checkpoint in ``out`` and evaluate it on the
    validation split; returns ``{label, seed, hash, iteration, iterations, metrics}``.

    Raises:
        CheckpointMismatch: the checkpoint belongs to another config.
        FileNotFoundError: the cell has no checkpoint in ``out``.
    """
    import torch

    from upbench.engine.checkpoint import CheckpointStore, checkpoint_dir
    from upbench.engine.numerics import cpu_numerics
    from upbench.engine.train import evaluate

    suite = cell.suite_config()
    store = CheckpointStore(checkpoint_dir(out, cell), cell.hash, cell.config)
    state = store.load()
    if state is None:
        raise FileNotFoundError(f"{cell.label} seed {cell.seed}: no checkpoint in "
                                f"{store.directory} (set train.checkpoint_every and run the "
                                "suite first)")
    task, e = suite.task_def, cell.upsampler
    device = torch.device(suite.device)
    with cpu_numerics(suite.threads, suite.denormals):
        model = task.build_model(suite, e.name, e.hparams, e.placement, cell.seed, **e.host)
        model.load_state_dict(state["model"])
        model.to(device)
        _, val = task.splits(suite)
        metrics = evaluate(model, val, task.evaluator(suite), suite.train.eval_batch_size,
                           device, suite.train.precision, suite.train.channels_last)
    return {"label": cell.label, "seed": cell.seed, "hash": cell.hash,
            "iteration": int(state["iteration"]), "iterations": suite.train.iterations,
            "metrics": metrics}


@click.command("eval")
@click.argument("suite_file", metavar="SUITE", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Results directory holding the checkpoints (default: results/<suite name>).")
@click.option("--seeds", default=None, help="Comma-separated seeds replacing the suite's.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Dotted override of a suite key (as given to `upbench run`).")
@click.option("--only", multiple=True, metavar="NAME", help="Only this upsampler (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
def eval_cmd(suite_file: str, out_dir: str | None, seeds: str | None, sets: tuple[str, ...],
             only: tuple[str, ...], as_json: bool) -> None:
    """Evaluate cells of SUITE (a suite file or a stored suite's name) from their newest
    checkpoints (``train.checkpoint_every``).

    Exit code: 0 every cell evaluated, 2 invalid suite, a missing checkpoint or one written
    under another config.
    """
    from upbench.catalog import resolve_suite
    from upbench.engine import ConfigError, expand, load_suite
    from upbench.engine.checkpoint import CheckpointMismatch

    try:
        suite = load_suite(resolve_suite(suite_file), sets, parse_seeds(seeds))
        cells = expand(suite, only)
    except ConfigError as e:
        err_console.print(styled("invalid suite", "red", f" {e}"))
        sys.exit(2)
    out = out_dir or f"results/{suite.name}"
    rows = []
    for cell in cells:
        try:
            rows.append(evaluate_checkpoint(cell, out))
        except (CheckpointMismatch, FileNotFoundError) as e:
            err_console.print(styled("no usable checkpoint", "red", f" {e}"))
            sys.exit(2)
    if as_json:
        print_json({"suite": suite.name, "out": out, "cells": rows})
        return
    keys = list(dict.fromkeys(k for r in rows for k, v in r["metrics"].items()
                              if isinstance(v, (int, float))))
    print_table(f"{suite.name}: {len(rows)} cell(s) evaluated from checkpoints in {out}",
                ["upsampler", "seed", "iteration", *keys],
                [(r["label"], r["seed"], f"{r['iteration']}/{r['iterations']}",
                  *[r["metrics"].get(k) for k in keys]) for r in rows])
