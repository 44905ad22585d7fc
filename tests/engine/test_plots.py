"""Plots a reader can read: scatter against GFLOPs and latency with a legend and labels that do
not overlap, the reference at 1.00× in the ratio bars, ≤ 1600 px wide, PNG and SVG; the report
embeds them under an environment block."""

from __future__ import annotations

import itertools

import pytest
from PIL import Image

from upbench.engine.compare import aggregate
from upbench.engine.plots import (
    MAX_WIDTH_PX,
    check_format,
    latency_panel,
    plot,
    save_task_plots,
    scatter_figure,
)
from upbench.engine.report import write_report

NAMES = ["bilinear", "nearest", "deconv", "pixelshuffle", "carafe", "sapa-b", "lau", "fade",
         "dysample-lp", "dupsampling", "nrd", "carafe(up_kernel=7)"]


def records() -> list[dict]:
    out = []
    for i, n in enumerate(NAMES):
        for s in range(2):
            out.append({
                "suite": "quick", "task": "segmentation", "label": n, "seed": s, "status": "ok",
                "hash": f"{i:02d}{s:014d}", "host": "box", "finished_at": f"2026-12-01T10:{i:02d}",
                "env": {"upbench": "0.1.0", "torch": "2.14.1", "cpu": "Test CPU", "cpu_count": 2,
                        "threads": 1, "git_commit": "abcdef0123456789", "git_dirty": False},
                "config": {"device": "cpu", "seed": s, "upsampler": {"name": n}, "lr": 0.1},
                # a cluster of near-equal GFLOPs and accuracies: the labels must dodge
                "metrics": {"mIoU": 60 + (i % 3) * 0.05 + s * 0.1, "bIoU": 40.0},
                "flops": {"total": 2.2e9 + (i % 4) * 1e6, "input_size": [512, 512]},
                "params": {"total": 1e6}, "latency": {"fps": 100.0, "median_ms": 8 + i * 0.01,
                                                     "input_size": [512, 512]},
                "speed": {"reference": "bilinear",
                          # the reference timed against itself is not exactly 1
                          "ratio": 1.04 if n == "bilinear" else 1 + i / 10,
                          "ratio_samples": [1.0, 1.04, 1.08] if n == "bilinear" else [1 + i / 10]}})
    return out


@pytest.fixture(scope="module")
def rows():
    return aggregate(records())[0]


def test_scatter_has_a_legend_with_every_upsampler_and_labels_that_do_not_overlap(rows):
    import matplotlib.pyplot as plt

    fig = scatter_figure({"segmentation": rows})
    try:
        legend = next(ax.get_legend() for ax in fig.axes if ax.get_legend())
        texts = [t.get_text() for t in legend.get_texts()]
        assert "bilinear (reference)" in texts and set(NAMES[1:]) <= set(texts)
        renderer = fig.canvas.get_renderer()
        for ax in fig.axes[:2]:
            assert ax.xaxis.get_gridlines()[0].get_visible()  # grid on
            boxes = [a.get_window_extent(renderer) for a in ax.texts]
            assert len(boxes) >= len(NAMES) // 2  # most points labelled even in a cluster
            for a, b in itertools.combinations(boxes, 2):
                assert not a.overlaps(b)
        assert fig.get_size_inches()[0] * fig.dpi <= MAX_WIDTH_PX
    finally:
        plt.close(fig)


def test_reference_bar_at_one(rows):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    latency_panel(ax, "segmentation", rows)
    bars = {t.get_text(): p.get_width()
            for t, p in zip(ax.get_yticklabels(), ax.patches, strict=True)}
    assert bars["bilinear (reference)"] == 1.0  # not its noisy self-ratio 1.04
    assert bars["nearest"] == pytest.approx(1.1)
    plt.close(fig)


def test_files_png_and_svg_at_most_1600_px(rows, tmp_path):
    plot(rows, tmp_path / "p.png")
    plot(rows, tmp_path / "p.svg")
    assert Image.open(tmp_path / "p.png").size[0] <= MAX_WIDTH_PX
    assert (tmp_path / "p.svg").read_text().lstrip().startswith("<?xml")
    written = save_task_plots("segmentation", rows, tmp_path / "t")
    for paths in written.values():
        assert [p.suffix for p in paths] == [".png", ".svg"]
        assert Image.open(paths[0]).size[0] <= MAX_WIDTH_PX
    with pytest.raises(ValueError, match=r"known: .png, .svg"):
        check_format("p.jpg")


def test_report_has_the_environment_and_embeds_the_plots(tmp_path):
    page = write_report("quick", "results/quick", records(), tmp_path)
    text = page.read_text()
    env = text[text.index("## Environment"):text.index("## segmentation")]
    for needle in ("| upbench | 0.1.0 |", "| torch | 2.14.1 |", "| device | cpu |",
                   "Test CPU (2 cores)", "| threads | 1 |", "abcdef012345", "2026-12-01 10:00",
                   "| suite hash | "):
        assert needle in env, needle
    assert "![segmentation: primary metric" in text and "-accuracy.png)" in text
    assert "-latency.png)" in text and "[SVG](" in text
    for line in text.splitlines():
        if line.startswith("!["):
            assert (tmp_path / line.split("(")[-1].rstrip(")")).is_file()
