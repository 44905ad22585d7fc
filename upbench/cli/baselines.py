"""``upbench baselines``: every task's baselines, where they come from and their upsampler slots."""

from __future__ import annotations

from typing import Any

import click

from upbench.cli._output import console, print_json, print_table


def baseline_rows(task_name: str | None = None, slots: bool = True) -> list[dict[str, Any]]:
    """One dict per (task, baseline): the :class:`BaselineInfo` fields, the task, the FLOPs
    input size and (``slots``) the slot table of the baseline hosting a guided feature upsampler
    (:data:`GUIDED_PROBE`; where it cannot sit, the task's reference upsampler), with
    ``slots_of`` naming which; ``error`` when neither builds."""
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
                row |= _slots(task.name, b.name, task.reference)
            rows.append(row)
    return rows


GUIDED_PROBE = "sapa-b"
"""A guided feature upsampler: a baseline built with it shows every feature slot and its guide
(a baseline's reference row may have other slots, e.g. segformer-b1's single bilinear resizes)."""


def _slots(task: str, baseline: str, reference: str) -> dict[str, Any]:
    from upbench.cli.flops import task_model

    error = None
    for name in (GUIDED_PROBE, reference):
        try:
            _, model = task_model(task, baseline, name, {}, None, None, None)
        except Exception as e:  # noqa: BLE001 - one baseline must not hide the others
            error = f"{type(e).__name__}: {e}"
            continue
        return {"slots_of": name, "slots": [s.as_dict() for s in model.slot_table()]}
    return {"slots_of": None, "slots": None, "error": error}


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
    FLOPs are reported at, and the feature upsampler slots with their channels, guides and
    scales (each baseline is built once, hosting a guided upsampler, to read them).

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
                ["baseline", "task", "kind", "source", "FLOPs at", "slots"], body,
                caption=[] if no_slots else [
                    (f"slots: as the baseline hosts a guided feature upsampler ({GUIDED_PROBE}; the "
                    "reference upsampler where it cannot sit): name (input channels, guide "
                    "channels, scale)")])
    console.print("FLOPs and params of one: upbench flops --baseline NAME [--upsampler NAME] "
                  "[--convention mmcv]")
