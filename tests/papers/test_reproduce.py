"""The published params / FLOPs columns reproduced by upbench's counters on its paper baselines
(issues 23 and 24's acceptance): every number of a stored table whose network upbench builds and
whose upsampler upbench has, computed — never stored — and compared at the printed precision.

The few that differ are listed in KNOWN_DIFFERENCES with the reason (docs/counting.md); for those
the test asserts that they still differ, so a fix shows up here."""

from __future__ import annotations

import functools

import pytest
import torch

from upbench.cli.flops import task_model
from upbench.engine.flops import count_flops, count_params
from upbench.papers import PublishedTable, published_tables
from upbench.tasks import TASKS

KNOWN_DIFFERENCES = {
    ("sapa-t2-segformer-b1", "sapa-g", "dGFLOPs"):
        "upbench's sapa-g runs the official q_x embedding (C·d per location), which SAPA Table 1's "
        "G total leaves out: +1.14 G",
    ("sapa-t2-segformer-b1", "sapa-g", "dparams_M"):
        "q_x and the gate (official code, 25,953 per 256-channel slot): +0.16 M",
    ("sapa-t3-faster-rcnn-r50", "sapa-g", "dparams_M"): "q_x and the gate: +0.08 M",
    ("sapa-t5-a2u-r34", "sapa-g", "dparams_M"): "q_x and the gate: +0.05 M",
}
# FLOPs in SAPA's tables: the network by mmcv's hooks, the slots by Table 1's formulas
CONVENTION = {"sapa-t2-segformer-b1": "sapa"}


def built_baselines() -> set[str]:
    return {b for t in TASKS.values() for b in t.baseline_names}


@functools.cache
def model(table_id: str, upsampler: str):
    t = published_tables()[table_id]
    _, m = task_model(t.task, t.baseline, upsampler, {}, t.num_classes, None, None)
    return m


def params_m(t: PublishedTable, upsampler: str) -> float:
    return count_params(model(t.id, upsampler), None, t.params_counted)["total"] / 1e6


@functools.cache
def gflops(table_id: str, upsampler: str) -> float:
    t = published_tables()[table_id]
    m = model(table_id, upsampler)
    suite, _ = task_model(t.task, t.baseline, upsampler, {}, t.num_classes, None, None)
    target, part = m.flops_target()
    inputs = suite.task_def.example_inputs(suite, t.input_size)
    with torch.no_grad():
        rep = count_flops(target, inputs, part, convention=CONVENTION[table_id])
    return rep.total / 1e9


def cases():
    out = []
    for t in published_tables().values():
        if t.baseline is None:  # a network upbench does not build (MaskFormer, EncNet)
            continue
        for r in t.rows:
            if r.upsampler is None:
                continue
            for col in ("params_M", "dparams_M", "GFLOPs", "dGFLOPs"):
                if col in r.values and (col in ("params_M", "dparams_M") or t.id in CONVENTION):
                    out.append(pytest.param(t.id, r.upsampler, col,
                                            id=f"{t.id}-{r.upsampler}-{col}"))
    return out


@pytest.mark.parametrize("table_id, upsampler, column", cases())
def test_published_column_is_reproduced(table_id, upsampler, column):
    t = published_tables()[table_id]
    if t.baseline not in built_baselines():
        pytest.skip(f"upbench does not build {t.baseline!r} (yet)")
    printed = next(r for r in t.rows if r.upsampler == upsampler).values[column]
    if column in ("params_M", "GFLOPs"):
        value = params_m(t, upsampler) if column == "params_M" else gflops(t.id, upsampler)
    elif column == "dparams_M":
        value = params_m(t, upsampler) - params_m(t, t.reference)
    else:
        value = gflops(t.id, upsampler) - gflops(t.id, t.reference)
    shown = round(value, t.digits[column])
    why = KNOWN_DIFFERENCES.get((table_id, upsampler, column))
    if why is None:
        assert shown == pytest.approx(printed, abs=1e-9), f"{value:.4f} is not the printed {printed}"
    else:
        assert shown != pytest.approx(printed, abs=1e-9), f"now matches; drop the known difference: {why}"
