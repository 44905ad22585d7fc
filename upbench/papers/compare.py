"""upbench's results beside a published table (``upbench compare RESULTS --published ID``).

The results are aggregated as ``upbench compare`` does (:func:`upbench.engine.compare.aggregate`,
deltas against the table's reference upsampler); each published row is matched to the upbench row
of the upsampler it maps to, and every printed column gets upbench's value, the difference
(upbench − paper) and whether upbench's value, rounded to the printed decimals, is the printed one.
"""

from __future__ import annotations

from typing import Any

from upbench.papers import PublishedTable


class PublishedCompareError(ValueError):
    """The results cannot be set beside the table (e.g. none of its task or baseline)."""


def _select(results: list[dict[str, Any]], table: PublishedTable) -> list[dict[str, Any]]:
    same_task = [r for r in results if r.get("task") == table.task]
    if not same_task:
        found = sorted({str(r.get("task")) for r in results})
        raise PublishedCompareError(f"{table.id} is a {table.task} table; the results are of "
                                    f"task(s) {', '.join(found)}")
    if table.baseline is None:
        return same_task
    same = [r for r in same_task if r.get("baseline") == table.baseline]
    if not same:
        found = sorted({str(r.get("baseline")) for r in same_task})
        raise PublishedCompareError(f"{table.id} is measured on the baseline {table.baseline!r}; "
                                    f"the results are of baseline(s) {', '.join(found)} (run a "
                                    f"suite with baseline: {table.baseline})")
    return same


def _trainable(rec: dict[str, Any]) -> dict[str, Any]:
    """``rec`` with ``params.total`` replaced by its trainable count (when recorded)."""
    params = rec.get("params") or {}
    if "trainable" not in params:
        return rec
    return rec | {"params": params | {"total": params["trainable"]}}


def _upbench_value(row: dict[str, Any] | None, column: str) -> float | None:
    if row is None:
        return None
    v = row.get(column)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def published_comparison(results: list[dict[str, Any]], table: PublishedTable
                         ) -> dict[str, Any]:
    """The side-by-side of ``results`` (result records) and ``table``.

    Returns:
        ``{"table": <table metadata>, "columns": [...], "rows": [{"method", "upsampler",
        "upbench_label", "status", "values": {column: {"paper", "upbench", "diff",
        "match"}}}], "warnings": [...]}`` — ``match`` is None where either side is missing.

    Raises:
        PublishedCompareError: no result of the table's task (or of its baseline).
    """
    from upbench.engine.compare import aggregate

    selected = _select(results, table)
    if table.params_counted == "trainable":  # mmdetection's count: trainable parameters only
        selected = [_trainable(r) for r in selected]
    rows, warnings = aggregate(selected, table.reference)
    by_label: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["upsampler"] in by_label:
            warnings.append(f"{r['upsampler']}: results of several suites; using suite "
                            f"{by_label[r['upsampler']]['suite']!r}")
            continue
        by_label[r["upsampler"]] = r
    out_rows = []
    for pub in table.rows:
        mine = by_label.get(pub.upsampler) if pub.upsampler else None
        values = {}
        for col in table.columns:
            paper = pub.values.get(col)
            ours = _upbench_value(mine, col) if paper is not None else None
            diff = match = None
            if ours is not None and paper is not None:
                d = table.digits.get(col, 2)
                diff = ours - paper
                match = abs(round(ours, d) - paper) < 0.5 * 10.0 ** -d
            values[col] = {"paper": paper, "upbench": ours, "diff": diff, "match": match}
        status = ("no upbench upsampler" if pub.upsampler is None else
                  "not in the results" if mine is None else
                  f"{mine['n_ok']} ok" + (f", {mine['n_failed']} failed" if mine["n_failed"]
                                          else ""))
        out_rows.append({"method": pub.method, "upsampler": pub.upsampler,
                         "upbench_label": mine["upsampler"] if mine else None,
                         "status": status, "values": values})
    warnings += _setting_warnings(rows, table)
    meta = table.as_dict()
    meta.pop("rows")
    return {"table": meta, "columns": table.columns, "rows": out_rows, "warnings": warnings}


def _setting_warnings(rows: list[dict[str, Any]], table: PublishedTable) -> list[str]:
    """Where upbench's counts were made otherwise than the paper's."""
    out = []
    sizes = sorted({tuple(r["flops_size"]) for r in rows if r.get("flops_size")})
    if table.input_size and sizes and sizes != [tuple(table.input_size)]:
        out.append(f"upbench counted FLOPs at {', '.join('x'.join(map(str, s)) for s in sizes)}; "
                   f"the paper at {'x'.join(map(str, table.input_size))} (set "
                   "profile.flops_size)")
    conv = sorted({r["flops_convention"] for r in rows if r.get("flops_convention")})
    if table.flops_convention and conv and conv != [table.flops_convention]:
        out.append(f"upbench counted FLOPs in the {', '.join(conv)} convention; the paper in "
                   f"{table.flops_convention} (set profile.flops_convention: "
                   f"{table.flops_convention})")
    return out


def _fmt(v: float | None, digits: int, signed: bool = False) -> str:
    if v is None:
        return "—"
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def comparison_table(cmp: dict[str, Any], compact: bool = True
                     ) -> tuple[list[str], list[list[str]]]:
    """Header and string rows: method, upsampler, the printed columns, status.

    ``compact``: one cell per column, ``paper → upbench`` and ``=`` when upbench matches the
    printed value or ``(Δ …)`` when it does not; otherwise three columns each (paper, upbench,
    Δ), for CSV."""
    digits = cmp["table"]["digits"]
    cols = ["method", "upsampler"]
    for c in cmp["columns"]:
        cols += [c] if compact else [f"{c} paper", f"{c} upbench", f"d{c} (upbench - paper)"]
    cols.append("status")
    body = []
    for r in cmp["rows"]:
        line = [r["method"], r["upbench_label"] or r["upsampler"] or "—"]
        for c in cmp["columns"]:
            v = r["values"][c]
            d = digits.get(c, 2)
            signed = c in ("dGFLOPs", "dparams_M")
            paper, ours = _fmt(v["paper"], d, signed), _fmt(v["upbench"], d + 2, signed)
            if not compact:
                line += [paper, ours, _fmt(v["diff"], d + 2, True)]
            elif v["paper"] is None:
                line.append("")
            elif v["upbench"] is None:
                line.append(paper)
            else:
                line.append(f"{paper} → {ours} " + ("=" if v["match"] else
                                                    f"(Δ {_fmt(v['diff'], d + 2, True)})"))
        line.append(r["status"])
        body.append(line)
    return cols, body


def comparison_notes(cmp: dict[str, Any]) -> list[str]:
    """The table's accounting and notes, and the legend."""
    t = cmp["table"]
    size = "x".join(map(str, t["input_size"])) if t["input_size"] else "not stated"
    return [(f"{t['paper']}, {t['table']}: {t['network']}; {t['dataset']}; FLOPs input {size}, "
            f"convention {t['flops_convention'] or 'not stated'}"),
            f"accounting: {t['accounting']}",
            *([f"notes: {t['notes']}"] if t["notes"] else []),
            ("paper → upbench: '=' when upbench rounded to the printed decimals is the printed "
            "value, else (Δ upbench − paper). dGFLOPs / dparams_M are deltas over the reference "
            f"row ({t['reference']}).")]
