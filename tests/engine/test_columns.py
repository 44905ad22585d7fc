"""Tables for an 80–100 column terminal: the essential columns first, the rest while they fit or
by ``--columns``, never a cut number; ``--format`` output keeps every column."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tests.reliability.helpers import invoke
from upbench.engine.columns import ColumnError, column_key, fit_columns, short_delta
from upbench.engine.compare import aggregate, display_rows
from upbench.engine.results import SCHEMA

LABELS = ["bilinear", "carafe(up_kernel=5)", "sapa-b", "dysample-lp", "nearest"]


def records() -> list[dict]:
    out = []
    for i, label in enumerate(LABELS):
        for seed in range(3):
            out.append({
                "suite": "quick", "task": "segmentation", "label": label, "seed": seed,
                "status": "ok", "impl": "native-cpu", "hash": f"{i:02d}{seed:014d}",
                "metrics": {"mIoU": 71.234 + i + 0.37 * seed * i, "bIoU": 54.1 + i - seed,
                            "mAcc": 80.0, "aAcc": 95.0},
                "flops": {"total": 2.2e9 + i * 1.23e8, "upsampler": i * 1.23e8,
                          "unsupported_ops": {}},
                "params": {"total": 1.5e6 + i * 7.1e4, "upsampler": i * 7.1e4},
                "latency": {"fps": 123.4 - i * 7, "median_ms": 8.1 + i},
                "speed": {"reference": "bilinear", "ratio": 1.0 + 0.31 * i,
                          "ratio_samples": [1.0 + 0.31 * i] * 5}})
    return out


@pytest.fixture
def table():
    rows, _ = aggregate(records())
    cols, body = display_rows(rows)
    return rows, cols, body


def test_wide_terminal_shows_everything(table):
    rows, cols, body = table
    f = fit_columns(cols, body, "segmentation", rows, 400)
    assert f.cols == cols and not f.hidden and f.note() is None


@pytest.mark.parametrize("width", [100, 80])
def test_narrow_terminal_keeps_the_essentials_whole(table, width):
    rows, cols, body = table
    f = fit_columns(cols, body, "segmentation", rows, width)
    keys = [column_key(c) for c in f.cols]
    for k in ("upsampler", "miou", "dmiou", "gflops", "params", "xreflatency"):
        assert k in keys
    assert f.hidden and "--columns all" in f.note()
    assert f.widths is not None and sum(f.widths) + 3 * len(f.widths) + 1 <= width
    for row in f.body:  # every cell fits its column: nothing is cut or wrapped
        assert all(len(v) <= w for v, w in zip(row, f.widths, strict=True))


def test_columns_by_name_and_modes(table):
    rows, cols, body = table
    f = fit_columns(cols, body, "segmentation", rows, 80, "dmiou,FPS,impl,speed")
    assert f.cols == ["upsampler", "ΔmIoU", "FPS", "× ref latency", "impl"]
    compact = fit_columns(cols, body, "segmentation", rows, 400, "compact")
    assert [column_key(c) for c in compact.cols] == ["upsampler", "miou", "dmiou", "gflops",
                                                    "params", "xreflatency"]
    assert fit_columns(cols, body, "segmentation", rows, 10, "all").cols == cols
    with pytest.raises(ColumnError, match="did you mean 'miou'"):
        fit_columns(cols, body, "segmentation", rows, 80, "mIuO")


def test_short_delta():
    assert short_delta("+1.33 [+0.10, +2.56]*") == "+1.33*"
    assert short_delta("-0.20 [-0.90, +0.50]") == "-0.20"
    assert short_delta("+1.33 ± 0.58") == "+1.33"
    assert short_delta("—") == "—"


@pytest.fixture
def result_dir(tmp_path):
    d = tmp_path / "quick"
    d.mkdir()
    for r in records():
        r = r | {"schema": SCHEMA, "finished_at": "2026-12-01T00:00:00"}
        (d / f"{r['hash']}.json").write_text(json.dumps(r))
    return d


@pytest.mark.parametrize("width", [100, 80])
def test_cli_at_columns(result_dir, width):
    """`COLUMNS=N upbench compare DIR`: no line wider than N, no ellipsis, every essential number
    whole (the mean ± std, the GFLOPs and the ratio of each row)."""
    env = os.environ | {"COLUMNS": str(width)}
    out = subprocess.run([sys.executable, "-m", "upbench.cli.main", "compare", str(result_dir)],
                         env=env, capture_output=True, text=True, timeout=120, check=True).stdout
    assert max(len(ln) for ln in out.splitlines()) <= width
    assert "…" not in out
    rows, _ = aggregate(records())
    for r in rows:
        assert f"{r['mIoU']:.2f} ± {r['mIoU_std']:.2f}" in out
        assert f"{r['GFLOPs']:.4f}" in out and f"{r['latency_ratio']:.2f}×" in out
    full = invoke("compare", result_dir, "--format", "markdown").output
    header = next(ln for ln in full.splitlines() if ln.startswith("| upsampler"))
    assert "impl" in header and "FPS" in header and "ΔbIoU" in header  # --format: every column


def test_cli_unknown_column_exits_2(result_dir):
    r = invoke("compare", result_dir, "--columns", "mIoU,fsp")
    assert r.exit_code == 2 and "did you mean 'fps'" in r.output
    assert not re.search(r"┏", r.output)  # no table printed before the error
