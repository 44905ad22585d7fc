"""Published numbers as data: the rows of the papers' tables upbench's baselines reproduce.

Each ``<paper>.yaml`` in this package holds one or more tables (SAPA Tables 2–5, LaU Table 1,
NRD Table 1) transcribed from the papers: per row the method, the upbench upsampler it maps to
(None: upbench has none) and the printed values — metrics under upbench's metric keys, and
``GFLOPs`` / ``params_M`` for absolute numbers or ``dGFLOPs`` / ``dparams_M`` for the deltas over
the table's reference row, exactly as the paper prints them. Each table says its task, the upbench
baseline that builds its network (None: not built), the input size FLOPs are counted at, the FLOP
convention and how parameters are counted.

``upbench papers`` lists them; ``upbench compare RESULTS --published ID`` sets upbench's numbers
beside one (:mod:`upbench.papers.compare`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

FILES = ("sapa.yaml", "lau.yaml", "nrd.yaml")
DELTA_KEYS = {"dGFLOPs": "GFLOPs", "dparams_M": "params_M"}
"""Delta columns and the absolute column they are a delta of."""


@dataclass(frozen=True)
class PublishedRow:
    """One printed row: ``method`` as the paper names it, the upbench ``upsampler`` it maps to
    (None: none), and ``values`` {column: number} as printed."""

    method: str
    upsampler: str | None
    values: dict[str, float]


@dataclass(frozen=True)
class PublishedTable:
    """One paper table (or one network's column group of it).

    Attributes:
        id: e.g. ``sapa-t2-segformer-b1``.
        paper: the paper, short.
        table: the table as the paper numbers it.
        task: upbench's task.
        baseline: the upbench baseline that builds this network (None: not built).
        network, dataset: as printed or documented.
        input_size: (H, W) of the FLOP count (None: not stated).
        flops_convention: ``mmcv`` / ``fvcore`` (None: not stated or no FLOPs printed).
        accounting: how the paper counted FLOPs and parameters.
        notes: what is not printed, mappings, known differences.
        reference: the upbench upsampler of the reference row (the deltas are against it).
        digits: printed decimals per column.
        rows: the rows, the reference first.
        params_counted: ``all`` parameters or only ``trainable`` ones (mmdetection's count).
        num_classes: the classes the network was counted with (None: no classes, e.g. depth).
    """

    id: str
    paper: str
    table: str
    task: str
    baseline: str | None
    network: str
    dataset: str
    input_size: tuple[int, int] | None
    flops_convention: str | None
    accounting: str
    notes: str
    reference: str
    digits: dict[str, int]
    rows: tuple[PublishedRow, ...] = field(default_factory=tuple)

    params_counted: str = "all"
    num_classes: int | None = None

    @property
    def columns(self) -> list[str]:
        """Every value column, in first-seen order, each delta column right after its absolute
        one (``params_M``, ``dparams_M``)."""
        cols: list[str] = []
        for r in self.rows:
            cols += [k for k in r.values if k not in cols]
        for delta, absolute in DELTA_KEYS.items():
            if delta in cols and absolute in cols:
                cols.remove(delta)
                cols.insert(cols.index(absolute) + 1, delta)
        return cols

    def as_dict(self) -> dict[str, Any]:
        """JSON-able."""
        return {"id": self.id, "paper": self.paper, "table": self.table, "task": self.task,
                "baseline": self.baseline, "network": self.network, "dataset": self.dataset,
                "input_size": list(self.input_size) if self.input_size else None,
                "flops_convention": self.flops_convention, "accounting": self.accounting,
                "notes": self.notes, "reference": self.reference, "digits": self.digits,
                "params_counted": self.params_counted, "num_classes": self.num_classes,
                "rows": [{"method": r.method, "upsampler": r.upsampler, "values": r.values}
                         for r in self.rows]}


class PublishedDataError(ValueError):
    """A stored table is malformed (a bug in the package data)."""


def _table(raw: dict[str, Any], paper: str, file: str) -> PublishedTable:
    where = f"{file}: table {raw.get('id')!r}"
    need = ("id", "table", "task", "baseline", "network", "dataset", "input_size",
            "flops_convention", "accounting", "reference", "digits", "rows")
    missing = [k for k in need if k not in raw]
    if missing:
        raise PublishedDataError(f"{where}: missing {', '.join(missing)}")
    rows = []
    for i, r in enumerate(raw["rows"]):
        vals = r.get("values") or {}
        if not vals or not all(isinstance(v, (int, float)) for v in vals.values()):
            raise PublishedDataError(f"{where}: rows[{i}] needs numeric values, got {vals!r}")
        unknown = set(vals) - set(raw["digits"])
        if unknown:
            raise PublishedDataError(f"{where}: rows[{i}] has no digits for {sorted(unknown)}")
        rows.append(PublishedRow(str(r["method"]), r.get("upsampler"),
                                 {k: float(v) for k, v in vals.items()}))
    if not rows or rows[0].upsampler != raw["reference"]:
        raise PublishedDataError(f"{where}: the first row must be the reference "
                                 f"{raw['reference']!r}")
    if raw.get("params_counted", "all") not in ("all", "trainable"):
        raise PublishedDataError(f"{where}: params_counted must be all or trainable")
    size = raw["input_size"]
    return PublishedTable(
        id=raw["id"], paper=paper, table=raw["table"], task=raw["task"],
        baseline=raw["baseline"], network=raw["network"], dataset=raw["dataset"],
        input_size=tuple(size) if size else None, flops_convention=raw["flops_convention"],
        accounting=" ".join(str(raw["accounting"]).split()),
        notes=" ".join(str(raw.get("notes") or "").split()), reference=raw["reference"],
        digits=dict(raw["digits"]), rows=tuple(rows),
        params_counted=raw.get("params_counted", "all"), num_classes=raw.get("num_classes"))


@functools.lru_cache(maxsize=1)
def published_tables() -> dict[str, PublishedTable]:
    """Every stored table by id, in file order.

    Raises:
        PublishedDataError: a malformed file or a repeated id.
    """
    from upbench.utils.yamlload import load_yaml

    out: dict[str, PublishedTable] = {}
    for name in FILES:
        text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
        raw = load_yaml(text, name)
        for t in raw["tables"]:
            table = _table(t, raw["paper"], name)
            if table.id in out:
                raise PublishedDataError(f"{name}: table id {table.id!r} is stored twice")
            out[table.id] = table
    return out


def tables_of_baseline(baseline: str) -> list[PublishedTable]:
    """The stored tables measured on the upbench baseline ``baseline`` (may be empty)."""
    return [t for t in published_tables().values() if t.baseline == baseline]


def get_table(table_id: str) -> PublishedTable:
    """The stored table ``table_id``.

    Raises:
        KeyError: no such table (the message names the closest id and all of them).
    """
    tables = published_tables()
    if table_id not in tables:
        from upbench.utils.suggest import unknown_name_message

        raise KeyError(unknown_name_message("published table", table_id, list(tables)))
    return tables[table_id]


__all__ = ["DELTA_KEYS", "PublishedDataError", "PublishedRow", "PublishedTable", "get_table",
           "published_tables", "tables_of_baseline"]
