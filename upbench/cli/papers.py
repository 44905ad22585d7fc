"""``upbench papers``: the published tables stored in the package (:mod:`upbench.papers`)."""

from __future__ import annotations

import click

from upbench.cli._output import console, fail, print_json, print_table


def _num(v: float | None, digits: int) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


@click.command("papers")
@click.argument("table_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def papers_cmd(table_id: str | None, as_json: bool) -> None:
    """The published tables upbench stores (SAPA Tables 2–5, LaU Table 1, NRD Table 1): with no
    argument the list, with a TABLE_ID its rows as printed, the accounting and the notes.

    \b
      upbench papers
      upbench papers sapa-t2-segformer-b1
      upbench compare results/segformer --published sapa-t2-segformer-b1
    """
    from upbench.papers import get_table, published_tables

    if table_id is None:
        tables = list(published_tables().values())
        if as_json:
            print_json([t.as_dict() for t in tables])
            return
        body = [[t.id, t.paper, t.table, t.task, t.baseline or "— (not built)",
                 "×".join(map(str, t.input_size)) if t.input_size else "not stated",
                 t.flops_convention or "—", str(len(t.rows))] for t in tables]
        print_table("published tables", ["id", "paper", "table", "task", "upbench baseline",
                                         "FLOPs at", "convention", "rows"], body)
        console.print("rows of one: upbench papers ID; beside upbench's results: upbench compare "
                      "DIR --published ID")
        return
    try:
        t = get_table(table_id)
    except KeyError as e:
        fail(e.args[0], as_json)
    if as_json:
        print_json(t.as_dict())
        return
    cols = t.columns
    body = [[r.method, r.upsampler or "—"] + [
        (f"{r.values[c]:+.{t.digits[c]}f}" if c.startswith("d") and c in ("dGFLOPs", "dparams_M")
         else _num(r.values[c], t.digits[c])) if c in r.values else "" for c in cols]
        for r in t.rows]
    size = "×".join(map(str, t.input_size)) if t.input_size else "not stated"
    print_table(f"{t.id}: {t.paper}, {t.table}", ["method", "upbench upsampler", *cols], body,
                caption=[f"{t.network}; {t.dataset}; baseline {t.baseline or '— (not built)'}",
                         f"FLOPs input {size}, convention {t.flops_convention or 'not stated'}",
                         f"accounting: {t.accounting}", *([f"notes: {t.notes}"] if t.notes
                                                          else [])])
