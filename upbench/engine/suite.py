"""Suites: YAML → validated dataclasses → cells (upsampler × seed), each with a config hash.

A suite file (read by :func:`upbench.utils.yamlload.load_yaml_file`: UTF-8, at most 1 MiB, no
alias bombs, no duplicate keys) looks like::

    name: quick
    task: segmentation          # a key of upbench.tasks.TASKS (picks the dataset/model/metrics
    baseline: seg               #   sections and the default baseline)
    input_size: [64, 64]
    dataset: {kind: synthetic, num_classes: 8, train_size: 384, val_size: 96}
    model: {widths: [16, 32, 64, 128], decoder_channels: 32}
    train: {iterations: 200, batch_size: 8, optimizer: adamw, lr: 0.002, schedule: poly}
    upsamplers: all             # or a list: [bilinear, {carafe: {up_kernel: 3}}, ...]
                                # ({name: {placement: final}} puts a feature upsampler on the
                                # final ×4 of the class scores)
    seeds: [0]
    profile: {latency_repeats: 10}
    metrics: {trimap_widths: [2, 4]}

Every key is checked (types, and the bounds declared with :func:`upbench.utils.schema.bound`);
errors name the file, the dotted key and the closest valid value.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from upbench.data.augment import AugmentConfig
from upbench.engine.executors.base import ExecutorConfig
from upbench.tasks import TASKS, Task, get_task
from upbench.utils.numbers import SEED_MAX
from upbench.utils.schema import ConfigError, bound, build, coerce, to_dict
from upbench.utils.suggest import closest
from upbench.utils.yamlload import load_yaml, load_yaml_file

# a suite name is one path segment of results/<name>/ (no separators, no '..', not empty)
SAFE_NAME = r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}"


@dataclass
class TrainConfig:
    """The training schedule and the recipe around it (docs/recipes.md).

    The schedule keys ``power``, ``min_lr_ratio``, ``warmup_ratio``, ``milestones`` / ``gamma``
    (``schedule: step``) and ``lr_mult`` (``{name part: multiplier}``) and the recipe keys below
    them are left out of a cell's config (and hash) while they hold
    their defaults, so suites that do not set them keep their cells: ``precision`` (autocast
    dtype), ``channels_last``, ``workers`` (DataLoader processes; 0 loads in the training
    process), ``checkpoint_every`` / ``keep_checkpoints`` (checkpoints beside the result; null:
    none), ``devices`` (DistributedDataParallel processes for the cell), ``sync_bn`` and
    ``augment`` (:class:`~upbench.data.augment.AugmentConfig`).
    """

    iterations: int = bound(200, ge=1)
    batch_size: int = bound(8, ge=1)
    optimizer: Literal["adamw", "adam", "sgd"] = "adamw"
    lr: float = bound(2e-3, gt=0)
    weight_decay: float = bound(1e-4, ge=0)
    momentum: float = bound(0.9, ge=0, lt=1)
    schedule: Literal["poly", "cosine", "step", "constant"] = "poly"
    warmup_iters: int = bound(0, ge=0)
    grad_clip: float | None = bound(None, gt=0, why="the maximum gradient norm; null for none")
    eval_batch_size: int = bound(16, ge=1)
    flip: bool = True
    power: float = bound(0.9, gt=0, omit_default=True, why="the poly schedule's exponent")
    min_lr_ratio: float = bound(0.0, ge=0, le=1, omit_default=True,
                                why="the lr poly/cosine end at, as a fraction of lr")
    warmup_ratio: float | None = bound(None, ge=0, le=1, omit_default=True,
                                       why="the warm-up's first lr as a fraction of lr; null: "
                                       "1/warmup_iters")
    milestones: list[int] = bound(default_factory=list, ge=1, unique=True, omit_default=True,
                                  why="iterations where schedule: step multiplies lr by gamma")
    gamma: float = bound(0.1, gt=0, omit_default=True)
    lr_mult: dict[str, float] = bound(default_factory=dict, omit_default=True)
    precision: Literal["fp32", "bf16", "fp16"] = bound("fp32", omit_default=True)
    channels_last: bool = bound(False, omit_default=True)
    workers: int = bound(0, ge=0, omit_default=True,
                         why="DataLoader worker processes; 0 loads in the training process")
    checkpoint_every: int | None = bound(None, ge=1, omit_default=True,
                                         why="iterations between checkpoints; null for none")
    keep_checkpoints: int = bound(1, ge=1, omit_default=True,
                                  why="how many of the newest checkpoints stay on disk")
    devices: int = bound(1, ge=1, omit_default=True,
                         why="processes (one per device) training the cell together")
    sync_bn: bool = bound(False, omit_default=True)
    augment: AugmentConfig = bound(default_factory=AugmentConfig, omit_default=True)

    def validate(self, file: str, prefix: str) -> None:
        def k(name: str) -> str:
            return f"{prefix}.{name}" if prefix else name

        if self.schedule == "step" and not self.milestones:
            raise ConfigError(file, k("milestones"), "schedule: step needs milestones (the "
                              "iterations where lr is multiplied by gamma)")
        if self.milestones and self.schedule != "step":
            raise ConfigError(file, k("milestones"), f"milestones only apply to schedule: step "
                              f"(the schedule is {self.schedule!r})")
        if self.milestones != sorted(self.milestones):
            raise ConfigError(file, k("milestones"), "must be in increasing order")
        for name, v in self.lr_mult.items():
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v <= 0:
                raise ConfigError(file, k(f"lr_mult.{name}"), f"must be a positive number, got "
                                  f"{v!r}")
        key = k("devices")
        if self.batch_size % self.devices:
            raise ConfigError(file, key, f"train.batch_size ({self.batch_size}) must be a "
                              f"multiple of devices ({self.devices}): each process takes an "
                              "equal share of the global batch")
        if self.sync_bn and self.devices == 1:
            raise ConfigError(file, f"{prefix}.sync_bn" if prefix else "sync_bn",
                              "sync_bn synchronises batch norm across devices; it needs "
                              "devices > 1")


@dataclass
class ProfileConfig:
    """What to profile in every cell, at batch 1.

    FLOPs and latency are measured at ``flops_size`` / ``latency_size``, by default the task's
    evaluation size (``Task.eval_size``: 512×512 for segmentation, as the papers report),
    independent of the training ``input_size``. Latency is timed interleaved with the same
    baseline hosting the reference upsampler (``speed_reference``, default the task's), so every
    result carries the latency ratio against it: ``latency_repeats`` repeats, or
    ``speed_repeats`` when ``speed_reference`` is set explicitly (the CI gate's Mann–Whitney U
    test of the ratio wants ≥ 5 of them: 5 against 5 reach p = 0.004 < the default alpha 0.01).
    ``flops_convention`` is how FLOPs are counted (``fvcore``, ``mmcv`` or ``sapa``,
    docs/counting.md); every result records it.
    """

    flops: bool = True
    flops_size: list[int] | None = bound(None, ge=1)
    flops_convention: Literal["fvcore", "mmcv", "sapa"] = bound("fvcore", omit_default=True)
    latency: bool = True
    latency_size: list[int] | None = bound(None, ge=1)
    latency_warmup: int = bound(3, ge=0)
    latency_repeats: int = bound(10, ge=1)
    memory: bool = True
    speed_reference: str | None = None
    speed_repeats: int = bound(15, ge=5, why="the gate's significance test needs 5 to reach p < 0.01")

    def validate(self, file: str, prefix: str) -> None:
        for k in ("flops_size", "latency_size"):
            v = getattr(self, k)
            if v is not None and len(v) != 2:
                raise ConfigError(file, f"{prefix}.{k}", f"must be [H, W], got {v!r}")
        if self.speed_reference is not None:
            from upbench.upsamplers import list_upsamplers
            from upbench.utils.suggest import closest

            if self.speed_reference not in list_upsamplers():
                raise ConfigError(file, f"{prefix}.speed_reference",
                                  f"unknown upsampler {self.speed_reference!r}",
                                  closest(self.speed_reference, list_upsamplers()))


@dataclass
class UpsamplerEntry:
    """One upsampler of a suite: registry name, hyper-parameters and the label results use."""

    name: str
    hparams: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    placement: str | None = None
    #: the upsampler class's own host settings (``Upsampler.host_settings``), passed through to
    #: the task's ``build_model`` unread
    host: dict[str, Any] = field(default_factory=dict)

    def cell_entry(self) -> dict[str, Any]:
        """The upsampler part of a cell's config, with the host settings the upsampler class
        records (``Upsampler.cell_host``)."""
        from upbench.upsamplers import get_upsampler_class

        out: dict[str, Any] = {"name": self.name, "hparams": self.hparams, "label": self.label,
                               "placement": self.placement}
        return out | get_upsampler_class(self.name).cell_host(self.host)


@dataclass
class Suite:
    """A validated suite.

    ``task`` picks the task (:data:`upbench.tasks.TASKS`) and with it the dataclasses of the
    ``dataset``, ``model`` and ``metrics`` sections and the default ``baseline``. ``upsamplers``
    is ``"all"`` (every registered one) or a list; ``exclude`` removes names from ``all``;
    ``threads`` sets torch's thread count for the whole cell (training, evaluation and profiling;
    null = torch's default). ``denormals``: ``keep`` (PyTorch's default) or ``flush`` denormal
    floats to zero on every CPU thread of the cell (:mod:`upbench.engine.numerics`; much faster
    where training drifts into them; recorded as ``env.denormals``). ``executor`` says where the cells run (:class:`ExecutorConfig`;
    not part of any cell's hash). ``expected_minutes`` (informational, not in any cell's hash)
    is the whole suite's wall time on a 2-core CPU, as measured when the suite was written.
    """

    name: str = bound(pattern=SAFE_NAME, why="the name is the results directory results/<name>: "
                      "letters, digits and _ . + - only, starting with a letter or digit")
    task: str = "segmentation"
    baseline: str | None = None
    description: str = ""
    expected_minutes: float | None = bound(None, gt=0, why="the suite's wall time on a 2-core "
                                           "CPU, shown by `upbench suite list`; null if unknown")
    input_size: list[int] = bound(default_factory=lambda: [64, 64], ge=1)
    dataset: Any = None
    model: Any = None
    train: TrainConfig = field(default_factory=TrainConfig)
    upsamplers: Any = "all"
    exclude: list[str] = field(default_factory=list)
    seeds: list[int] = bound(default_factory=lambda: [0], min_len=1, unique=True, ge=0,
                             le=SEED_MAX, why="each seed is one training run per upsampler; "
                             "0..2**63 - 1")
    profile: ProfileConfig = field(default_factory=ProfileConfig)
    metrics: Any = None
    device: Literal["cpu", "cuda"] = "cpu"
    impl: Literal["auto", "native", "reference"] = "auto"
    threads: int | None = bound(None, ge=1, why="or null for torch's default")
    denormals: Literal["keep", "flush"] = bound("keep", omit_default=True)
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    source: str = field(default="", repr=False)

    @property
    def task_def(self) -> Task:
        """The :class:`~upbench.tasks.base.Task` of this suite."""
        return get_task(self.task)

    def validate(self, file: str, prefix: str) -> None:
        task = self.task_def
        names = task.baseline_names
        if self.baseline is None:
            self.baseline = names[0]
        elif self.baseline not in names:
            raise ConfigError(file, "baseline", f"task {self.task!r} has the baseline(s) "
                              f"{', '.join(names)}, got {self.baseline!r}",
                              closest(self.baseline, names))
        m = task.input_multiple
        for key, size in (("input_size", self.input_size),
                          ("profile.flops_size", self.profile.flops_size),
                          ("profile.latency_size", self.profile.latency_size)):
            if size is not None and (len(size) != 2 or min(size) < m or any(v % m for v in size)):
                raise ConfigError(file, key, f"must be [H, W] with multiples of {m} (the "
                                  f"baseline's output stride), got {size!r}")
        self.upsamplers = parse_upsamplers(self.upsamplers, self.exclude, file)
        if not self.upsamplers:
            raise ConfigError(file, "upsamplers", "lists no upsampler (every one excluded, or an "
                              "empty list); name at least one, or 'all'")
        self.source = file
        if self.train.augment.active and task.augmentation(self) is None:
            raise ConfigError(file, "train.augment", f"task {self.task!r} has no training "
                              "augmentations (only train.flip); remove train.augment")
        task.validate(self, file)


# top-level keys that do not define a cell's result (left out of its config and hash)
NOT_IN_CELL = ("upsamplers", "seeds", "exclude", "description", "expected_minutes", "source",
               "executor")


def build_suite(raw: dict[str, Any], file: str = "") -> Suite:
    """Validate a raw suite mapping into a :class:`Suite` (the task's sections included)."""
    name = raw.get("task", "segmentation")
    if not isinstance(name, str) or name not in TASKS:
        raise ConfigError(file, "task", f"unknown task {name!r} (known: {', '.join(TASKS)})",
                          closest(str(name), TASKS))
    task = TASKS[name]
    types = {"dataset": task.dataset_config, "model": task.model_config,
             "metrics": task.metrics_config}
    return build(Suite, raw, file, field_types=types)


def _label(name: str, hparams: dict[str, Any]) -> str:
    if not hparams:
        return name
    inner = ",".join(f"{k}={hparams[k]}" for k in sorted(hparams))
    return f"{name}({inner})"


def parse_upsamplers(value: Any, exclude: list[str], file: str) -> list[UpsamplerEntry]:
    """``all`` | list of ``name`` / ``{name: {hparam: value}}`` → checked entries.

    Besides the upsampler's own hyper-parameters an entry may give the host setting
    ``placement`` (``decoder`` | ``final``) and those its class declares
    (``Upsampler.host_settings``, e.g. a label-space decoder's ``decode_stride``).
    """
    from upbench.upsamplers import get_upsampler_class, list_upsamplers, upsampler_hparams

    known = list_upsamplers()
    for i, name in enumerate(exclude):
        if name not in known:
            raise ConfigError(file, f"exclude[{i}]", f"unknown upsampler {name!r}",
                              closest(name, known))
    if value == "all" or value is None:
        items: list[Any] = [n for n in known if n not in exclude]
    elif isinstance(value, list):
        items = value
    else:
        raise ConfigError(file, "upsamplers", f"expected 'all' or a list, got {value!r}")
    out: list[UpsamplerEntry] = []
    for i, item in enumerate(items):
        key = f"upsamplers[{i}]"
        if item == "all":
            out.extend(UpsamplerEntry(n, {}, n) for n in known if n not in exclude)
            continue
        if isinstance(item, str):
            name, hp = item, dict[str, Any]()
        elif isinstance(item, dict) and len(item) == 1:
            name, hp = next(iter(item.items()))
            hp = hp or {}
            if not isinstance(hp, dict):
                raise ConfigError(file, f"{key}.{name}", f"hyper-parameters must be a mapping, "
                                  f"got {hp!r}")
        else:
            raise ConfigError(file, key, "expected a name or {name: {hyper-parameters}}, got "
                              f"{item!r}")
        if name not in known:
            raise ConfigError(file, key, f"unknown upsampler {name!r}", closest(str(name), known))
        accepted = set(upsampler_hparams(name)) - {"impl", "num_classes"}
        hp = dict(hp)
        check_hparam_types(name, hp, file, f"{key}.{name}")
        label = _label(name, hp)
        placement = hp.pop("placement", None)
        if placement not in (None, "decoder", "final"):
            raise ConfigError(file, f"{key}.{name}.placement", "must be 'decoder' (the top-down "
                              f"slots) or 'final' (the prediction upsampling), got {placement!r}",
                              closest(str(placement), ["decoder", "final"]))
        cls = get_upsampler_class(name)
        settings = cls.host_settings()
        host = {k: hp.pop(k) for k in list(hp) if k in settings}
        for k, v in host.items():
            problem = cls.check_host_setting(k, v)
            if problem:
                raise ConfigError(file, f"{key}.{name}.{k}", problem)
        for k in hp:
            if k not in accepted:
                hosting = ", ".join(["placement: decoder|final"]
                                    + [f"{s}: {v}" for s, v in settings.items()])
                raise ConfigError(file, f"{key}.{name}.{k}", f"unknown hyper-parameter of "
                                  f"{name!r} (accepts: {', '.join(sorted(accepted)) or 'none'}; "
                                  f"and {hosting})",
                                  closest(str(k), accepted | {"placement", *settings}))
        out.append(UpsamplerEntry(name, hp, label, placement, host))
    labels = [e.label for e in out]
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        raise ConfigError(file, "upsamplers", f"listed twice: {', '.join(dup)}")
    return out


def check_hparam_types(name: str, hparams: dict[str, Any], file: str, key: str) -> None:
    """Check an entry's hyper-parameters against the type annotations of the upsampler's
    ``__init__`` (``up_kernel: int`` refuses ``"5"`` or ``5.5``, naming ``<key>.up_kernel``);
    host settings and unannotated parameters pass through."""
    import inspect

    from upbench.upsamplers import get_upsampler_class

    init = get_upsampler_class(name).__init__
    try:
        hints = typing.get_type_hints(init)
    except Exception:  # noqa: BLE001 - an annotation we cannot resolve is not checked
        hints = {}
    params = inspect.signature(init).parameters
    for k, v in hparams.items():
        tp = hints.get(k)
        if k not in params or tp is None:
            continue
        try:
            coerce(v, tp, file, f"{key}.{k}")
        except TypeError:  # an annotation the schema does not model
            continue


# ---------------------------------------------------------------------------------------------
# Loading, overrides


def parse_value(text: str) -> Any:
    """A ``--set`` value: YAML scalar/list syntax (with the suite file's limits), with ``1e-3``
    read as a number; text that is not YAML stays text."""
    try:
        v = load_yaml(text, "--set")
    except ConfigError as e:
        if e.problem.startswith("invalid YAML"):
            return text
        raise
    if isinstance(v, str):
        try:
            return float(v) if re.fullmatch(r"[-+]?[\d.]+(e[-+]?\d+)?", v, re.IGNORECASE) else v
        except ValueError:
            return v
    return v


def apply_overrides(raw: dict[str, Any], sets: list[str] | tuple[str, ...], file: str = "") -> dict:
    """Apply ``key.sub=value`` overrides to the raw suite mapping (a copy)."""
    raw = copy.deepcopy(raw)
    for item in sets:
        if "=" not in item:
            raise ConfigError(file, item, "--set expects key=value (dotted keys, e.g. "
                              "train.lr=0.01)")
        key, text = item.split("=", 1)
        parts = [p for p in key.strip().split(".") if p]
        if not parts:
            raise ConfigError(file, key, "--set: empty key")
        node = raw
        for i, p in enumerate(parts[:-1]):
            nxt = node.get(p)
            if nxt is None:
                nxt = node[p] = {}
            if not isinstance(nxt, dict):
                raise ConfigError(file, ".".join(parts[: i + 1]), f"--set {key}: not a mapping")
            node = nxt
        node[parts[-1]] = parse_value(text)
    return raw


def load_suite(path: str | Path, overrides: list[str] | tuple[str, ...] = (),
               seeds: list[int] | None = None) -> Suite:
    """Read, override and validate a suite file; raises :class:`ConfigError`."""
    path = Path(path)
    file = str(path)
    if not path.is_file():
        parent = path.parent if path.parent.is_dir() else Path(".")
        best = closest(path.name, [p.name for p in parent.glob("*.y*ml")])
        raise ConfigError(file, "", "suite file not found", str(parent / best) if best else None)
    raw = load_yaml_file(path)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(file, "", f"a suite must be a mapping, got {type(raw).__name__}")
    raw = apply_overrides(raw, overrides, file)
    if seeds is not None:
        raw["seeds"] = list(seeds)
    return build_suite(raw, file)


# ---------------------------------------------------------------------------------------------
# Cells


@dataclass
class Cell:
    """One unit of work: an upsampler × seed of a suite, with its full resolved config.

    A cell is picklable and self-contained: :meth:`suite_config` rebuilds the suite settings
    from ``config`` alone, so a worker process (or a Ray task) can run it.
    """

    suite: str
    upsampler: UpsamplerEntry
    seed: int
    config: dict[str, Any]
    hash: str
    #: the results directory the cell's checkpoints and training log go to (set by the driver;
    #: not part of the config: None writes neither)
    workdir: str | None = field(default=None, compare=False)

    def suite_config(self) -> Suite:
        """The suite (its settings, with this cell's upsampler as the only entry) rebuilt and
        revalidated from ``config``."""
        raw = {k: v for k, v in self.config.items() if k not in ("upsampler", "seed")}
        e = self.upsampler
        host = ({"placement": e.placement} if e.placement is not None else {}) | e.host
        raw["upsamplers"] = [{e.name: dict(e.hparams) | host}]
        raw["seeds"] = [self.seed]
        return build_suite(raw, "")

    @property
    def label(self) -> str:
        return self.upsampler.label

    @property
    def stem(self) -> str:
        """``<label>__seed<s>__<hash>``: the result's file name without ``.json``."""
        return self.filename[: -len(".json")]

    @property
    def filename(self) -> str:
        safe = re.sub(r"[^A-Za-z0-9_.=-]+", "_", self.label).strip("_")
        return f"{safe}__seed{self.seed}__{self.hash}.json"


def config_hash(config: dict[str, Any]) -> str:
    """A short, stable hash of a JSON-able config."""
    blob = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def expand(suite: Suite, only: list[str] | tuple[str, ...] = ()) -> list[Cell]:
    """The suite's cells, in order (upsamplers outer, seeds inner); ``only`` filters by name or
    label (an unknown one raises with the closest)."""
    entries = list(suite.upsamplers)
    if only:
        names = {e.name for e in entries} | {e.label for e in entries}
        for o in only:
            if o not in names:
                raise ConfigError(suite.source, "--only", f"{o!r} is not in this suite",
                                  closest(o, sorted(names)))
        entries = [e for e in entries if e.name in only or e.label in only]
    base = to_dict(suite)
    for k in NOT_IN_CELL:
        base.pop(k, None)
    cells = []
    for e in entries:
        for seed in suite.seeds:
            cfg = copy.deepcopy(base)
            cfg["upsampler"] = e.cell_entry()
            cfg["seed"] = seed
            cells.append(Cell(suite.name, e, seed, cfg, config_hash(cfg)))
    return cells
