"""The runner: execute a suite's cells, profile each, write one JSON per finished cell.

* A rerun skips cells whose hash already has a result in the output directory (``force`` reruns
  everything, ``rerun_failed`` retries failed cells).
* Ctrl-C stops the suite; every finished cell is already on disk (the cell in flight is lost).
* A cell whose loss becomes NaN/inf, that raises, whose evaluation gives no finite metric or
  whose result cannot be written (a full disk, a directory in the way) is recorded as ``failed``
  with its reason and the suite goes on; a combination the baseline cannot host is recorded as ``n/a``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import socket
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from upbench.engine.exclusive import MachineShare, NoShare
from upbench.engine.executors.base import Executor, run_in_order
from upbench.engine.flops import count_flops, count_params
from upbench.engine.numerics import cpu_numerics
from upbench.engine.profile import (
    environment,
    measure_peak_memory,
    measure_speed,
    profile_size,
)
from upbench.engine.results import SCHEMA, finished_hashes, write_result
from upbench.engine.suite import Cell, Suite
from upbench.engine.train import Diverged, evaluate, train
from upbench.measure.machine import machine
from upbench.tasks import Unhostable
from upbench.upsamplers.base import Upsampler


class Reporter:
    """Progress callbacks of :func:`run_suite` (this base class reports nothing)."""

    def suite_start(self, suite: Suite, cells: list[Cell], todo: list[Cell]) -> None: ...
    def cell_start(self, cell: Cell, index: int, total: int) -> None: ...
    def phase(self, cell: Cell, name: str) -> None: ...
    def iteration(self, cell: Cell, it: int, total: int, loss: float) -> None: ...
    def progress(self, cell: Cell, entry: dict[str, Any]) -> None:
        """A training-log record (loss, lr, throughput, ETA; see
        :class:`~upbench.engine.trainlog.TrainLog`)."""
    def cell_end(self, cell: Cell, result: dict[str, Any]) -> None: ...


@dataclass
class RunSummary:
    """What :func:`run_suite` did."""

    results: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[Cell] = field(default_factory=list)
    interrupted: bool = False
    wall_time_s: float = 0.0

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.results if r["status"] == "failed"]

    @property
    def exit_code(self) -> int:
        """130 if interrupted, 1 if any cell failed, else 0."""
        return 130 if self.interrupted else (1 if self.failed else 0)


class NoMetric(RuntimeError):
    """The evaluation produced no finite metric: the cell cannot be compared (it fails)."""


def has_metric(metrics: dict[str, Any] | None) -> bool:
    """True when at least one metric is a finite number."""
    return any(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
               for v in (metrics or {}).values())


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class _Yielding(Reporter):
    """A reporter that also yields the machine to a waiting measurement at every iteration and
    phase change, and takes it exclusively around a measurement."""

    def __init__(self, rep: Reporter, share: MachineShare | NoShare) -> None:
        self.rep, self.share = rep, share

    def phase(self, cell: Cell, name: str) -> None:
        self.share.checkpoint()
        self.rep.phase(cell, name)

    def iteration(self, cell: Cell, it: int, total: int, loss: float) -> None:
        self.share.checkpoint()
        self.rep.iteration(cell, it, total, loss)

    def progress(self, cell: Cell, entry: dict[str, Any]) -> None:
        self.rep.progress(cell, entry)

    @contextlib.contextmanager
    def exclusive(self, cell: Cell, rec: dict[str, Any]) -> Iterator[None]:
        """The machine to this cell alone for the body; a parallel run records the seconds
        waited for it as ``exclusive_wait_s``."""
        if isinstance(self.share, NoShare):
            yield
            return
        self.rep.phase(cell, "waiting to profile alone")
        t = time.perf_counter()
        with self.share.exclusive():
            rec["exclusive_wait_s"] = time.perf_counter() - t
            yield


def _profile(rep: _Yielding, cell: Cell, suite: Suite, task: Any, model: Any,
             inputs: tuple[torch.Tensor, ...], device: torch.device, rec: dict[str, Any]) -> None:
    """Latency (interleaved with the reference upsampler) and peak memory of the trained model,
    with the machine to this cell alone."""
    ref, ref_name = None, ""
    if suite.profile.latency:
        ref_name = suite.profile.speed_reference or task.reference
        ref = task.build_model(suite, ref_name, {}, None, cell.seed).to(device)
    with rep.exclusive(cell, rec):
        if ref is not None:
            rep.rep.phase(cell, "latency")
            repeats = (suite.profile.speed_repeats if suite.profile.speed_reference
                       else suite.profile.latency_repeats)
            rec["latency"], rec["speed"] = measure_speed(
                model, ref, ref_name, inputs, suite.profile.latency_warmup, repeats)
        if suite.profile.memory:
            rep.rep.phase(cell, "memory")
            rec["memory"] = measure_peak_memory(model, inputs)


def _impl_summary(upsampler_ops: tuple[str, ...], rec: dict[str, set[str]]) -> str:
    labels = sorted({lab for op in upsampler_ops for lab in rec.get(op, ())})
    if not upsampler_ops:
        return "aten"
    if not labels:
        return "unknown"
    return labels[0] if len(labels) == 1 else "mixed:" + "+".join(labels)


def base_record(suite: Suite, cell: Cell) -> dict[str, Any]:
    """The fields every result has, whatever its status."""
    from upbench.upsamplers import get_upsampler_class

    cls = get_upsampler_class(cell.upsampler.name)
    return {"schema": SCHEMA, "suite": cell.suite, "task": suite.task,
            "baseline": suite.baseline, "upsampler": cell.upsampler.name, "label": cell.label,
            "hparams": cell.upsampler.hparams, "space": cls.space, "guided": cls.guided,
            "seed": cell.seed, "hash": cell.hash, "config": cell.config, "status": "running",
            "error": None}


def failed_record(cell: Cell, error: str, tb: str | None = None) -> dict[str, Any]:
    """The record of a cell that failed before (or outside) :func:`run_cell`: a worker that
    died, a node that could not build the native library."""
    rec = base_record(cell.suite_config(), cell)
    now = _now()
    rec.update(status="failed", error=error, started_at=now, finished_at=now, wall_time_s=0.0,
               host=None)
    if tb:
        rec["traceback"] = tb
    return rec


def train_io(cell: Cell, suite: Suite) -> dict[str, Any]:
    """The recipe around a cell's training run: the task's augmentation (``train.augment``) and
    the files in its results directory (``cell.workdir``): the JSON-lines log always,
    checkpoints when ``train.checkpoint_every`` is set."""
    io: dict[str, Any] = {"augment": suite.task_def.augmentation(suite)}
    if not cell.workdir:
        return io
    from upbench.engine.checkpoint import CheckpointStore, checkpoint_dir

    io["log_path"] = Path(cell.workdir) / f"{cell.stem}.train.jsonl"
    if suite.train.checkpoint_every:
        io["checkpoints"] = CheckpointStore(checkpoint_dir(cell.workdir, cell), cell.hash,
                                            cell.config, suite.train.keep_checkpoints)
    return io


def cell_training(cell: Cell, suite: Suite, device: torch.device, rank: int = 0,
                  world: int = 1) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Build the cell's model and training split and train (one process of a
    ``train.devices`` run); returns the model and the training record."""
    task = suite.task_def
    e = cell.upsampler
    model = task.build_model(suite, e.name, e.hparams, e.placement, cell.seed, **e.host)
    train_split, _ = task.splits(suite)
    record = train(model, train_split, suite.train, cell.seed, device, rank=rank, world=world,
                   **train_io(cell, suite))
    return model, record


def run_cell(cell: Cell, reporter: Reporter | None = None,
             share: MachineShare | NoShare | None = None) -> dict[str, Any]:
    """Train, evaluate and profile one cell; never raises except KeyboardInterrupt.

    Everything (suite settings, data, model, evaluator) is rebuilt from the cell's resolved
    config, so the same function runs a cell in this process or in a worker. ``share`` is the
    machine share of a parallel run (:mod:`upbench.engine.exclusive`): the cell yields to a
    waiting measurement at every iteration and phase, and takes the machine for itself while its
    latency and memory are measured.
    """
    from upbench.ops import record_impls
    from upbench.upsamplers import get_upsampler_class

    rep = _Yielding(reporter or Reporter(), share or NoShare())
    suite = cell.suite_config()
    task = suite.task_def
    rec = base_record(suite, cell)
    rec["started_at"] = _now()
    rec["host"] = socket.gethostname()
    t0, c0 = time.perf_counter(), time.process_time()
    device = torch.device(suite.device)
    ups_ops = get_upsampler_class(cell.upsampler.name).ops
    entry = cell.upsampler
    try:
        with cpu_numerics(suite.threads, suite.denormals) as numerics:
            rec["env"] = environment() | numerics
            rec["machine"] = machine()
            try:
                model = task.build_model(suite, entry.name, entry.hparams, entry.placement,
                                         cell.seed, **entry.host)
            except Unhostable as e:
                rec.update(status="n/a", error=str(e))
                return rec
            rec["slots"] = model.slots
            rec["placement"] = model.placement
            if model.weights_report is not None:
                rec["weights"] = model.weights_report.as_dict()
            notes = sorted({n for _, m in model.slot_modules() if isinstance(m, Upsampler)
                            for n in m.hosting_notes()})
            if notes:
                rec["hosting_notes"] = notes
            rec["params"] = count_params(model, model.slots) | {
                "trainable": count_params(model, None, "trainable")["total"]}
            if suite.profile.flops:
                rep.phase(cell, "flops")
                size = profile_size(suite, "flops_size")
                try:
                    target, part = model.flops_target()
                    rec["flops"] = count_flops(
                        target, task.example_inputs(suite, size), part,
                        convention=suite.profile.flops_convention,
                    ).as_dict() | {"input_size": list(size)}
                    if model.flops_note:
                        rec["flops"]["counted"] = model.flops_note
                except Exception as e:  # noqa: BLE001 - counting must not lose the cell
                    rec["flops"] = {"error": f"{type(e).__name__}: {e}", "input_size": list(size),
                                    "convention": suite.profile.flops_convention}
            train_split, val_split = task.splits(suite)
            with record_impls() as impls:
                rep.phase(cell, "train")
                if suite.train.devices > 1:
                    from upbench.engine.distributed import train_distributed

                    def progress(entry: dict[str, Any]) -> None:
                        rep.progress(cell, entry)
                        rep.iteration(cell, entry["iteration"], entry["iterations"],
                                      entry["loss"])

                    state, rec["train"] = train_distributed(cell, suite.train.devices,
                                                            suite.threads, progress,
                                                            train_fn=cell_training)
                    model.load_state_dict(state)
                    model.to(device)
                else:
                    rec["train"] = train(model, train_split, suite.train, cell.seed, device,
                                         lambda it, n, loss: rep.iteration(cell, it, n, loss),
                                         on_log=lambda entry: rep.progress(cell, entry),
                                         **train_io(cell, suite))
                rep.phase(cell, "eval")
                te = time.perf_counter()
                evaluator = task.evaluator(suite)
                rec["metrics"] = evaluate(model, val_split, evaluator,
                                          suite.train.eval_batch_size, device,
                                          suite.train.precision, suite.train.channels_last)
                if not has_metric(rec["metrics"]):
                    raise NoMetric("no metric: the validation split gave nothing to measure "
                                   f"({rec['metrics'] or 'no values'}); check its labels (e.g. "
                                   "depth in range, trimaps with unknown pixels)")
                diagnostics = model.diagnostics(val_split)
                if diagnostics:
                    rec["diagnostics"] = diagnostics
                artifacts = getattr(evaluator, "artifacts", None)  # optional (Evaluator)
                if artifacts is not None:
                    rec["artifacts"] = artifacts()
                rec["eval_time_s"] = time.perf_counter() - te
                size = profile_size(suite, "latency_size")
                inputs = task.example_inputs(suite, size, device)
                if suite.profile.latency or suite.profile.memory:
                    _profile(rep, cell, suite, task, model, inputs, device, rec)
            rec["impl_by_op"] = {k: sorted(v) for k, v in sorted(impls.items())}
            rec["impl"] = _impl_summary(ups_ops, impls)
            rec["status"] = "ok"
    except KeyboardInterrupt:
        raise
    except Diverged as e:
        rec.update(status="failed", error=f"diverged: {e}")
    except NoMetric as e:
        rec.update(status="failed", error=str(e))
    except Exception as e:  # noqa: BLE001 - any error becomes a failed cell
        rec.update(status="failed", error=f"{type(e).__name__}: {e}",
                   traceback=traceback.format_exc(limit=20))
    finally:
        rec["finished_at"] = _now()
        rec["wall_time_s"] = time.perf_counter() - t0
        # CPU seconds of this process (all its threads) for the cell: for a one-thread cell near
        # the wall time on a quiet machine, so a loaded run still tells how long it would take
        rec["cpu_time_s"] = time.process_time() - c0
    return rec


@dataclass
class SuiteRun:
    """One suite of a (possibly multi-suite) run: its cells and its results directory."""

    suite: Suite
    cells: list[Cell]
    out: Path


def unsaved_error(path: Path, e: OSError) -> str:
    """The error of a cell whose result could not be written (the cell itself may have run)."""
    from upbench.engine.outdir import describe_os_error

    return (f"result not saved ({describe_os_error(e)}): cannot write {path}; fix that and "
            "rerun (finished cells are kept, this one runs again)")


def run_suite(suite: Suite, cells: list[Cell], out_dir: str | Path,
              reporter: Reporter | None = None, force: bool = False,
              rerun_failed: bool = False, executor: Executor | None = None) -> RunSummary:
    """Run ``cells`` of ``suite``, writing ``<out_dir>/<label>__seed<s>__<hash>.json`` each.

    The driver decides what runs (finished cells are skipped unless ``force``; failed ones are
    retried with ``rerun_failed``) and writes every result atomically as the ``executor``
    hands it back (default: every cell here, in order, as
    :class:`~upbench.engine.executors.LocalExecutor`; the executors sit above this module).
    """
    return run_suites([SuiteRun(suite, cells, Path(out_dir))], reporter, force, rerun_failed,
                      executor)[0]


def run_suites(runs: list[SuiteRun], reporter: Reporter | None = None, force: bool = False,
               rerun_failed: bool = False, executor: Executor | None = None
               ) -> list[RunSummary]:
    """Run several suites' cells through one executor (they share its worker pool), each
    suite's results into its own directory; one :class:`RunSummary` per suite, in order.

    Each summary's ``wall_time_s`` runs from the start to its suite's last finished cell (to
    the interruption, if interrupted); its ``results`` are in the order of the suite's cells.

    Raises:
        ValueError: two suites would write into the same directory.
    """
    rep = reporter or Reporter()
    ex_name = executor.name if executor is not None else "local"
    outs = [r.out.resolve() for r in runs]
    if len(set(outs)) != len(outs):
        raise ValueError("two suites would write into the same results directory: "
                         f"{min(str(o) for o in outs if outs.count(o) > 1)}")
    summaries, todo, owner = [], [], {}
    for i, run in enumerate(runs):
        done = {} if force else finished_hashes(run.out)
        mine = [c for c in run.cells
                if c.hash not in done or (rerun_failed and done[c.hash] == "failed")]
        summaries.append(RunSummary(skipped=[c for c in run.cells if c not in mine]))
        rep.suite_start(run.suite, run.cells, mine)
        for c in mine:
            owner[id(c)] = i
            c.workdir = str(run.out)
        todo += mine
    t0 = time.perf_counter()
    left = [sum(owner[id(c)] == i for c in todo) for i in range(len(runs))]

    def finished(cell: Cell, result: dict[str, Any]) -> None:
        i = owner[id(cell)]
        result["executor"] = ex_name
        out = runs[i].out
        try:
            write_result(out, cell.filename, result)
        except OSError as e:  # full disk, a directory where the file goes: this cell only
            result.update(status="failed", error=unsaved_error(out / cell.filename, e))
        summaries[i].results.append(result)
        left[i] -= 1
        if not left[i]:
            summaries[i].wall_time_s = time.perf_counter() - t0
        rep.cell_end(cell, result)

    try:
        if todo:
            if executor is not None:
                executor.run(todo, finished, rep)
            else:
                run_in_order(todo, finished, rep, run_cell)
    except KeyboardInterrupt:
        for i, s in enumerate(summaries):
            s.interrupted = bool(left[i])
    for i, s in enumerate(summaries):
        if left[i]:
            s.wall_time_s = time.perf_counter() - t0
        order = {c.hash: k for k, c in enumerate(runs[i].cells)}
        s.results.sort(key=lambda r: order.get(str(r.get("hash")), len(order)))  # suite's order
    return summaries
