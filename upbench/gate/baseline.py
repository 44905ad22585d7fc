"""Stored baselines: ``results/baselines/<suite>.json``.

A baseline holds, per cell label (upsampler and its hyper-parameters) of one suite:

* ``flops`` and ``params`` (total and upsampler-only), gated exactly;
* the accuracy ``metrics`` of the reference seed, gated with a tolerance per metric stated in the
  file's ``tolerances`` (each with the seed-to-seed spread it was derived from);
* ``speed``: the latency ratio against the reference upsampler, measured interleaved in the same
  run, with its per-repeat ratio samples for the significance test;
* ``machine``: the kind of machine the speed was measured on (CPU model, ISA summary, cores,
  threads per cell, GPU; :func:`upbench.measure.machine.machine`): speed is only judged against
  results from the same kind (:func:`baseline_machine`);
* ``environment``: what the baseline ran on (torch version and CUDA build, CPU model, threads,
  compiler, whether the native ops ran, device). On CPU with the same torch, threads, config and
  seed training is deterministic, so a result from the same environment is gated with each
  metric's tight ``rerun_tolerance``; from another environment (or against an old baseline that
  does not record one) with the seed-spread tolerance.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from upbench.tasks import Metric

BASELINE_SCHEMA = "upbench.baseline/1"

#: the speed rule of a new baseline: a regression is a latency ratio more than ``factor`` times
#: the baseline's, significant at ``alpha`` (see :func:`upbench.gate.check.speed_test`); at the
#: smallest allowed ``profile.speed_repeats`` (5 against 5) the exact test reaches p = 0.004
DEFAULT_SPEED = {"factor": 1.25, "alpha": 0.01}

# what must match for a result to count as a rerun in the baseline's environment: keys of a
# result's ``env`` (see upbench.engine.profile.environment), and the suite's ``device``
ENV_KEYS = ("torch", "cuda", "cpu", "threads", "compiler", "native_ops")


def run_environment(rec: dict[str, Any]) -> dict[str, Any]:
    """The environment of one result that decides whether its training is reproducible
    (:data:`ENV_KEYS` of its ``env`` and the suite's ``device``)."""
    env = rec.get("env") if isinstance(rec.get("env"), dict) else {}
    config = rec.get("config") if isinstance(rec.get("config"), dict) else {}
    return {k: env.get(k) for k in ENV_KEYS} | {"device": config.get("device", "cpu")}


def env_difference(base: dict[str, Any] | None, cur: dict[str, Any]) -> list[str]:
    """``["torch 2.14.1 → 2.15.0", ...]``: how ``cur`` differs from the baseline's environment
    (``["the baseline records no environment"]`` for an old baseline)."""
    if base is None:
        return ["the baseline records no environment"]
    return [f"{k} {base.get(k)!r} → {cur.get(k)!r}" for k in sorted(set(base) | set(cur))
            if base.get(k) != cur.get(k)]


def gated_metrics(task: str) -> list[Metric]:
    """The metrics of ``task`` the gate checks (:attr:`Metric.gated`)."""
    from upbench.engine.compare import task_metrics

    return [m for m in task_metrics(task) if m.gated]


class BaselineError(ValueError):
    """Unusable input: a missing, corrupt or mismatched baseline or result set (exit code 2)."""


@dataclass
class Baseline:
    """A parsed baseline file."""

    suite: str
    reference: str
    seed: int
    cells: dict[str, dict[str, Any]]
    tolerances: dict[str, dict[str, Any]]
    speed: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_SPEED))
    extra: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] | None = None
    machine: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON form written to disk."""
        env = {"environment": self.environment} if self.environment is not None else {}
        mach = {"machine": self.machine} if self.machine is not None else {}
        return {"schema": BASELINE_SCHEMA, "suite": self.suite, "reference": self.reference,
                "seed": self.seed, "speed": self.speed, "tolerances": self.tolerances,
                **env, **mach, **self.extra, "cells": self.cells}


def load_baseline(path: str | Path) -> Baseline:
    """Read and validate a baseline file.

    Raises:
        BaselineError: the file is missing, not JSON, or not an upbench baseline.
    """
    path = Path(path)
    if path.is_dir():
        raise BaselineError(f"baseline {path} is a directory, not a file; give the baseline JSON "
                            f"file, e.g. {path / 'ci.json'}")
    if not path.is_file():
        raise BaselineError(f"baseline file {path} does not exist; create it with "
                            f"`upbench check RESULTS --baseline {path} --update`")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as e:
        raise BaselineError(f"baseline file {path} is not UTF-8 text (byte {e.start})") from None
    except (OSError, json.JSONDecodeError) as e:
        raise BaselineError(f"baseline file {path} is not valid JSON: {e}") from None
    if not isinstance(data, dict) or data.get("schema") != BASELINE_SCHEMA:
        raise BaselineError(f"{path} is not an upbench baseline (expected schema "
                            f"{BASELINE_SCHEMA!r}, got {data.get('schema') if isinstance(data, dict) else type(data).__name__!r})")
    for key in ("suite", "reference", "cells", "tolerances"):
        if key not in data:
            raise BaselineError(f"baseline {path} lacks the key {key!r}")
    _check_shape(path, data)
    extra = {k: v for k, v in data.items()
             if k not in {"schema", "suite", "reference", "seed", "cells", "tolerances", "speed",
                          "environment", "machine"}}
    return Baseline(suite=data["suite"], reference=data["reference"], seed=data.get("seed", 0),
                    cells=data["cells"], tolerances=data["tolerances"],
                    speed=data.get("speed", {"factor": 1.25, "alpha": 0.002}), extra=extra,
                    environment=data.get("environment"), machine=data.get("machine"))


def _check_shape(path: Path, data: dict[str, Any]) -> None:
    """The types the gate relies on, so a hand-edited baseline fails with the key named."""
    def bad(key: str, want: str) -> BaselineError:
        return BaselineError(f"baseline {path}: {key} must be {want}; fix the file or rebuild it "
                             "with --update")

    if not isinstance(data["suite"], str) or not isinstance(data["reference"], str):
        raise bad("'suite' and 'reference'", "strings")
    seed = data.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise bad("'seed'", "an integer")
    for key in ("cells", "tolerances"):
        if not isinstance(data[key], dict) or not all(isinstance(v, dict)
                                                      for v in data[key].values()):
            raise bad(repr(key), "an object of objects")
    if not isinstance(data.get("speed", {}), dict):
        raise bad("'speed'", "an object")
    for key in ("environment", "machine"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise bad(repr(key), "an object (or absent)")
    for label, cell in data["cells"].items():
        for group in ("flops", "params", "metrics", "speed"):
            if not isinstance(cell.get(group, {}), dict):
                raise bad(f"cells[{label!r}].{group}", "an object")
        for m, v in cell.get("metrics", {}).items():
            if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool)):
                raise bad(f"cells[{label!r}].metrics.{m}", "a number")
    for m, t in data["tolerances"].items():
        for key in ("abs", "rerun_abs"):
            v = t.get(key)
            if key in t and (not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0):
                raise bad(f"tolerances.{m}.{key}", "a number >= 0")


def cell_entry(rec: dict[str, Any]) -> dict[str, Any]:
    """The gated quantities of one result record."""
    flops, params = rec.get("flops") or {}, rec.get("params") or {}
    metrics = rec.get("metrics") or {}
    speed = rec.get("speed") or {}
    gated = [m.key for m in gated_metrics(rec.get("task", "segmentation"))]
    return {
        "upsampler": rec.get("upsampler"),
        "hash": rec.get("hash"),
        "status": rec.get("status"),
        "flops": {"total": flops.get("total"), "upsampler": flops.get("upsampler")},
        "params": {"total": params.get("total"), "upsampler": params.get("upsampler")},
        "metrics": {m: metrics.get(m) for m in gated if m in metrics},
        "speed": {"reference": speed.get("reference"), "ratio": speed.get("ratio"),
                  "ratio_samples": speed.get("ratio_samples", [])},
        "impl": rec.get("impl"),
    }


def seed_spread(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Pooled seed-to-seed standard deviation of each gated metric over the cells.

    For every cell label seen with ≥ 2 seeds, the sample variance over seeds is taken; the pooled
    std is the square root of their mean. Returns ``{metric: {"pooled_std", "max_std", "cells",
    "seeds"}}``.
    """
    by_label: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        if r.get("status") == "ok":
            by_label.setdefault(r["label"], []).append(r)
    out: dict[str, dict[str, Any]] = {}
    tasks = {r.get("task", "segmentation") for r in records}
    keys = list(dict.fromkeys(m.key for t in sorted(tasks) for m in gated_metrics(t)))
    for m in keys:
        variances, seeds = [], set()
        for recs in by_label.values():
            vals = [r["metrics"][m] for r in recs
                    if isinstance(r.get("metrics", {}).get(m), (int, float))
                    and math.isfinite(r["metrics"][m])]
            if len(vals) >= 2:
                variances.append(statistics.variance(vals))
                seeds |= {r["seed"] for r in recs}
        if variances:
            out[m] = {"pooled_std": math.sqrt(statistics.fmean(variances)),
                      "max_std": math.sqrt(max(variances)), "cells": len(variances),
                      "seeds": sorted(seeds)}
    return out


def build_baseline(records: list[dict[str, Any]], reference: str, seed: int | None = None,
                   k: float = 2.0, previous: Baseline | None = None) -> Baseline:
    """A baseline from result records.

    The gated values come from the records of ``seed`` (default: the lowest seed present). Where
    the records hold ≥ 2 seeds, each metric's tolerance is ``max(floor, k × pooled seed-to-seed
    std)`` in the metric's unit (``floor`` = the metric's ``tolerance_floor``), stated with the
    spread it came from; otherwise the previous baseline's tolerances are kept.

    Raises:
        BaselineError: no usable records, or records of several suites.
    """
    ok = [r for r in records if r.get("status") in ("ok", "n/a")]
    if not ok:
        raise BaselineError("no finished result records to build a baseline from")
    suites = {r["suite"] for r in ok}
    if len(suites) != 1:
        raise BaselineError(f"results mix several suites: {sorted(suites)}")
    seed = min(r["seed"] for r in ok) if seed is None else seed
    cells = {r["label"]: cell_entry(r) for r in ok if r["seed"] == seed}
    if not cells:
        raise BaselineError(f"no results for seed {seed}")
    spread = seed_spread(records)
    tolerances: dict[str, dict[str, Any]] = (
        {m: dict(t) for m, t in previous.tolerances.items()} if previous else {})
    metrics = {m.key: m for m in gated_metrics(ok[0].get("task", "segmentation"))}
    for m, s in spread.items():
        floor = metrics[m].tolerance_floor if m in metrics else 0.0
        tolerances[m] = {
            "abs": round(max(floor, k * s["pooled_std"]), 3),
            "rule": f"max({floor}, {k} × pooled seed-to-seed std)",
            "pooled_std": round(s["pooled_std"], 4), "max_std": round(s["max_std"], 4),
            "seeds": s["seeds"], "cells": s["cells"],
        }
    for m, t in tolerances.items():
        if m in metrics:
            t["rerun_abs"] = metrics[m].rerun_tolerance
            t["rerun_rule"] = "same environment, config and seed (deterministic training)"
    envs = [run_environment(r) for r in ok if r["seed"] == seed]
    environment = envs[0] if envs and all(e == envs[0] for e in envs) else None
    missing = sorted({m for c in cells.values() for m in c["metrics"] if m not in tolerances})
    if missing:
        raise BaselineError(
            f"no tolerance for {missing}: run the suite with ≥ 2 seeds (e.g. --seeds 0,1,2) so "
            "the seed-to-seed spread can be measured")
    speed = previous.speed if previous else dict(DEFAULT_SPEED)
    return Baseline(suite=suites.pop(), reference=reference, seed=seed, cells=cells,
                    tolerances=tolerances, speed=speed, environment=environment,
                    machine=baseline_machine([r for r in ok if r["seed"] == seed]))


def result_machine(rec: dict[str, Any]) -> dict[str, Any] | None:
    """The machine a result recorded (None for a result of an older upbench)."""
    mach = rec.get("machine")
    return mach if isinstance(mach, dict) else None


def result_speed_kind(rec: dict[str, Any]) -> dict[str, Any] | None:
    """The kind of machine a result's speed was measured on
    (:func:`upbench.measure.machine.speed_kind`), or None."""
    from upbench.measure.machine import speed_kind

    config = rec.get("config") if isinstance(rec.get("config"), dict) else {}
    return speed_kind(result_machine(rec), config.get("device", "cpu"))


def baseline_machine(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The machine of a baseline's records with the device — None when they record none or
    were measured on different kinds of machine (speed is then never compared)."""
    kinds = [result_speed_kind(r) for r in records if r.get("status") == "ok"]
    first_kind = kinds[0] if kinds else None
    if first_kind is None or any(k != first_kind for k in kinds):
        return None
    first = next(r for r in records if r.get("status") == "ok")
    return dict(result_machine(first) or {}) | {"device": first_kind["device"]}
