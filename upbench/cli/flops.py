"""``upbench flops``: the FLOPs and parameters of a baseline (its slot table, then the totals) or
of one upsampler alone, in the fvcore or the mmcv convention."""

from __future__ import annotations

import sys
from typing import Any

import click
import torch
from torch import nn

from upbench.cli._output import console, err_console, print_json, styled
from upbench.cli._params import Choice
from upbench.utils.numbers import Number, NumberError, check_fits, check_number

#: the largest image side the FLOP count accepts (fvcore traces real tensors)
MAX_SIDE = 2**16


def parse_size(text: str) -> tuple[int, int]:
    """``"512x512"`` or ``"512"`` → (H, W)."""
    try:
        parts = [int(p) for p in text.lower().replace("×", "x").split("x")]
    except ValueError:
        raise click.BadParameter(f"expected HxW, got {text!r}") from None
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2:
        raise click.BadParameter(f"expected HxW, got {text!r}")
    try:
        for p in parts:
            check_number(p, f"--size {text}: each side", integral=True, ge=1, le=MAX_SIDE)
    except NumberError as e:
        raise click.BadParameter(str(e)) from None
    return parts[0], parts[1]


class Standalone(nn.Module):
    """One upsampler with its guide / pyramid inputs, for counting it alone."""

    def __init__(self, up: nn.Module) -> None:
        super().__init__()
        self.up = up

    def forward(self, x, guide=None, *pyramid):
        if self.up.space == "label":
            return self.up(x, guide, list(pyramid) or None)
        return self.up(x, guide)


def standalone_inputs(up: Any, channels: int, h: int, w: int) -> tuple:
    """x (1, C, h, w) and what the upsampler needs: a guide at s×, or for a label-space decoder a
    stride-4 guide (``guide_stride`` if declared) and the 2× pyramid from x down to it."""
    s = up.scale
    x = torch.randn(1, channels, h, w)
    if up.space == "label":
        stride = up.guide_stride or 4
        gh, gw = max(h, h * s // stride), max(w, w * s // stride)
        guide = torch.randn(1, channels, gh, gw)
        pyramid = [x]
        while pyramid[-1].shape[-1] * 2 <= gw and pyramid[-1].shape[-2] * 2 <= gh:
            t = pyramid[-1]
            pyramid.append(torch.randn(1, channels, t.shape[2] * 2, t.shape[3] * 2))
        return (x, guide, *pyramid) if up.needs_pyramid else (x, guide)
    if up.guided:
        return x, torch.randn(1, channels, h * s, w * s)
    return (x,)


def _default_upsampler(task_name: str | None, baseline: str | None,
                       suite_file: str | None) -> str:
    """The reference upsampler of the task a --task / --baseline / --suite names."""
    from upbench.tasks import TASKS

    if task_name in TASKS:
        return TASKS[task_name].reference
    for t in TASKS.values():
        if baseline in t.baseline_names:
            return t.reference
    if suite_file is not None:
        from upbench.catalog import resolve_suite
        from upbench.engine.suite import load_suite

        return load_suite(resolve_suite(suite_file)).task_def.reference
    return "bilinear"


def _hparams(items: tuple[str, ...]) -> dict[str, Any]:
    from upbench.engine.suite import parse_value

    out = {}
    for it in items:
        if "=" not in it:
            raise click.BadParameter(f"--hparam expects name=value, got {it!r}")
        k, v = it.split("=", 1)
        out[k] = parse_value(v)
    return out


def paper_classes(baseline: str) -> tuple[int | None, str | None]:
    """The class count a paper baseline is counted with by default: that of the first published
    table measured on it (:mod:`upbench.papers`), e.g. 150 for segformer-b1 (ADE20K), 80 for
    faster-rcnn-r50-fpn (COCO); ``(None, None)`` when none says."""
    from upbench.papers import tables_of_baseline

    for t in tables_of_baseline(baseline):
        if t.num_classes is not None:
            return t.num_classes, t.id
    return None, None


def task_model(task_name: str | None, baseline: str | None, upsampler: str,
               hparams: dict[str, Any], num_classes: int | None, placement: str | None,
               suite_file: str | None, sets: tuple[str, ...] = ()) -> tuple[Any, Any]:
    """(suite, model) of a task baseline hosting ``upsampler``: the settings of ``suite_file``
    or the task's defaults (``--num-classes`` replaces the dataset's class count)."""
    from upbench.catalog import resolve_suite
    from upbench.engine.suite import apply_overrides, build_suite, load_suite
    from upbench.tasks import TASKS

    if suite_file is not None:
        suite = load_suite(resolve_suite(suite_file), sets)
    else:
        if task_name is None:
            names = [t.name for t in TASKS.values() if baseline in t.baseline_names]
            if not names:
                from upbench.utils.suggest import unknown_name_message

                raise KeyError(unknown_name_message(
                    "baseline", str(baseline),
                    [b for t in TASKS.values() for b in t.baseline_names]))
            task_name = names[0]
        raw: dict[str, Any] = {"name": "flops", "task": task_name}
        if baseline is not None:
            raw["baseline"] = baseline
        if num_classes is not None:
            raw["dataset"] = {"num_classes": num_classes}
        suite = build_suite(apply_overrides(raw, sets), "")
    task = suite.task_def
    return suite, task.build_model(suite, upsampler, hparams, placement, 0)


def slot_rows(model: Any, rep: Any, part: list[str], which: str) -> list[dict[str, Any]]:
    """The model's slot table (:meth:`TaskModel.slot_table`) with each slot's parameters
    (``which``: all or trainable) and FLOPs (from the report's per-module counts; ``part`` are
    the same slots' names in the counted module, when it is a wrapper)."""
    from upbench.engine.flops import count_params

    rows = []
    table = model.slot_table()
    for i, slot in enumerate(table):
        name = slot.name if slot.name in rep.by_module else (
            part[i] if len(part) == len(table) else slot.name)
        rows.append(slot.as_dict() | {
            "params": count_params(model, [slot.name], which)["upsampler"],
            "flops": rep.by_module.get(name, 0)})
    return rows


def print_slot_table(rows: list[dict[str, Any]], convention: str) -> None:
    """The slot table (slot, channels, guide, scale, upsampler, params, FLOPs) as a rich table."""
    from upbench.cli._output import print_table

    body = [[r["name"], r["in_channels"], r["guide_channels"], r["scale"], r["upsampler"],
             f"{r['params']:,}", f"{r['flops'] / 1e9:.4f}"] for r in rows]
    print_table("upsampler slots", ["slot", "in ch", "guide ch", "scale", "upsampler", "params",
                                    f"GFLOPs ({convention})"], body)


def _deprecated_model(ctx: click.Context, param: click.Parameter, value: str | None
                      ) -> str | None:
    if value is not None:
        err_console.print(styled("warning", "yellow", " --model is deprecated; use --baseline "
                                 f"{value}"), highlight=False)
    return value


@click.command("flops")
@click.option("--task", "task_name", default=None,
              help="Count a task's default baseline (segmentation, depth, ...) hosting "
                   "--upsampler.")
@click.option("--baseline", "baseline", default=None,
              help="A baseline by name (e.g. seg, segformer-b1; `upbench baselines` lists them).")
@click.option("--model", "model_alias", default=None, hidden=True, callback=_deprecated_model,
              help="Deprecated alias of --baseline.")
@click.option("--suite", "suite_file", default=None, type=click.Path(),
              help="Take the task, baseline and model settings from this suite (a file or a "
                   "stored suite's name).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Dotted override of a suite key (with --task or --suite).")
@click.option("--upsampler", default=None, help="Registered upsampler name.")
@click.option("--hparam", "hparams", multiple=True, metavar="NAME=VALUE",
              help="Upsampler hyper-parameter (repeatable).")
@click.option("--size", default=None, help="HxW: image size (--task/--baseline, default the "
              "baseline's paper size) or the low-resolution input size (upsampler alone, default "
              "64x64).")
@click.option("--channels", type=Number(ge=1, le=2**16), default=256, show_default=True,
              help="Input channels of the upsampler alone.")
@click.option("--scale", type=Number(ge=1, le=64), default=2, show_default=True,
              help="Upsampling factor.")
@click.option("--num-classes", type=Number(ge=1, le=2**16), default=None,
              help="Classes (default: a paper baseline's paper count, e.g. 150 for segformer-b1 "
                   "and 80 for faster-rcnn-r50-fpn; else the task's dataset default; 19 for an "
                   "upsampler alone).")
@click.option("--placement", type=Choice(["decoder", "final"]), default=None,
              help="Put a feature upsampler in the decoder slots or the final one.")
@click.option("--convention", type=Choice(["fvcore", "mmcv", "sapa"]), default=None,
              help="How FLOPs are counted: fvcore (default; or the --suite's "
                   "profile.flops_convention), mmcv (mmcv 1.x's module hooks, as SegFormer and "
                   "mmdet count), or sapa (mmcv, the slots by their upsampler's MAC formula, as "
                   "SAPA's tables count their deltas); docs/counting.md.")
@click.option("--params", "params_which", type=Choice(["all", "trainable"]),
              default="all", show_default=True,
              help="Count every parameter, or only trainable ones (mmcv / mmdet's count).")
@click.option("--max-depth", type=Number(ge=0, le=100), default=3, show_default=True,
              help="Table depth.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def flops_cmd(task_name: str | None, baseline: str | None, model_alias: str | None,
              suite_file: str | None, sets: tuple[str, ...], upsampler: str | None,
              hparams: tuple[str, ...], size: str | None, channels: int, scale: int,
              num_classes: int | None, placement: str | None, convention: str | None,
              params_which: str, max_depth: int, as_json: bool) -> None:
    """FLOPs and parameters of a baseline hosting an upsampler (its slot table, then the
    totals), or of one upsampler alone.

    \b
      upbench flops --baseline segformer-b1 --upsampler carafe --convention mmcv
      upbench flops --task segmentation --upsampler carafe --size 512x512
      upbench flops --task depth --upsampler sapa-b
      upbench flops --suite quick --upsampler lau
      upbench flops --upsampler carafe --channels 256 --size 64x64 --scale 2
    """
    from upbench.engine.flops import count_flops, count_params
    from upbench.tasks import Unhostable
    from upbench.upsamplers import create_upsampler, get_upsampler_class, upsampler_hparams
    from upbench.utils.schema import ConfigError

    if model_alias is not None:
        if baseline is not None and baseline != model_alias:
            raise click.UsageError("give --baseline only (--model is its deprecated alias)")
        baseline = model_alias
    whole = task_name is not None or baseline is not None or suite_file is not None
    if not whole and upsampler is None:
        raise click.UsageError("give --baseline NAME (or --task / --suite) and/or --upsampler "
                               "NAME")
    slots: list[dict[str, Any]] | None = None
    classes_from = None
    if num_classes is None and suite_file is None and baseline is not None:
        num_classes, classes_from = paper_classes(baseline)
    try:
        hp = _hparams(hparams)
        if whole:
            suite, model = task_model(task_name, baseline, upsampler or
                                      _default_upsampler(task_name, baseline, suite_file),
                                      hp, num_classes, placement, suite_file, sets)
            convention = convention or suite.profile.flops_convention
            h, w = parse_size(size) if size else (
                suite.task_def.flops_size(suite.baseline) or (512, 512))
            target, part = model.flops_target()
            check_fits(3 * h * w, 4, f"a {h}x{w} image", copies=2, fix="use a smaller --size")
            inputs = suite.task_def.example_inputs(suite, (h, w))
            what = {"task": suite.task, "baseline": suite.baseline,
                    "upsampler": upsampler or suite.task_def.reference, "input_size": [h, w],
                    "num_classes": getattr(suite.dataset, "num_classes", None),
                    "num_classes_from": classes_from or ("--num-classes" if num_classes
                                                         else "the suite / task default"),
                    "slots": part}
        else:
            assert upsampler is not None  # checked above: --upsampler without a task/model/suite
            convention = convention or "fvcore"
            h, w = parse_size(size or "64x64")
            cls = get_upsampler_class(upsampler)
            if cls.space == "label" and "num_classes" in upsampler_hparams(upsampler):
                hp.setdefault("num_classes", num_classes or 19)
            check_fits(channels * h * w, 4, f"a {channels}-channel {h}x{w} input and its ×{scale} "
                       "output", copies=1 + scale * scale, fix="use a smaller --size or --channels")
            target = Standalone(create_upsampler(upsampler, channels, scale, **hp))
            inputs, part = standalone_inputs(target.up, channels, h, w), ["up"]
            what = {"upsampler": upsampler, "channels": channels, "input_size": [h, w],
                    "scale": scale, "hparams": hp}
        rep = count_flops(target, inputs, part, table=not as_json, max_depth=max_depth,
                          convention=convention)
        if whole:
            slots = slot_rows(model, rep, part, params_which)
    except (KeyError, TypeError, ValueError, Unhostable, ConfigError) as e:
        err_console.print(styled("error", "red", f" {e.args[0] if e.args else e}"), highlight=False)
        sys.exit(2)
    params = count_params(target, part, params_which)
    share = rep.part / rep.total if rep.total else None
    data = what | {"convention": rep.convention, "counter": rep.counter,
                   "counter_version": rep.counter_version, "params_counted": params_which,
                   "flops_total": rep.total, "flops_upsampler": rep.part,
                   "upsampler_share": share, "params_total": params["total"],
                   "params_upsampler": params["upsampler"],
                   "params_trainable": count_params(target, None, "trainable")["total"],
                   "unsupported_ops": rep.unsupported_ops, "by_operator": rep.by_operator,
                   "by_module": rep.by_module}
    if rep.convention != "fvcore":
        data["uncounted_modules"] = rep.uncounted
    if rep.formula_slots:
        data["formula_slots"] = rep.formula_slots  # counted by their upsampler's macs formula
    if slots is not None:
        data["slot_table"] = slots
    if not whole:
        data["flops_per_input_location"] = rep.part / (h * w)
    if as_json:
        print_json(data)
        return
    console.print(rep.table, highlight=False)
    if slots:
        print_slot_table(slots, rep.convention)
    kind = "trainable params" if params_which == "trainable" else "params"
    console.print(f"total ({rep.convention}): {rep.total / 1e9:.4f} GFLOPs ({rep.total:,} "
                  f"multiply-adds), {params['total']:,} {kind} = {params['total'] / 1e6:.2f} M")
    console.print(f"upsampler ({', '.join(part)}): {rep.part / 1e9:.4f} GFLOPs"
                  + (f" = {100 * share:.1f}% of the total" if share is not None else "")
                  + f", {params['upsampler']:,} {kind}")
    if not whole:
        console.print(f"per low-resolution location: {rep.part / (h * w):,.0f} multiply-adds")
    elif classes_from:
        console.print(f"classes: {data['num_classes']} (the paper's, {classes_from}; "
                      "--num-classes to change)")
    if rep.convention == "fvcore":
        console.print("unsupported ops: " + (", ".join(f"{k} ×{v}" for k, v in
                                                       rep.unsupported_ops.items()) or "none"))
    else:
        console.print("not counted in this convention: " + (", ".join(
            f"{k} ×{v}" for k, v in sorted(rep.uncounted.items())) or "nothing"))
