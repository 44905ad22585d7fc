"""``upbench run``: run a suite's cells with a live progress display, then print the summary."""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from upbench.cli._output import err_console, print_json, print_table, styled
from upbench.cli._params import Choice
from upbench.cli.suite import parse_seeds
from upbench.engine.runner import Reporter


class RichReporter(Reporter):
    """Progress bars on stderr: one per suite (its cells), one per cell in flight (its
    iterations and phase)."""

    def __init__(self, progress: Progress) -> None:
        self.p = progress
        self.suite_tasks: dict[str, Any] = {}
        self.cell_tasks: dict[tuple[str, str], Any] = {}
        self.rates: dict[tuple[str, str], str] = {}  # per cell in flight: lr, it/s, img/s

    @staticmethod
    def _key(cell) -> tuple[str, str]:
        return cell.suite, cell.hash

    def suite_start(self, suite, cells, todo) -> None:
        skipped = len(cells) - len(todo)
        if skipped:
            err_console.print(f"{suite.name}: skipping {skipped} finished cell(s) (results "
                              "already in the output directory)", highlight=False)
        self.suite_tasks[suite.name] = self.p.add_task(escape(f"suite {suite.name}"),
                                                       total=len(todo), loss="")

    def cell_start(self, cell, index, total) -> None:
        self.cell_tasks[self._key(cell)] = self.p.add_task(
            escape(f"  {cell.label} seed {cell.seed}"), total=cell.config["train"]["iterations"],
            loss="")

    def phase(self, cell, name) -> None:
        task = self.cell_tasks.get(self._key(cell))
        if task is not None:
            self.p.update(task, description=escape(f"  {cell.label} seed {cell.seed} [{name}]"))

    def iteration(self, cell, it, total, loss) -> None:
        task = self.cell_tasks.get(self._key(cell))
        if task is not None:
            rates = self.rates.get(self._key(cell), "")
            self.p.update(task, completed=it, loss=f"loss {loss:.4f}{rates}")

    def progress(self, cell, entry) -> None:
        self.rates[self._key(cell)] = rates = progress_text(entry)
        task = self.cell_tasks.get(self._key(cell))
        if entry.get("iteration") and task is not None:
            self.p.update(task, completed=entry["iteration"],
                          loss=f"loss {entry['loss']:.4f}{rates}")

    def cell_end(self, cell, result) -> None:
        task = self.cell_tasks.pop(self._key(cell), None)
        self.rates.pop(self._key(cell), None)
        if task is not None:
            self.p.remove_task(task)
        if cell.suite in self.suite_tasks:
            self.p.advance(self.suite_tasks[cell.suite])
        status = result["status"]
        color = {"ok": "green", "failed": "red"}.get(status, "yellow")
        extra = ""
        if status == "ok":
            extra = f"{metric_summary(result)}  ({result['wall_time_s']:.0f} s)"
        elif result.get("error"):
            extra = result["error"].splitlines()[0][:160]
        where = f"{cell.suite}: " if len(self.suite_tasks) > 1 else ""
        self.p.console.print(styled(f"{status:6}", color, f" {where}{cell.label} seed "
                                    f"{cell.seed}  {extra}"), highlight=False)


def progress_text(entry: dict[str, Any]) -> str:
    """``  lr 2.0e-03  5.1 it/s  41 img/s`` from a training-log record (what is known)."""
    parts = [f"lr {entry['lr']:.1e}"] if entry.get("lr") is not None else []
    if entry.get("it_per_s"):
        parts.append(f"{entry['it_per_s']:.2f} it/s")
    if entry.get("samples_per_s"):
        parts.append(f"{entry['samples_per_s']:.0f} img/s")
    return "".join(f"  {p}" for p in parts)


def shown_metrics(task: str) -> list:
    """The metrics a task shows in tables (primary first)."""
    from upbench.engine.compare import task_metrics

    return [m for m in task_metrics(task) if m.shown]


def metric_summary(result: dict[str, Any]) -> str:
    """``mIoU 71.20  bIoU 54.10`` from a result, by its task's shown metrics."""
    m = result.get("metrics") or {}
    return "  ".join(f"{x.key} {x.format(m.get(x.key))}" for x in shown_metrics(result["task"]))


def summary_table(results: list[dict[str, Any]]) -> tuple[list[str], list[tuple]]:
    """Columns and rows of the end-of-run table (metric columns from the results' tasks)."""
    tasks = list(dict.fromkeys(r["task"] for r in results))
    metrics: list[Any] = []
    for t in tasks:
        metrics += [x for x in shown_metrics(t) if x.key not in {y.key for y in metrics}]
    cols = ["upsampler", "seed", "status"] + [x.header for x in metrics] + [
        "GFLOPs", "params", "FPS", "impl", "time s", "error"]
    rows = []
    for r in results:
        m, fl = r.get("metrics") or {}, r.get("flops") or {}
        lat, p = r.get("latency") or {}, r.get("params") or {}
        rows.append((r["label"], r["seed"], r["status"], *[m.get(x.key) for x in metrics],
                     (fl.get("total") or 0) / 1e9 if fl.get("total") is not None else None,
                     p.get("total"), lat.get("fps"), r.get("impl"), r.get("wall_time_s"),
                     (r.get("error") or "")[:60]))
    return cols, rows


def executor_config(suite, kind: str | None, address: str | None, cpus: int | None,
                    gpus: float | None):
    """The suite's ``executor:`` section with the CLI flags applied (and revalidated)."""
    import dataclasses

    conf = suite.executor
    changes = {k: v for k, v in (("kind", kind), ("address", address), ("cpus_per_cell", cpus),
                                 ("gpus_per_cell", gpus)) if v is not None}
    conf = dataclasses.replace(conf, **changes)
    conf.validate("command line" if changes else suite.source, "executor")
    return conf


@dataclass
class _Planned:
    """One suite of the invocation, validated: its cells, executor section and results dir."""

    suite: Any
    cells: list
    exconf: Any
    out: str
    memory: dict[str, Any]


def plan_suites(suite_files: tuple[str, ...], out_dir: str | None, seeds, sets, only,
                executor_kind, address, cpus_per_cell, gpus_per_cell) -> list[_Planned]:
    """Load, expand and preflight every suite; their results directories (exit 2 on any
    problem, before any work)."""
    from upbench.catalog import resolve_suite
    from upbench.engine import ConfigError, expand, load_suite
    from upbench.engine.preflight import check_checkpoints, preflight

    planned = []
    for f in suite_files:
        try:
            suite = load_suite(resolve_suite(f), sets, parse_seeds(seeds))
            cells = expand(suite, only)
            exconf = executor_config(suite, executor_kind, address, cpus_per_cell,
                                     gpus_per_cell)
            report = preflight(suite, cells, executor=exconf.kind)  # data, entries, memory
        except ConfigError as e:
            err_console.print(styled("invalid suite", "red", f" {e}"))
            sys.exit(2)
        if len(suite_files) == 1:
            out = out_dir or f"results/{suite.name}"
        else:
            out = str(Path(out_dir or "results") / suite.name)
        try:
            resumes = check_checkpoints(cells, out)  # a checkpoint of another config: before work
        except ConfigError as e:
            err_console.print(styled("invalid suite", "red", f" {e}"))
            sys.exit(2)
        for name, it in resumes.items():
            err_console.print(f"{name}: resuming from its checkpoint at iteration {it}",
                              highlight=False)
        planned.append(_Planned(suite, cells, exconf, out, report.memory))
    names = [p.suite.name for p in planned]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        err_console.print(styled("invalid suites", "red", f" several suites are named {dup[0]!r}"
                                 " and would share a results directory; rename one (name:) or "
                                 "run them separately with --out"))
        sys.exit(2)
    kinds = sorted({p.exconf.kind for p in planned})
    if len(kinds) > 1:
        err_console.print(styled("invalid suites", "red", f" the suites ask for different "
                                 f"executors ({', '.join(kinds)}); choose one with --executor"))
        sys.exit(2)
    return planned


def resolve_jobs(planned: list[_Planned], jobs: int | None) -> tuple[int, str]:
    """Cells at once for a local run, and why: ``--jobs``, else the suites' ``executor.jobs``,
    else the cores divided by the threads per cell — capped so that that many cells fit in
    memory by the preflight estimate."""
    from upbench.engine.executors import default_jobs

    if jobs is not None:
        return jobs, "--jobs"
    asked = [p.exconf.jobs for p in planned if p.exconf.jobs]
    if asked:
        return min(asked), "executor.jobs"
    n = default_jobs([p.suite.threads for p in planned])
    fits = min((p.memory["limit_bytes"] // max(1, p.memory["estimate_bytes"])
                for p in planned if p.memory.get("estimate_bytes")), default=n)
    if fits < n:
        return max(1, int(fits)), "cells that fit in memory"
    return n, "cores / threads per cell"


@click.command("run")
@click.argument("suite_files", metavar="SUITE...", nargs=-1, required=True, type=click.Path())
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Results directory (default: results/<suite name>). With several suites, "
                   "each gets OUT/<suite name> (default results/<suite name>).")
@click.option("--seeds", default=None,
              help="Seeds replacing the suite's: comma-separated and/or ranges (0-4).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Dotted override of a suite key, e.g. --set train.iterations=50.")
@click.option("--only", multiple=True, metavar="NAME", help="Run only this upsampler (repeatable).")
@click.option("--force", is_flag=True, help="Rerun cells that already have a result.")
@click.option("--rerun-failed", is_flag=True, help="Retry cells whose stored result failed.")
@click.option("--wait", is_flag=True,
              help="If another run holds the output directory, wait for it instead of exiting.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, envvar="UPBENCH_JOBS",
              help="Cells at once on this machine (local executor; env UPBENCH_JOBS). Default: "
                   "the suite's executor.jobs, else the cores divided by the threads per cell. "
                   "Latency and memory are always measured with the machine to one cell.")
@click.option("--executor", "executor_kind", type=Choice(["local", "ray"]), default=None,
              help="Where cells run: local (this machine, default) or ray (a Ray task per cell; "
                   "needs pip install 'upbench[ray]'). Overrides the suite's executor.kind.")
@click.option("--address", default=None, metavar="ADDR",
              help="Ray cluster to join (default RAY_ADDRESS, else a local Ray instance).")
@click.option("--cpus-per-cell", type=click.IntRange(min=1), default=None,
              help="CPUs each Ray task asks for (default the suite's threads, else 1).")
@click.option("--gpus-per-cell", type=click.FloatRange(min=0), default=None,
              help="GPUs each Ray task asks for (default 1 for a cuda suite, else 0).")
def run_cmd(suite_files: tuple[str, ...], out_dir: str | None, seeds: str | None,
            sets: tuple[str, ...], only: tuple[str, ...], force: bool, rerun_failed: bool,
            wait: bool, as_json: bool, jobs: int | None, executor_kind: str | None,
            address: str | None, cpus_per_cell: int | None, gpus_per_cell: float | None) -> None:
    """Run every cell (upsampler × seed) of each SUITE (a suite file, or the name of a stored
    suite: `upbench suite list`); one JSON per finished cell, in ./results/<suite name> unless
    --out.

    Several suites run as one invocation: their cells share the worker pool, and each suite's
    results go to its own directory (OUT/<suite name>).

    Exit code: 0 all cells ok (or n/a), 1 some cell failed (in this run or stored in the output
    directory from an earlier one), 2 invalid suite, unusable output directory (unwritable, or
    in use by another run) or executor unavailable, 130 interrupted.
    """
    from upbench.engine.executors import Executor, LocalExecutor, make_executor
    from upbench.engine.executors.ray import ExecutorUnavailable
    from upbench.engine.runner import SuiteRun, run_suites

    planned = plan_suites(suite_files, out_dir, seeds, sets, only, executor_kind, address,
                          cpus_per_cell, gpus_per_cell)
    exconf = planned[0].exconf
    from_cli = (click.get_current_context().get_parameter_source("jobs")
                == click.core.ParameterSource.COMMANDLINE)
    if jobs is not None and exconf.kind != "local" and from_cli:
        err_console.print(styled("invalid option", "red", " --jobs only applies to the local "
                                 "executor (Ray schedules by --cpus-per-cell)"))
        sys.exit(2)
    locks: list[Any] = []
    for p in planned:
        locks.append(open_output_dir(p.out, wait, release_on_exit=locks))
    with contextlib.ExitStack() as stack:
        for lock in locks:
            stack.enter_context(lock)
        if exconf.kind == "local":
            n, why = resolve_jobs(planned, jobs)
            executor: Executor = LocalExecutor(jobs=n)
            todo = sum(len(p.cells) for p in planned)
            if n > 1 and todo > 1:
                err_console.print(f"running {min(n, todo)} cells at once ({why}); latency and "
                                  "memory measured with the machine to one cell",
                                  highlight=False)
        else:
            try:
                executor = make_executor(exconf)
                executor.connect()
            except ExecutorUnavailable as e:
                err_console.print(styled("executor unavailable", "red", f" {e}"))
                sys.exit(2)
            err_console.print(f"running on {executor.describe()}", highlight=False)
        progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[loss]}"), TimeElapsedColumn(),
                            TextColumn("ETA"), TimeRemainingColumn(), console=err_console,
                            transient=False)
        with progress:
            summaries = run_suites([SuiteRun(p.suite, p.cells, Path(p.out)) for p in planned],
                                   RichReporter(progress), force, rerun_failed, executor)
    codes = [stored_failures_exit_code(s, p.cells, p.out) for p, s in zip(planned, summaries, strict=True)]
    exit_code = 130 if 130 in codes else max(codes)
    for p, s in zip(planned, summaries, strict=True):
        if s.interrupted:
            err_console.print(styled("interrupted", "yellow", f": {p.suite.name}: "
                                     f"{len(s.results)} finished cell(s) kept in {p.out}; rerun "
                                     "the same command to resume"))
    if as_json:
        docs = [suite_json(p, s, c) for p, s, c in zip(planned, summaries, codes, strict=True)]
        print_json(docs[0] if len(docs) == 1 else {"suites": docs, "exit_code": exit_code})
    else:
        for p, s in zip(planned, summaries, strict=True):
            cols, rows = summary_table(s.results)
            if not any(r[-1] for r in rows):
                rows, cols = [r[:-1] for r in rows], cols[:-1]
            print_table(f"{p.suite.name}: {len(s.results)} cell(s) run, {len(s.skipped)} "
                        f"skipped, {len(s.failed)} failed — {s.wall_time_s:.0f} s → {p.out}",
                        cols, rows)
    sys.exit(exit_code)


def suite_json(p: _Planned, summary, exit_code: int) -> dict[str, Any]:
    """The ``--json`` summary of one suite."""
    return {"suite": p.suite.name, "out": p.out, "wall_time_s": summary.wall_time_s,
            "interrupted": summary.interrupted, "skipped": [c.hash for c in summary.skipped],
            "exit_code": exit_code,
            "cells": [{k: r.get(k) for k in ("label", "seed", "hash", "status", "error",
                                             "metrics", "params", "flops", "latency", "impl",
                                             "wall_time_s")}
                      for r in summary.results]}


def open_output_dir(out: str, wait: bool, release_on_exit: list | None = None):
    """Create, probe and lock the results directory before any work (exit 2 if unusable,
    after releasing the locks in ``release_on_exit``)."""
    from upbench.engine.outdir import OutputError, RunLock

    def waiting(owner: str) -> None:
        err_console.print(f"waiting for the other run on {out} ({owner})", highlight=False)

    try:
        lock = RunLock(out, wait=wait, on_wait=waiting)
    except OutputError as e:
        for other in release_on_exit or ():
            other.release()
        err_console.print(styled("unusable output directory", "red", f" {e}"))
        sys.exit(2)
    if lock.removed:
        err_console.print(f"removed {len(lock.removed)} temp file(s) of an interrupted run in "
                          f"{out}", highlight=False)
    warn_unreadable_results(out)
    return lock


def warn_unreadable_results(out: str) -> None:
    """Name every result file in ``out`` that cannot be used (truncated by a kill or a full
    disk, a directory or a symlink loop in its place): its cell runs again."""
    from upbench.engine.results import scan_results

    for path, why in scan_results(out).bad:
        err_console.print(styled("warning", "yellow", f": unusable result file {path}: {why}; "
                                 "its cell runs again"), highlight=False)


def stored_failures_exit_code(summary, cells, out: str) -> int:
    """The run's exit code, 1 also when a cell of the suite failed in an earlier run and was
    skipped now (its failed result is in ``out``)."""
    from upbench.engine.results import failed_hashes

    if summary.exit_code:
        return summary.exit_code
    ran = {r.get("hash") for r in summary.results}
    stale = failed_hashes(out, [c.hash for c in cells if c.hash not in ran])
    if stale:
        err_console.print(styled(f"{len(stale)} cell(s) of this suite failed in an earlier run",
                                 "red", " (their results are in the output directory); retry "
                                 "them with --rerun-failed"))
        return 1
    return 0
