"""Stored baselines: ``results/baselines/<suite>.json``.

A baseline holds, per cell label (upsampler and its hyper-parameters) of one suite:

* ``flops`` and ``params`` (total and upsampler-only), gated exactly;
* the accuracy ``metrics`` of the reference seed, gated with a tolerance per metric stated in the
  file's ``tolerances`` (each with the seed-to-seed spread it was derived from);
* ``speed``: the latency ratio against the reference upsampler, measured interleaved in the same
  run, with its per-repeat ratio samples for the significance test.
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
    speed: dict[str, float] = field(default_factory=lambda: {"factor": 1.25, "alpha": 0.002})
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form written to disk."""
        return {"schema": BASELINE_SCHEMA, "suite": self.suite, "reference": self.reference,
                "seed": self.seed, "speed": self.speed, "tolerances": self.tolerances,
                **self.extra, "cells": self.cells}


def load_baseline(path: str | Path) -> Baseline:
    """Read and validate a baseline file.

    Raises:
        BaselineError: the file is missing, not JSON, or not an upbench baseline.
    """
    path = Path(path)
    if not path.is_file():
        raise BaselineError(f"baseline file {path} does not exist; create it with "
                            f"`upbench check RESULTS --baseline {path} --update`")
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise BaselineError(f"baseline file {path} is not valid JSON: {e}") from None
    if not isinstance(data, dict) or data.get("schema") != BASELINE_SCHEMA:
        raise BaselineError(f"{path} is not an upbench baseline (expected schema "
                            f"{BASELINE_SCHEMA!r}, got {data.get('schema') if isinstance(data, dict) else type(data).__name__!r})")
    for key in ("suite", "reference", "cells", "tolerances"):
        if key not in data:
            raise BaselineError(f"baseline {path} lacks the key {key!r}")
    extra = {k: v for k, v in data.items()
             if k not in {"schema", "suite", "reference", "seed", "cells", "tolerances", "speed"}}
    return Baseline(suite=data["suite"], reference=data["reference"], seed=int(data.get("seed", 0)),
                    cells=data["cells"], tolerances=data["tolerances"],
                    speed=data.get("speed", {"factor": 1.25, "alpha": 0.002}), extra=extra)


def cell_entry(rec: dict[str, Any]) -> dict[str, Any]:
    """The gated quantities of one result record."""
    flops, params = rec.get("flops") or {}, rec.get("params") or {}
    metrics = rec.get("metrics") or {}
    speed = rec.get("speed") or {}
    gated = [m.key for m in gated_metrics(rec.get("task", "segmentation"))]
    return {
        "upsampler": rec.get("upsampler"),
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
    tolerances: dict[str, dict[str, Any]] = dict(previous.tolerances) if previous else {}
    floors = {m.key: m.tolerance_floor for m in gated_metrics(ok[0].get("task", "segmentation"))}
    for m, s in spread.items():
        floor = floors.get(m, 0.0)
        tolerances[m] = {
            "abs": round(max(floor, k * s["pooled_std"]), 3),
            "rule": f"max({floor}, {k} × pooled seed-to-seed std)",
            "pooled_std": round(s["pooled_std"], 4), "max_std": round(s["max_std"], 4),
            "seeds": s["seeds"], "cells": s["cells"],
        }
    missing = sorted({m for c in cells.values() for m in c["metrics"] if m not in tolerances})
    if missing:
        raise BaselineError(
            f"no tolerance for {missing}: run the suite with ≥ 2 seeds (e.g. --seeds 0,1,2) so "
            "the seed-to-seed spread can be measured")
    speed = previous.speed if previous else {"factor": 1.25, "alpha": 0.002}
    return Baseline(suite=suites.pop(), reference=reference, seed=seed, cells=cells,
                    tolerances=tolerances, speed=speed)
