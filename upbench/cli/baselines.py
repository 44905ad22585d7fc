"""``upbench baselines``: every task's baselines, where they come from and their upsampler slots."""

from __future__ import annotations

from typing import Any

import click

from upbench.cli._output import console, print_json, print_table


def baseline_rows(task_name: str | None = None, slots: bool = True) -> list[dict[str, Any]]:
    """One dict per (task, baseline): the :class:`BaselineInfo` fields, the task, the FLOPs
    input size and (``slots``) the slot table of the baseline built with the task's reference
    upsampler (or the error that building it raised), each slot's ``guide_channels`` read from
    the baseline built with a guided upsampler (:data:`GUIDED_PROBE`; None where it cannot sit)."""
    from upbench.cli.flops import task_model
    from upbench.tasks import TASKS

    rows = []
    for task in TASKS.values():
        if task_name is not None and task.name != task_name:
            continue
        for b in task.baselines:
            row = {"task": task.name} | b.as_dict() | {
                "kind": "paper" if b.paper else "tiny",
                "flops_size": list(task.flops_size(b.name) or []) or None,
                "reference": task.reference}
            if slots:
                try:
                    _, model = task_model(task.name, b.name, task.reference, {}, None, None, None)
                    row["slots"] = [s.as_dict() for s in model.slot_table()]
                    row["slots"] = _with_guides(task.name, b.name, row["slots"])
                except Exception as e:  # noqa: BLE001 - one baseline must not hide the others
                    row["slots"] = None
                    row["error"] = f"{type(e).__name__}: {e}"
            rows.append(row)
    return rows


GUIDED_PROBE = "sapa-b"
"""A guided feature upsampler every baseline's feature slots can host: building a baseline with
it tells which guide each slot is given."""


def _with_guides(task: str, baseline: str, slots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from upbench.cli.flops import task_model

    try:
        _, model = task_model(task, baseline, GUIDED_PROBE, {}, None, None, None)
    except Exception:  # noqa: BLE001 - a baseline without guided slots keeps None
        return slots
    guides = {s.name: s.guide_channels for s in model.slot_table()}
    return [s | {"guide_channels": guides.get(s["name"])} for s in slots]


def _slots_text(slots: list[dict[str, Any]] | None) -> str:
    if not slots:
        return "—"
    parts = []
    for s in slots:
        guide = f", guide {s['guide_channels']}" if s["guide_channels"] else ""
        parts.append(f"{s['name']} ({s['in_channels']} ch{guide}, ×{s['scale']})")
    return "\n".join(parts)


@click.command("baselines")
@click.option("--task", "task_name", default=None, help="Only this task's baselines.")
@click.option("--no-slots", is_flag=True, help="Do not build the baselines to read their slots.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def baselines_cmd(task_name: str | None, no_slots: bool, as_json: bool) -> None:
    """Every task's baselines: name, task, paper network or tiny one, source, the input size
    FLOPs are reported at, and the upsampler slots (each baseline is built once, hosting the
    task's reference upsampler, to read them).

    \b
      upbench baselines
      upbench baselines --task segmentation --json
    """
    from upbench.tasks import TASKS

    if task_name is not None and task_name not in TASKS:
        from upbench.utils.suggest import closest

        best = closest(task_name, TASKS)
        raise click.BadParameter(f"unknown task {task_name!r}"
                                 + (f" (did you mean {best!r}?)" if best else ""),
                                 param_hint="--task")
    rows = baseline_rows(task_name, not no_slots)
    if as_json:
        print_json(rows)
        return
    body = [[r["name"], r["task"], r["kind"], r["source"] or "upbench",
             "×".join(map(str, r["flops_size"])) if r["flops_size"] else "—",
             r.get("error") or _slots_text(r.get("slots")) if not no_slots else "—"]
            for r in rows]
    print_table("baselines (the first of each task is its default)",
                ["baseline", "task", "kind", "source", "FLOPs at", "slots"], body)
    console.print("FLOPs and params of one: upbench flops --baseline NAME [--upsampler NAME] "
                  "[--convention mmcv]")
