"""Plots of a comparison, per task: the primary metric against GFLOPs and against latency
(scatter, one labelled point per upsampler with seed error bars, a legend), and the latency
ratio against the reference (bars, the reference at 1.00×).

Every figure is at most :data:`MAX_WIDTH_PX` wide and is saved as PNG or SVG by the file's
suffix (:data:`FORMATS`). Point labels are placed where they overlap neither another label nor a
point (:func:`place_labels`); a point with no free spot keeps only its legend entry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from upbench.engine.compare import by_task, task_metrics

DPI = 110
MAX_WIDTH_PX = 1600
FORMATS = (".png", ".svg")
PANEL = (5.6, 4.4)  # inches of one scatter panel
LEGEND_WIDTH = 2.4  # inches of the legend column beside a task's panels
MARKERS = "o^Dv<>PXph*d"
REFERENCE_STYLE = {"color": "black", "marker": "s"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def check_format(path: str | Path) -> str:
    """The image format of ``path`` by its suffix.

    Raises:
        ValueError: a suffix that is not one of :data:`FORMATS` (naming them).
    """
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        from upbench.utils.suggest import unknown_name_message

        raise ValueError(unknown_name_message("plot format", suffix or "(none)", FORMATS)
                         + f"; name the file e.g. {Path(path).stem or 'plot'}.png")
    return suffix[1:]


def styles(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A colour and marker per upsampler (the reference black squares), the same in every panel
    of a task: ten strong colours and eleven markers cycle independently, so no two upsamplers
    of a table share both."""
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    out: dict[str, dict[str, Any]] = {}
    others = [r["upsampler"] for r in rows if r["upsampler"] != r.get("reference")]
    for i, name in enumerate(dict.fromkeys(others)):
        out[name] = {"color": cmap(i % 10), "marker": MARKERS[i % len(MARKERS)]}
    for r in rows:
        if r["upsampler"] == r.get("reference"):
            out[r["upsampler"]] = dict(REFERENCE_STYLE)
    return out


def _metric(task: str, metric: str | None, rows: list[dict[str, Any]]):
    """The metric key to plot and its :class:`Metric` (None for an undeclared scalar): ``metric``
    where the task's results have it, else the task's primary."""
    ms = task_metrics(task)
    if metric is not None and any(metric in r.get("metric_keys", ()) for r in rows):
        return metric, next((x for x in ms if x.key == metric), None)
    m = ms[0] if ms else None
    return (m.key if m else None), m


AXES = {
    "flops": ("GFLOPs", "GFLOPs at {size} (fvcore, 1 FLOP = 1 multiply-add)", "flops_size"),
    "latency": ("latency_ms", "latency in ms (median, batch 1, {size})", "latency_size"),
}


def accuracy_panel(ax, task: str, rows: list[dict[str, Any]], metric: str | None = None,
                   x: str = "flops", style: dict[str, dict[str, Any]] | None = None) -> list:
    """The metric (default the task's primary; mean with seed-std error bars) against GFLOPs
    (``x="flops"``) or latency (``x="latency"``), one marker per upsampler, the reference a
    black square. Returns the points ``(x, y, label)`` for :func:`place_labels`."""
    key, m = _metric(task, metric, rows)
    xkey, xlabel, size_key = AXES[x]
    style = style or styles(rows)
    points = []
    for r in rows:
        if key is None or r.get(key) is None or r.get(xkey) is None:
            continue
        is_ref = r["upsampler"] == r.get("reference")
        st = style[r["upsampler"]]
        ax.errorbar(r[xkey], r[key], yerr=r.get(f"{key}_std") or 0, fmt=st["marker"],
                    color=st["color"], capsize=3, markersize=8 if is_ref else 6, zorder=3,
                    label=f"{r['upsampler']} (reference)" if is_ref else r["upsampler"])
        points.append((r[xkey], r[key], r["upsampler"]))
    sizes = sorted({"×".join(map(str, r[size_key])) for r in rows if r.get(size_key)})
    ax.set_xlabel(xlabel.format(size=", ".join(sizes) or "?"))
    unit = f" ({m.unit})" if m and m.unit else ""
    arrow = f" — {m.direction} is better" if m else ""
    ax.set_ylabel(f"{key}{unit}{arrow}")
    seeds = max((len(r["seeds"]) for r in rows), default=0)
    ax.set_title(f"{task}: {key} vs {'GFLOPs' if x == 'flops' else 'latency'}\n"
                 f"(mean ± std over {seeds} seed{'s' if seeds != 1 else ''})", fontsize=10)
    if not points:
        ax.text(0.5, 0.5, f"no {xkey} measured", ha="center", va="center",
                transform=ax.transAxes, color="grey")
    ax.margins(x=0.12, y=0.12)
    ax.grid(alpha=0.3)
    return points


def place_labels(ax, points: list[tuple[float, float, str]], fontsize: float = 8) -> int:
    """Label each point where the label overlaps no other label, no point and stays inside the
    axes (a few candidate offsets around the point, nearest first); returns how many points
    found no free spot (they keep their legend entry). Call after the layout is final."""
    from matplotlib.transforms import Bbox

    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    inside = ax.get_window_extent(renderer)
    pix = ax.transData.transform([(p[0], p[1]) for p in points]) if points else []
    r = 5.0
    obstacles = [Bbox.from_extents(px - r, py - r, px + r, py + r) for px, py in pix]
    offsets = [(7, 3), (7, -11), (-7, 3), (-7, -11), (0, 9), (0, -17), (14, 12), (14, -20),
               (-14, 12), (-14, -20), (0, 20), (0, -28)]
    taken: list = []
    missed = 0
    order = sorted(range(len(points)), key=lambda i: (-points[i][1], points[i][0]))
    for i in order:
        x, y, text = points[i]
        for dx, dy in offsets:
            ha = "left" if dx > 0 else "right" if dx < 0 else "center"
            far = abs(dx) > 7 or abs(dy) > 11  # a leader line says which point it names
            t = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha,
                            fontsize=fontsize, zorder=4,
                            arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "grey",
                                        "shrinkA": 0, "shrinkB": 4} if far else None)
            bb = t.get_window_extent(renderer)
            clear = (inside.contains(bb.x0, bb.y0) and inside.contains(bb.x1, bb.y1)
                     and not any(bb.overlaps(o) for o in taken)
                     and not any(bb.overlaps(o) for j, o in enumerate(obstacles) if j != i))
            if clear:
                taken.append(bb)
                break
            t.remove()
        else:
            missed += 1
    return missed


def latency_panel(ax, task: str, rows: list[dict[str, Any]],
                  style: dict[str, dict[str, Any]] | None = None) -> None:
    """The latency ratio against the reference (bars, the value written at each; whiskers: the
    inter-quartile range of the per-repeat ratios). The reference is 1.00× by definition: its
    bar is drawn there, its whiskers (the reference timed against itself) show the timing
    noise."""
    style = style or styles(rows)
    rs = [r for r in rows if r.get("latency_ratio") is not None]
    ref_name = next((r.get("latency_ratio_reference") for r in rs
                     if r.get("latency_ratio_reference")), None)

    def value(r: dict[str, Any]) -> float:
        return 1.0 if r["upsampler"] == ref_name else r["latency_ratio"]

    rs.sort(key=value)
    vals = [value(r) for r in rs]
    iqr = [r.get("latency_ratio_iqr") or [value(r)] * 2 for r in rs]
    lo = [max(0.0, v - q[0]) for v, q in zip(vals, iqr, strict=True)]
    hi = [max(0.0, q[1] - v) for v, q in zip(vals, iqr, strict=True)]
    colors = [style.get(r["upsampler"], {}).get("color", "tab:blue") for r in rs]
    names = [f"{r['upsampler']} (reference)" if r["upsampler"] == ref_name else r["upsampler"]
             for r in rs]
    ax.barh(names, vals, xerr=[lo, hi], color=colors, capsize=3, alpha=0.85, zorder=3)
    for y, (v, h) in enumerate(zip(vals, hi, strict=True)):
        ax.text(v + h + 0.02 * max(vals, default=1), y, f"{v:.2f}×", va="center", fontsize=8)
    ax.axvline(1.0, color="black", lw=1, ls="--", zorder=2)
    ax.set_xlim(0, max([*vals, *(v + h for v, h in zip(vals, hi, strict=True))], default=1) * 1.15)
    sizes = sorted({"×".join(map(str, r["latency_size"])) for r in rs if r.get("latency_size")})
    ax.set_xlabel(f"latency / latency of {ref_name or 'the reference'} (batch 1, "
                  f"{', '.join(sizes) or '?'}, timed interleaved) — lower is faster")
    ax.set_title(f"{task}: latency ratio (whiskers: IQR of the repeats)", fontsize=10)
    ax.grid(alpha=0.3, axis="x", zorder=0)


def loss_panel(ax, task: str, records: list[dict[str, Any]], reference: str | None = None
               ) -> None:
    """The training loss curve (``train.loss_curve``) of every ``ok`` cell of one task: one
    colour per upsampler (the mean over its seeds where their curves share iterations), the
    reference black and thick; log scale."""
    curves: dict[str, list[list[list[float]]]] = {}
    for r in records:
        curve = (r.get("train") or {}).get("loss_curve")
        if r.get("status") == "ok" and r.get("task") == task and curve:
            curves.setdefault(r["label"], []).append(curve)
    for label in sorted(curves, key=lambda n: (n == reference, n)):
        runs = curves[label]
        its = [c[0] for c in runs[0]]
        same = [c for c in runs if [p[0] for p in c] == its]
        mean = [sum(c[i][1] for c in same) / len(same) for i in range(len(its))]
        is_ref = label == reference
        ax.plot(its, mean, label=f"{label} ({len(same)} seed{'s' if len(same) > 1 else ''})",
                color="black" if is_ref else None, lw=2.2 if is_ref else 1.1,
                zorder=3 if is_ref else 2)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("training loss (sum of the terms)")
    ax.set_title(f"{task}: training loss")
    if curves:
        ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3, which="both")



def save_loss_plot(task: str, records: list[dict[str, Any]], reference: str | None,
                   path: str | Path) -> Path:
    """:func:`loss_panel` of one task saved to ``path`` (PNG or SVG by its suffix)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=PANEL)
    loss_panel(ax, task, records, reference)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return Path(path)


def _save(fig, path: str | Path) -> None:
    fmt = check_format(path)
    fig.savefig(path, dpi=DPI, format=fmt)


def scatter_figure(groups: dict[str, list[dict[str, Any]]], metric: str | None = None):
    """A figure with a row per task: the metric against GFLOPs, against latency, the legend."""
    plt = _pyplot()
    n = len(groups)
    width = 2 * PANEL[0] + LEGEND_WIDTH
    fig, axes = plt.subplots(n, 3, figsize=(width, PANEL[1] * n), squeeze=False,
                             gridspec_kw={"width_ratios": [PANEL[0], PANEL[0], LEGEND_WIDTH]})
    labelled = []
    for row_axes, (task, trows) in zip(axes, groups.items(), strict=True):
        st = styles(trows)
        pts_f = accuracy_panel(row_axes[0], task, trows, metric, "flops", st)
        pts_l = accuracy_panel(row_axes[1], task, trows, metric, "latency", st)
        handles, labels = row_axes[0].get_legend_handles_labels()
        if not handles:
            handles, labels = row_axes[1].get_legend_handles_labels()
        row_axes[2].axis("off")
        if handles:
            row_axes[2].legend(handles, labels, loc="center left", fontsize=8, frameon=False,
                               title=task, title_fontsize=9)
        labelled += [(row_axes[0], pts_f), (row_axes[1], pts_l)]
    fig.tight_layout()
    for ax, pts in labelled:
        place_labels(ax, pts)
    return fig


def plot(rows: list[dict[str, Any]], path: str | Path, metric: str | None = None) -> None:
    """The metric against GFLOPs and against latency, a row per task, saved to ``path`` (PNG or
    SVG by its suffix)."""
    check_format(path)
    plt = _pyplot()
    fig = scatter_figure(by_task(rows), metric)
    _save(fig, path)
    plt.close(fig)


def save_task_plots(task: str, rows: list[dict[str, Any]], stem: str | Path,
                    metric: str | None = None) -> dict[str, list]:
    """One task's figures, each as ``<stem>-<kind>.png`` and ``.svg``: ``accuracy`` (the
    scatters) and, when latency ratios were measured, ``latency`` (the ratio bars). Returns the
    written paths by kind."""
    plt = _pyplot()
    out: dict[str, list] = {}
    figs = {"accuracy": scatter_figure({task: rows}, metric)}
    if any(r.get("latency_ratio") is not None for r in rows):
        fig, ax = plt.subplots(figsize=(8.5, 1.3 + 0.38 * len(rows)))
        latency_panel(ax, task, rows)
        fig.tight_layout()
        figs["latency"] = fig
    for kind, fig in figs.items():
        out[kind] = []
        for suffix in FORMATS:
            path = Path(f"{stem}-{kind}{suffix}")
            _save(fig, path)
            out[kind].append(path)
        plt.close(fig)
    return out
