"""``upbench flops``: fvcore's by-module FLOP table of a baseline or of one upsampler alone."""

from __future__ import annotations

import sys
from typing import Any

import click
import torch
from torch import nn

from upbench.cli._output import console, err_console, print_json, styled
from upbench.cli._params import Choice


def parse_size(text: str) -> tuple[int, int]:
    """``"512x512"`` or ``"512"`` → (H, W)."""
    try:
        parts = [int(p) for p in text.lower().replace("×", "x").split("x")]
    except ValueError:
        raise click.BadParameter(f"expected HxW, got {text!r}") from None
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or min(parts) < 1:
        raise click.BadParameter(f"expected HxW, got {text!r}")
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
    """The reference upsampler of the task a --task / --model / --suite names."""
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


@click.command("flops")
@click.option("--task", "task_name", default=None,
              help="Count a task's baseline (segmentation, depth, ...) hosting --upsampler.")
@click.option("--model", "baseline", default=None, help="A baseline by name (e.g. seg).")
@click.option("--suite", "suite_file", default=None, type=click.Path(),
              help="Take the task, baseline and model settings from this suite (a file or a "
                   "stored suite's name).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Dotted override of a suite key (with --task or --suite).")
@click.option("--upsampler", default=None, help="Registered upsampler name.")
@click.option("--hparam", "hparams", multiple=True, metavar="NAME=VALUE",
              help="Upsampler hyper-parameter (repeatable).")
@click.option("--size", default=None, help="HxW: image size (--task/--model, default the task's "
              "evaluation size) or the low-resolution input size (upsampler alone, default "
              "64x64).")
@click.option("--channels", type=int, default=256, show_default=True,
              help="Input channels of the upsampler alone.")
@click.option("--scale", type=int, default=2, show_default=True, help="Upsampling factor.")
@click.option("--num-classes", type=int, default=None,
              help="Classes (default: the task's dataset default; 19 for an upsampler alone).")
@click.option("--placement", type=Choice(["decoder", "final"]), default=None,
              help="Put a feature upsampler in the decoder slots or the final one.")
@click.option("--max-depth", type=int, default=3, show_default=True, help="Table depth.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def flops_cmd(task_name: str | None, baseline: str | None, suite_file: str | None,
              sets: tuple[str, ...], upsampler: str | None, hparams: tuple[str, ...],
              size: str | None, channels: int, scale: int, num_classes: int | None,
              placement: str | None, max_depth: int, as_json: bool) -> None:
    """FLOPs (fvcore + upbench handles) of a task baseline hosting an upsampler, or of one
    upsampler alone.

    \b
      upbench flops --task segmentation --upsampler carafe --size 512x512
      upbench flops --task depth --upsampler sapa-b
      upbench flops --suite quick --upsampler lau
      upbench flops --upsampler carafe --channels 256 --size 64x64 --scale 2
    """
    from upbench.engine.flops import count_flops, count_params
    from upbench.tasks import Unhostable
    from upbench.upsamplers import create_upsampler, get_upsampler_class, upsampler_hparams
    from upbench.utils.schema import ConfigError

    whole = task_name is not None or baseline is not None or suite_file is not None
    if not whole and upsampler is None:
        raise click.UsageError("give --task NAME (or --model / --suite) and/or --upsampler NAME")
    try:
        hp = _hparams(hparams)
        if whole:
            suite, model = task_model(task_name, baseline, upsampler or
                                      _default_upsampler(task_name, baseline, suite_file),
                                      hp, num_classes, placement, suite_file, sets)
            h, w = parse_size(size) if size else (
                suite.task_def.flops_size(suite.baseline) or (512, 512))
            target, part = model.flops_target()
            inputs = suite.task_def.example_inputs(suite, (h, w))
            what = {"task": suite.task, "baseline": suite.baseline,
                    "upsampler": upsampler or suite.task_def.reference, "input_size": [h, w],
                    "slots": part}
        else:
            assert upsampler is not None  # checked above: --upsampler without a task/model/suite
            h, w = parse_size(size or "64x64")
            cls = get_upsampler_class(upsampler)
            if cls.space == "label" and "num_classes" in upsampler_hparams(upsampler):
                hp.setdefault("num_classes", num_classes or 19)
            target = Standalone(create_upsampler(upsampler, channels, scale, **hp))
            inputs, part = standalone_inputs(target.up, channels, h, w), ["up"]
            what = {"upsampler": upsampler, "channels": channels, "input_size": [h, w],
                    "scale": scale, "hparams": hp}
        rep = count_flops(target, inputs, part, table=not as_json, max_depth=max_depth)
    except (KeyError, TypeError, ValueError, Unhostable, ConfigError) as e:
        err_console.print(styled("error", "red", f" {e.args[0] if e.args else e}"), highlight=False)
        sys.exit(2)
    model = target
    params = count_params(model, part)
    share = rep.part / rep.total if rep.total else None
    data = what | {"counter": rep.counter, "counter_version": rep.counter_version,
                   "flops_total": rep.total, "flops_upsampler": rep.part,
                   "upsampler_share": share, "params_total": params["total"],
                   "params_upsampler": params["upsampler"],
                   "unsupported_ops": rep.unsupported_ops, "by_operator": rep.by_operator,
                   "by_module": rep.by_module}
    if not whole:
        data["flops_per_input_location"] = rep.part / (h * w)
    if as_json:
        print_json(data)
        return
    console.print(rep.table, highlight=False)
    console.print(f"total: {rep.total / 1e9:.4f} GFLOPs ({rep.total:,} multiply-adds), "
                  f"{params['total']:,} params")
    console.print(f"upsampler ({', '.join(part)}): {rep.part / 1e9:.4f} GFLOPs"
                  + (f" = {100 * share:.1f}% of the total" if share is not None else "")
                  + f", {params['upsampler']:,} params")
    if not whole:
        console.print(f"per low-resolution location: {rep.part / (h * w):,.0f} multiply-adds")
    console.print("unsupported ops: " + (", ".join(f"{k} ×{v}" for k, v in
                                                   rep.unsupported_ops.items()) or "none"))
