"""The noise floor: how far apart two seeds of the same cell typically land.

For a metric, the seed-to-seed standard deviation σ is pooled over the cells (upsamplers) of one
suite that have several seeds: σ² = Σ_cells Σ_seeds (v − mean_cell)² / Σ_cells (n_cell − 1).
The **floor** is the half-width of the range that 95 % of the differences between two seeds of one
cell fall in, 1.96·√2·σ (normal approximation). A Δ against the reference averaged over n paired
seeds is *inside the floor* when |Δ| < floor / √n: it could be a seed's luck and implies no
ranking.

Where the spread comes from, per suite:

* the results themselves, when some cell has two or more seeds (``source: "seeds"``);
* otherwise the stored spread shipped with the package (``upbench/noise_floors/<suite>.json``,
  measured once over ≥ 5 seeds by ``upbench noise SUITE --seeds 0-4``), applied only when the
  results were trained with the configuration it was measured on (same fingerprint);
* otherwise none: the table says the floor is unknown and marks nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = "upbench.noise/1"
NOISE_DIR = Path(__file__).resolve().parent.parent / "noise_floors"
Z95 = 1.959963984540054
MIN_STORED_SEEDS = 5
# the parts of a cell config that decide how its training lands (not the upsampler, the seed,
# the profiling or where it runs)
FINGERPRINT_KEYS = ("task", "baseline", "input_size", "dataset", "model", "train", "metrics")


def floor_of(sigma: float) -> float:
    """The 95 % half-width of the difference of two seeds of one cell: 1.96·√2·σ."""
    return Z95 * math.sqrt(2.0) * sigma


def config_fingerprint(config: dict[str, Any]) -> str:
    """A short hash of the training-relevant part of a cell config (:data:`FINGERPRINT_KEYS`)."""
    part = {k: config.get(k) for k in FINGERPRINT_KEYS}
    text = json.dumps(part, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Spread:
    """The pooled seed-to-seed spread of one metric.

    Attributes:
        sigma: pooled standard deviation of one seed's value around its cell's mean.
        df: degrees of freedom of the pooled estimate (Σ (n_cell − 1)).
        cells: cells (upsamplers) that contributed.
    """

    sigma: float
    df: int
    cells: int

    @property
    def floor(self) -> float:
        """1.96·√2·σ: see :func:`floor_of`."""
        return floor_of(self.sigma)


def pooled_spread(values_by_cell: dict[str, list[float]]) -> Spread | None:
    """Pool the within-cell variance over cells with two or more finite values (None if none)."""
    ss, df, cells = 0.0, 0, 0
    for vals in values_by_cell.values():
        vals = [v for v in vals if isinstance(v, (int, float)) and math.isfinite(v)]
        if len(vals) < 2:
            continue
        mean = sum(vals) / len(vals)
        ss += sum((v - mean) ** 2 for v in vals)
        df += len(vals) - 1
        cells += 1
    if df == 0:
        return None
    return Spread(math.sqrt(ss / df), df, cells)


def spreads_from_results(records: Iterable[dict[str, Any]], keys: Iterable[str]
                         ) -> dict[str, Spread]:
    """Per metric key, the spread pooled over the ``ok`` records' cells (label) and seeds."""
    by_cell: dict[str, dict[str, list[Any]]] = {}
    for r in records:
        if r.get("status") != "ok":
            continue
        for k in keys:
            v = (r.get("metrics") or {}).get(k)
            by_cell.setdefault(k, {}).setdefault(r["label"], []).append(v)
    out = {}
    for k, cells in by_cell.items():
        sp = pooled_spread(cells)
        if sp is not None:
            out[k] = sp
    return out


@dataclass
class NoiseFloor:
    """The spread of one suite, as measured or stored.

    Attributes:
        suite: the suite name.
        source: ``"seeds"`` (from the results' own seeds) or ``"stored"``.
        spreads: per metric key.
        seeds: the seeds it was measured over.
        upsamplers: the cells it was pooled over.
        fingerprint: :func:`config_fingerprint` of the configuration measured.
        measured: date of the measurement (stored floors).
        commit: the upbench git commit of the measurement, if known (stored floors).
        command: the command that re-measures it (stored floors).
    """

    suite: str
    source: str
    spreads: dict[str, Spread]
    seeds: list[int] = field(default_factory=list)
    upsamplers: list[str] = field(default_factory=list)
    fingerprint: str | None = None
    task: str | None = None
    measured: str | None = None
    commit: str | None = None
    command: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form (the stored file)."""
        d = asdict(self)
        d["spreads"] = {k: {"sigma": s.sigma, "df": s.df, "cells": s.cells, "floor": s.floor}
                        for k, s in self.spreads.items()}
        return {"schema": SCHEMA, **d}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NoiseFloor:
        """Inverse of :meth:`as_dict`; raises ``ValueError`` on another schema."""
        if d.get("schema") != SCHEMA:
            raise ValueError(f"not an {SCHEMA} file (schema {d.get('schema')!r})")
        spreads = {k: Spread(float(v["sigma"]), int(v["df"]), int(v["cells"]))
                   for k, v in d["spreads"].items()}
        names = ("seeds", "upsamplers", "fingerprint", "task", "measured", "commit", "command")
        keep: dict[str, Any] = {k: d.get(k) for k in names}
        keep["seeds"] = keep["seeds"] or []
        keep["upsamplers"] = keep["upsamplers"] or []
        return cls(d["suite"], d.get("source", "stored"), spreads, **keep)

    def describe(self, keys: list[str]) -> str:
        """One line for a table's notes: the floor of each of ``keys`` and where it comes from."""
        parts = [f"{k} ±{self.spreads[k].floor:.3g}" for k in keys if k in self.spreads]
        some = next(self.spreads[k] for k in keys if k in self.spreads)
        if self.source == "seeds":
            origin = (f"pooled over this table's seeds: {some.cells} upsampler(s) with several "
                      f"seeds, {some.df} degrees of freedom")
        else:
            origin = (f"stored for suite {self.suite}: {len(self.seeds)} seeds × {some.cells} "
                      f"upsampler(s), measured {self.measured or '?'}"
                      + (f" at {self.commit[:10]}" if self.commit else "")
                      + (f"; re-measure: {self.command}" if self.command else ""))
        return (f"noise floor of suite {self.suite}: " + ", ".join(parts) + " — two seeds of one "
                f"cell land within it 95 % of the time ({origin})")


def stored_path(suite: str, directory: str | Path | None = None) -> Path:
    """Where the stored floor of ``suite`` lives (``upbench/noise_floors/<suite>.json``)."""
    return Path(directory or NOISE_DIR) / f"{suite}.json"


def load_stored(suite: str, directory: str | Path | None = None) -> NoiseFloor | None:
    """The stored floor of ``suite``, or None when there is none (or it is unreadable)."""
    p = stored_path(suite, directory)
    if not p.is_file():
        return None
    try:
        return NoiseFloor.from_dict(json.loads(p.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def floor_for(suite: str, records: list[dict[str, Any]], keys: list[str],
              directory: str | Path | None = None) -> tuple[NoiseFloor | None, str | None]:
    """The noise floor that applies to one suite's ``ok`` records, and why there is none.

    From the records' own seeds when some cell has several; else the stored floor if its
    fingerprint matches every record's configuration; else None with the reason.
    """
    ok = [r for r in records if r.get("status") == "ok"]
    own = spreads_from_results(ok, keys)
    if own:
        return NoiseFloor(suite, "seeds", own, sorted({r["seed"] for r in ok}),
                          sorted({r["label"] for r in ok})), None
    stored = load_stored(suite, directory)
    cmd = f"upbench noise <suite file of {suite}> --seeds 0-4 --only <2-3 upsamplers>"
    if stored is None:
        return None, (f"noise floor unknown: one seed per cell and no stored spread for suite "
                      f"{suite!r} (measure it: {cmd}); deltas are not tested")
    prints = {config_fingerprint(r["config"]) for r in ok if isinstance(r.get("config"), dict)}
    if prints and prints != {stored.fingerprint}:
        return None, (f"noise floor unknown: the stored spread of suite {suite!r} was measured "
                      f"for another configuration (training, model or data changed; re-measure: "
                      f"{stored.command or cmd}); deltas are not tested")
    return stored, None


def git_commit() -> str | None:
    """The upbench checkout's git commit, if it is one."""
    import subprocess

    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def measure(suite: str, task: str, records: list[dict[str, Any]], keys: list[str],
            command: str) -> NoiseFloor:
    """The floor of ``suite`` from multi-seed ``records`` for storing.

    Raises:
        ValueError: fewer than :data:`MIN_STORED_SEEDS` seeds, mixed configurations, or no
            cell with several seeds.
    """
    ok = [r for r in records if r.get("status") == "ok"]
    seeds = sorted({r["seed"] for r in ok})
    if len(seeds) < MIN_STORED_SEEDS:
        raise ValueError(f"a stored noise floor needs ≥ {MIN_STORED_SEEDS} seeds with ok cells; "
                         f"got {len(seeds)} ({seeds})")
    prints = {config_fingerprint(r["config"]) for r in ok}
    if len(prints) != 1:
        raise ValueError(f"the results of suite {suite!r} come from {len(prints)} different "
                         "configurations (training, model or data); measure one at a time")
    spreads = spreads_from_results(ok, keys)
    if not spreads:
        raise ValueError("no cell has two or more ok seeds")
    return NoiseFloor(suite, "stored", spreads, seeds, sorted({r["label"] for r in ok}),
                      prints.pop(), task, dt.date.today().isoformat(), git_commit(), command)


def write_stored(floor: NoiseFloor, path: str | Path) -> Path:
    """Write ``floor`` as JSON (atomically) to ``path``."""
    from upbench.engine.results import write_atomic

    return write_atomic(path, floor.as_dict())
