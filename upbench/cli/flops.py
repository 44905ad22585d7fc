"""``upbench flops``: fvcore's by-module FLOP table of a baseline or of one upsampler alone."""

from __future__ import annotations

import sys
from typing import Any

import click
import torch
from torch import nn

from upbench.cli._output import console, err_console, print_json


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
        if getattr(self.up, "space", "feature") == "label":
            return self.up(x, guide, list(pyramid) or None)
        return self.up(x, guide)


def standalone_inputs(up: Any, channels: int, h: int, w: int) -> tuple:
    """x (1, C, h, w) and what the upsampler needs: a guide at s×, or for a label-space decoder a
    stride-4 guide (``guide_stride`` if declared) and the 2× pyramid from x down to it."""
    s = up.scale
    x = torch.randn(1, channels, h, w)
    if up.space == "label":
        stride = int(getattr(up, "guide_stride", 4) or 4)
        gh, gw = max(h, h * s // stride), max(w, w * s // stride)
        guide = torch.randn(1, channels, gh, gw)
        pyramid = [x]
        while pyramid[-1].shape[-1] * 2 <= gw and pyramid[-1].shape[-2] * 2 <= gh:
            t = pyramid[-1]
            pyramid.append(torch.randn(1, channels, t.shape[2] * 2, t.shape[3] * 2))
        return (x, guide, *pyramid) if getattr(up, "needs_pyramid", False) else (x, guide)
    if up.guided:
        return x, torch.randn(1, channels, h * s, w * s)
    return (x,)


def _hparams(items: tuple[str, ...]) -> dict[str, Any]:
    from upbench.engine.suite import parse_value

    out = {}
    for it in items:
        if "=" not in it:
            raise click.BadParameter(f"--hparam expects name=value, got {it!r}")
        k, v = it.split("=", 1)
        out[k] = parse_value(v)
    return out


@click.command("flops")
@click.option("--model", "model_name", default=None, help="Baseline (task): seg.")
@click.option("--upsampler", default=None, help="Registered upsampler name.")
@click.option("--hparam", "hparams", multiple=True, metavar="NAME=VALUE",
              help="Upsampler hyper-parameter (repeatable).")
@click.option("--size", default=None, help="HxW: image size (--model, default 512x512) or the "
              "low-resolution input size (upsampler alone, default 64x64).")
@click.option("--channels", type=int, default=256, show_default=True,
              help="Input channels of the upsampler alone.")
@click.option("--scale", type=int, default=2, show_default=True, help="Upsampling factor.")
@click.option("--num-classes", type=int, default=19, show_default=True)
@click.option("--placement", type=click.Choice(["decoder", "final"]), default=None,
              help="--model: put a feature upsampler in the top-down slots or the final one.")
@click.option("--max-depth", type=int, default=3, show_default=True, help="Table depth.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def flops_cmd(model_name: str | None, upsampler: str | None, hparams: tuple[str, ...],
              size: str | None, channels: int, scale: int, num_classes: int,
              placement: str | None, max_depth: int, as_json: bool) -> None:
    """FLOPs (fvcore + upbench handles) of a baseline hosting an upsampler, or of one upsampler.

    \b
      upbench flops --model seg --upsampler carafe --size 512x512
      upbench flops --upsampler carafe --channels 256 --size 64x64 --scale 2
    """
    from upbench.engine.flops import count_flops, count_params
    from upbench.models import Unhostable, build_model
    from upbench.upsamplers import create_upsampler, get_upsampler_class, upsampler_hparams

    if model_name is None and upsampler is None:
        raise click.UsageError("give --model TASK and/or --upsampler NAME")
    try:
        hp = _hparams(hparams)
        if model_name is not None:
            h, w = parse_size(size or "512x512")
            model = build_model(model_name, num_classes, upsampler or "bilinear", hp,
                                placement=placement)
            inputs, part = (torch.zeros(1, 3, h, w),), model.slots
            what = {"model": model_name, "upsampler": upsampler or "bilinear",
                    "input_size": [h, w], "slots": part}
        else:
            h, w = parse_size(size or "64x64")
            cls = get_upsampler_class(upsampler)
            if cls.space == "label" and "num_classes" in upsampler_hparams(upsampler):
                hp.setdefault("num_classes", num_classes)
            model = Standalone(create_upsampler(upsampler, channels, scale, **hp))
            inputs, part = standalone_inputs(model.up, channels, h, w), ["up"]
            what = {"upsampler": upsampler, "channels": channels, "input_size": [h, w],
                    "scale": scale, "hparams": hp}
        rep = count_flops(model, inputs, part, table=not as_json, max_depth=max_depth)
    except (KeyError, TypeError, ValueError, Unhostable) as e:
        err_console.print(f"[red]error[/red] {e.args[0] if e.args else e}", highlight=False)
        sys.exit(2)
    params = count_params(model, part)
    share = rep.part / rep.total if rep.total else None
    data = what | {"counter": rep.counter, "counter_version": rep.counter_version,
                   "flops_total": rep.total, "flops_upsampler": rep.part,
                   "upsampler_share": share, "params_total": params["total"],
                   "params_upsampler": params["upsampler"],
                   "unsupported_ops": rep.unsupported_ops, "by_operator": rep.by_operator,
                   "by_module": rep.by_module}
    if model_name is None:
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
    if model_name is None:
        console.print(f"per low-resolution location: {rep.part / (h * w):,.0f} multiply-adds")
    console.print("unsupported ops: " + (", ".join(f"{k} ×{v}" for k, v in
                                                   rep.unsupported_ops.items()) or "none"))
