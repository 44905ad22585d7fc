"""Preflight: everything that can be known to fail before the first cell trains.

``upbench suite validate`` and ``upbench run`` both call :func:`preflight` after the suite is
parsed (keys, types and bounds) and before any work:

1. the device exists (``device: cuda`` needs CUDA here);
2. the dataset opens (:meth:`upbench.tasks.base.Task.check_data`: files listed, pairs and sizes
   checked, a spread sample decoded — every file with ``deep``);
3. every upsampler entry builds in the task's baseline and runs once on a small probe input (a
   bad hyper-parameter — an even ``up_kernel``, an ``up_group`` that does not divide — names the
   entry; a combination the baseline cannot host at all stays an ``n/a`` cell);
4. a memory estimate of one training step at ``input_size`` × ``train.batch_size`` (activations
   measured on the probe and scaled by area, parameters and optimizer state, an in-memory
   synthetic dataset) against the machine's memory.

Every failure is a :class:`~upbench.utils.schema.ConfigError` naming the file, the key and the
fix (the CLI exits 2).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from upbench.engine.suite import Cell, Suite, UpsamplerEntry
from upbench.models.weights import WeightsError
from upbench.tasks import Unhostable
from upbench.utils.schema import ConfigError

GiB = 1 << 30
PROBE_CELLS = 4  # the probe input is at most this many output strides on a side
SAMPLE_BYTES_FACTOR = 3  # an in-memory sample (input, target and extras) vs its input tensor
OPTIMIZER_COPIES = 4  # parameters, gradients and two Adam moments


@dataclass
class PreflightReport:
    """What :func:`preflight` checked."""

    probed: list[str] = field(default_factory=list)
    unhostable: dict[str, str] = field(default_factory=dict)
    probe_size: list[int] = field(default_factory=list)
    memory: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (for ``suite validate --json``)."""
        return {"probed": self.probed, "n/a": self.unhostable, "probe_size": self.probe_size,
                "memory": self.memory}


def machine_memory_bytes(device: str = "cpu") -> int:
    """The memory a cell can use: the GPU's for ``cuda``, else physical RAM (or the cgroup's
    limit, when lower)."""
    if device == "cuda" and torch.cuda.is_available():
        return int(torch.cuda.get_device_properties(0).total_memory)
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for f in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(f).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return int(total)


def probe_size(suite: Suite) -> list[int]:
    """A small input of the suite's shape: each side at most ``PROBE_CELLS`` output strides."""
    m = suite.task_def.input_multiple
    return [min(v, PROBE_CELLS * m) for v in suite.input_size]


def probe_batch(suite: Suite) -> int:
    """The probe's batch: two samples (one when training uses one), as batch norm sees them."""
    return min(2, suite.train.batch_size)


def check_device(suite: Suite) -> None:
    """``device: cuda`` needs a CUDA device visible to this torch."""
    if suite.device == "cuda" and not torch.cuda.is_available():
        why = ("this torch is a CPU-only build" if torch.version.cuda is None
               else "no CUDA device is visible")
        raise ConfigError(suite.source, "device", f"cuda requested but {why} (torch "
                          f"{torch.__version__}); set device: cpu or run on a GPU machine")


def available_devices(device: str) -> int:
    """How many processes ``train.devices`` may start here: the visible GPUs for ``cuda``, the
    CPU cores this process may use for ``cpu`` (gloo, one process per core)."""
    if device == "cuda":
        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def check_devices(suite: Suite) -> None:
    """``train.devices`` no more than this machine has."""
    n, have = suite.train.devices, available_devices(suite.device)
    if n > have:
        what = "visible CUDA devices" if suite.device == "cuda" else "CPU cores for this process"
        raise ConfigError(suite.source, "train.devices", f"{n} requested but this machine has "
                          f"{have} {what}; lower train.devices")


def check_checkpoints(cells: list[Cell], out_dir: str | Path) -> dict[str, int]:
    """Every cell's newest checkpoint in ``out_dir`` belongs to the cell's config (checked
    before any cell trains); ``{label@seed: iteration}`` of the cells that will resume.

    Raises:
        ConfigError: a checkpoint was written under another config (names the keys and the fix).
    """
    from upbench.engine.checkpoint import CheckpointMismatch, CheckpointStore, checkpoint_dir

    resumes = {}
    for cell in cells:
        store = CheckpointStore(checkpoint_dir(out_dir, cell), cell.hash, cell.config)
        try:
            it = store.check()
        except CheckpointMismatch as e:
            raise ConfigError(cell.config.get("source", "") or "", "checkpoint", str(e)) from e
        if it is not None:
            resumes[f"{cell.label}@{cell.seed}"] = it
    return resumes


def _activation_bytes(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...]) -> int:
    """Bytes of the tensors autograd saves for backward in one forward of ``module`` (the
    activations a training step keeps), parameters excluded."""
    params = {p.untyped_storage().data_ptr() for p in module.parameters()}
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        try:
            s = t.untyped_storage()
        except (RuntimeError, NotImplementedError):
            return t
        if s.data_ptr() not in params:
            saved[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        module(*inputs)
    return sum(saved.values())


def _entry_key(entry: UpsamplerEntry) -> str:
    return f"upsamplers: {entry.label}"


def probe_entry(suite: Suite, entry: UpsamplerEntry, size: list[int]) -> tuple[int, int] | str:
    """Build ``entry`` in the suite's baseline and run it once on a ``size`` input; returns
    (activation bytes per sample, parameter count), or the reason when the baseline cannot host the
    upsampler whatever its hyper-parameters (an ``n/a`` cell).

    Raises:
        ConfigError: the entry's hyper-parameters make it unbuildable (the defaults build), or
            the model fails on the probe input.
    """
    task = suite.task_def
    file, key = suite.source, _entry_key(entry)
    try:
        model = task.build_model(suite, entry.name, entry.hparams, entry.placement, 0,
                                 entry.decode_stride)
    except Unhostable as e:
        if not entry.hparams:
            return str(e)
        try:  # hostable with its defaults: the hyper-parameters are the problem
            task.build_model(suite, entry.name, {}, entry.placement, 0, entry.decode_stride)
        except Exception:  # noqa: BLE001 - only the user's hyper-parameters are judged here
            return str(e)
        raise ConfigError(file, key, f"{e}; fix the hyper-parameters "
                          f"{', '.join(f'{k}={v!r}' for k, v in entry.hparams.items())}") from None
    except WeightsError as e:
        raise ConfigError(file, "model.weights", str(e)) from None
    except Exception as e:  # noqa: BLE001 - e.g. a zero kernel size dividing by zero in init
        raise ConfigError(file, key, f"cannot be built: {type(e).__name__}: "
                          f"{' '.join(str(e).split())[:300]}; check its hyper-parameters") from None
    try:
        target, _ = model.flops_target()
        inputs = task.example_inputs(suite, size, batch=probe_batch(suite))
        act = _activation_bytes(target, inputs) // probe_batch(suite)
    except Unhostable as e:
        return str(e)
    except Exception as e:  # noqa: BLE001 - any failure on the probe is the entry's
        raise ConfigError(file, key, f"fails on a {size[0]}×{size[1]} probe input: "
                          f"{type(e).__name__}: {' '.join(str(e).split())[:300]}") from None
    return act, sum(p.numel() for p in model.parameters())


def resident_samples(suite: Suite) -> int:
    """Samples a split holds in memory: a synthetic dataset is rendered up front."""
    d = suite.dataset
    if getattr(d, "kind", None) != "synthetic":
        return 0
    return int(getattr(d, "train_size", 0)) + int(getattr(d, "val_size", 0))


def estimate_memory(suite: Suite, act_probe: int, params: int, size: list[int]) -> dict[str, Any]:
    """Bytes one training step needs at the suite's size, from the probe's activations."""
    h, w = suite.input_size
    area = (h * w) / (size[0] * size[1])
    input_bytes = sum(t.numel() * t.element_size()
                      for t in suite.task_def.example_inputs(suite, size)) * area
    activations = act_probe * area * suite.train.batch_size * 2  # kept + their gradients
    data = resident_samples(suite) * input_bytes * SAMPLE_BYTES_FACTOR
    weights = params * 4 * OPTIMIZER_COPIES
    total = activations + data + weights
    return {"estimate_bytes": int(total), "activations_bytes": int(activations),
            "dataset_bytes": int(data), "weights_bytes": int(weights),
            "limit_bytes": machine_memory_bytes(suite.device)}


def check_memory(suite: Suite, mem: dict[str, Any]) -> None:
    """Refuse a suite whose estimate exceeds the machine's memory."""
    if mem["estimate_bytes"] <= mem["limit_bytes"]:
        return
    h, w = suite.input_size
    parts = [(f"~{mem['activations_bytes'] / GiB:.1f} GiB activations of a batch of "
             f"{suite.train.batch_size} at {h}×{w}")]
    if mem["dataset_bytes"]:
        parts.append(f"~{mem['dataset_bytes'] / GiB:.1f} GiB for the in-memory synthetic "
                     f"dataset ({resident_samples(suite)} samples)")
    raise ConfigError(suite.source, "input_size", f"a cell needs about "
                      f"{mem['estimate_bytes'] / GiB:.1f} GiB ({'; '.join(parts)}) but this "
                      f"machine has {mem['limit_bytes'] / GiB:.1f} GiB; lower input_size, "
                      "train.batch_size or the dataset sizes")


def preflight(suite: Suite, cells: list[Cell] | None = None, deep: bool = False,
              executor: str = "local") -> PreflightReport:
    """Check ``suite`` (the entries of ``cells``, default all) before any work; see the module
    docstring. ``deep`` decodes every dataset file. With ``executor="ray"`` the cells run on
    other machines: the device and the memory estimate are not checked against this one (the
    dataset and every entry still are).

    Raises:
        ConfigError: naming the file, the key (or the dataset file) and the fix.
    """
    remote = executor != "local"
    if not remote:
        check_device(suite)
        check_devices(suite)
    suite.task_def.check_data(suite, suite.source, deep)
    entries = list(dict.fromkeys(c.upsampler.label for c in cells)) if cells is not None else None
    report = PreflightReport(probe_size=probe_size(suite))
    worst_act, worst_params = 0, 0
    old = torch.get_num_threads()
    if suite.threads:
        torch.set_num_threads(suite.threads)
    try:
        for entry in suite.upsamplers:
            if entries is not None and entry.label not in entries:
                continue
            probed = probe_entry(suite, entry, report.probe_size)
            if isinstance(probed, str):
                report.unhostable[entry.label] = probed
                continue
            report.probed.append(entry.label)
            worst_act, worst_params = max(worst_act, probed[0]), max(worst_params, probed[1])
    finally:
        torch.set_num_threads(old)
    report.memory = estimate_memory(suite, worst_act, worst_params, report.probe_size)
    if not remote:
        check_memory(suite, report.memory)
    return report


__all__ = ["PreflightReport", "available_devices", "check_checkpoints", "check_device",
           "check_devices", "estimate_memory", "machine_memory_bytes",
           "preflight", "probe_entry", "probe_size"]
